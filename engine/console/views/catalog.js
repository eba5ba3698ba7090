// The event catalogue: each event with its serializer and sample; the
// payload a hook of it would receive; superadmins rebind the serializer.

import { api, session } from '../api.js';
import { h, clear, table, json, button, attempt, field } from '../ui.js';

function rebind(event, plugins, refresh) {
  const select = h('select', { name: 'serializer' },
    h('option', { value: '', selected: !event.serializer }, 'none (the data as posted)'),
    plugins.filter((p) => p.active_version !== null).map((p) => h('option', { value: p.name, selected: p.name === event.serializer }, p.name)));
  return h('div', { class: 'actions' }, field(`Serializer of ${event.name}`, select),
    button('Rebind', () => attempt(async () => {
      await api.put(`v1/catalog/events/${encodeURIComponent(event.name)}`, { serializer: select.value || null });
      refresh();
    }, `${event.name} now uses ${select.value || 'no serializer'}.`)));
}

function details(event, plugins, refresh) {
  const payload = h('div', { 'aria-live': 'polite' });
  return h('details', {}, h('summary', {}, 'Sample'),
    h('div', { class: 'split' },
      h('div', {}, h('h3', {}, 'Catalogue sample (the data)'), event.sample ? json(event.sample) : h('p', { class: 'muted' }, 'none')),
      h('div', {}, h('h3', {}, 'Payload a hook receives'),
        button('Show the payload', () => attempt(async () => clear(payload, json(await api.get(`v1/notify/hook/sample?event=${encodeURIComponent(event.name)}`))))),
        payload)),
    session.isAdmin() ? rebind(event, plugins, refresh) : null);
}

export async function render(main) {
  const [events, plugins] = await Promise.all([api.get('v1/catalog/events'), session.isAdmin() ? api.get('v1/plugins') : []]);
  const refresh = () => render(main);
  clear(main,
    h('h1', {}, 'Catalogue'),
    table(['Event', 'Label', 'Kind', 'Serializer', 'Category', 'Description', ''], events.map((e) => [
      h('code', {}, e.name), e.label, e.kind, e.serializer ?? '—', e.category ?? '—', e.description, details(e, plugins, refresh),
    ]), `${events.length} events`));
}
