// Hook errors (serializer and transformer failures, refused events),
// grouped by cause: the message with its numbers and quoted values blanked,
// so one fault shows as one group however many events it hit.

import { api } from '../api.js';
import { h, clear, table, when, section } from '../ui.js';

// The most recent errors grouped (the API keeps them for the retention period).
const LIMIT = 1000;

function cause(message) {
  return message.replace(/"[^"]*"/g, '"…"').replace(/\d+/g, 'N');
}

export async function render(main) {
  const page = await api.get(`v1/notify/hook/errors?limit=${LIMIT}`);
  const groups = new Map();
  for (const error of page.results) {
    const key = cause(error.message);
    const group = groups.get(key) || { cause: key, errors: [], events: new Set(), hooks: new Set() };
    group.errors.push(error);
    group.events.add(error.event);
    if (error.hook_id) group.hooks.add(error.hook_id);
    groups.set(key, group);
  }
  const sorted = [...groups.values()].sort((a, b) => b.errors.length - a.errors.length);
  clear(main,
    h('h1', {}, 'Errors'),
    h('p', { class: 'muted' }, `${page.count} hook errors in all${page.count > LIMIT ? `, the latest ${LIMIT} grouped` : ''}, by cause.`),
    sorted.length ? sorted.map((g) => section(`${g.errors.length} × ${g.cause}`,
      h('p', {}, `Events: ${[...g.events].join(', ')}. Hooks: `,
        g.hooks.size ? [...g.hooks].map((id, i) => [i ? ', ' : '', h('a', { href: `#/hooks/${id}` }, `#${id}`)]) : '—',
        '. Last: ', when(g.errors[0].at), '.'),
      h('details', {}, h('summary', {}, 'Occurrences'),
        table(['When', 'Academy', 'Event', 'Event id', 'Message'], g.errors.slice(0, 50).map((e) => [
          when(e.at), e.academy ?? '—', e.event, e.event_id ?? '—', e.message,
        ]))))) : h('p', {}, 'No hook errors.'));
}
