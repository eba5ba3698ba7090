// Hooks: every hook the token may see, with health, success rate and the
// last five attempts; filters by academy (superadmins), event, service and
// text; paginated.

import { api, query, session } from '../api.js';
import { h, clear, field, table, health, rate, attemptIcons, pager, when } from '../ui.js';

const LIMIT = 20;

function go(params) {
  location.hash = `#/hooks${query(params)}`;
}

function filters(params, events) {
  const input = (name, label, attrs = {}) => field(label, h('input', { name, value: params[name] || '', ...attrs }));
  const event = h('select', { name: 'event' }, h('option', { value: '' }, 'Any event'),
    events.map((e) => h('option', { value: e.event, selected: e.event === params.event }, e.event)));
  const form = h('form', { class: 'filters', role: 'search', onsubmit: (ev) => {
    ev.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    go({ ...data, offset: 0 });
  } },
  session.isAdmin() ? input('academy', 'Academy') : null,
  field('Event', event),
  input('service_id', 'Service'),
  input('like', 'Search', { type: 'search', placeholder: 'event or URL' }),
  h('button', { type: 'submit' }, 'Filter'));
  return form;
}

export async function render(main, params) {
  const offset = Number(params.offset || 0);
  const [page, events, healthOf] = await Promise.all([
    api.get(`v1/notify/hook/subscribe${query({ academy: params.academy, event: params.event, service_id: params.service_id, like: params.like, limit: LIMIT, offset })}`),
    api.get('v1/notify/hook/event'),
    api.get('v1/notify/hook/health'),
  ]);
  const byId = new Map(healthOf.results.map((r) => [r.id, r]));
  const recent = await Promise.all(page.results.map((hook) =>
    api.get(`v1/notify/hook/${hook.id}/deliveries?limit=5`).then((p) => p.results, () => [])));
  const rows = page.results.map((hook, i) => {
    const state = byId.get(hook.id);
    return [
      h('a', { href: `#/hooks/${hook.id}` }, `#${hook.id}`),
      session.isAdmin() ? hook.academy ?? '(all)' : null,
      hook.event,
      h('span', { class: 'url' }, hook.target),
      hook.service_id ?? '—',
      hook.is_active ? 'active' : h('span', { class: 'muted' }, 'inactive'),
      state ? health(state.health) : '—',
      state ? rate(state.success_rate) : '—',
      attemptIcons(recent[i]),
      when(hook.last_call_at),
    ].filter((c) => c !== null);
  });
  const columns = ['Hook', session.isAdmin() ? 'Academy' : null, 'Event', 'Target', 'Service', 'State', 'Health', 'Success', 'Last 5', 'Last call']
    .filter((c) => c !== null);
  clear(main,
    h('div', { class: 'title' }, h('h1', {}, 'Hooks'), h('a', { class: 'button primary', href: '#/hooks/new' }, 'New hook')),
    filters(params, events),
    table(columns, rows, `${page.count} hooks`),
    pager(page.count, offset, LIMIT, (next) => go({ ...params, id: undefined, path: undefined, offset: next })));
}
