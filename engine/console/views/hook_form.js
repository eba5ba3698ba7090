// Creating a hook, or changing one: the form sends the fields the API
// takes (POST or PUT /v1/notify/hook/subscribe), and shows a new hook's
// signing secret once.

import { api, session } from '../api.js';
import { h, clear, field, attempt, section, parseJson } from '../ui.js';

const METHODS = ['POST', 'PUT', 'PATCH'];

/// A whole number from an input, or null when it is empty.
function number(input) {
  return input.value === '' ? null : Number(input.value);
}

export async function render(main, params) {
  const editing = params.id !== undefined;
  const [hook, events] = await Promise.all([
    editing ? api.get(`v1/notify/hook/subscribe/${params.id}`) : null,
    api.get('v1/notify/hook/event'),
  ]);
  const v = hook || { method: 'POST', headers: {}, is_active: true };
  const inputs = {
    event: h('select', { name: 'event', required: true }, events.map((e) => h('option', { value: e.event, selected: e.event === v.event }, `${e.event} — ${e.label}`))),
    target: h('input', { name: 'target', type: 'url', required: true, value: v.target || '', placeholder: 'https://…' }),
    service_id: h('input', { name: 'service_id', value: v.service_id || '' }),
    method: h('select', { name: 'method' }, METHODS.map((m) => h('option', { selected: m === v.method }, m))),
    headers: h('textarea', { name: 'headers', rows: 3, class: 'code', spellcheck: false }, JSON.stringify(v.headers || {}, null, 2)),
    max_retries: h('input', { name: 'max_retries', type: 'number', min: 0, value: v.max_retries ?? '' }),
    timeout: h('input', { name: 'timeout', type: 'number', min: 1, value: v.timeout ?? '' }),
    auto_disable_after_failures: h('input', { name: 'auto_disable_after_failures', type: 'number', min: 1, value: v.auto_disable_after_failures ?? '' }),
    max_in_flight: h('input', { name: 'max_in_flight', type: 'number', min: 1, max: 1000, value: v.max_in_flight ?? '' }),
    is_active: h('input', { name: 'is_active', type: 'checkbox', checked: v.is_active }),
    academy: h('input', { name: 'academy', placeholder: 'empty: every academy' }),
  };
  const form = h('form', { class: 'card form', onsubmit: (ev) => {
    ev.preventDefault();
    attempt(async () => {
      const body = {
        event: inputs.event.value,
        target: inputs.target.value.trim(),
        service_id: inputs.service_id.value.trim() || null,
        method: inputs.method.value,
        headers: parseJson(inputs.headers.value || '{}', 'Headers'),
        is_active: inputs.is_active.checked,
        max_retries: number(inputs.max_retries),
        timeout: number(inputs.timeout),
        auto_disable_after_failures: number(inputs.auto_disable_after_failures),
        max_in_flight: number(inputs.max_in_flight),
      };
      if (editing) {
        // Only what changed: a PUT keeps the fields it is not given.
        for (const key of Object.keys(body)) {
          if (JSON.stringify(body[key]) === JSON.stringify(v[key] ?? null)) delete body[key];
        }
        await api.put(`v1/notify/hook/subscribe/${params.id}`, body);
        location.hash = `#/hooks/${params.id}`;
        return;
      }
      if (session.isAdmin() && inputs.academy.value.trim()) body.academy = inputs.academy.value.trim();
      const created = await api.post('v1/notify/hook/subscribe', body);
      clear(main, section(`Hook #${created.id} created`,
        h('p', {}, 'Its signing secret, shown here once (the hook page can reveal it again):'),
        h('code', { class: 'reveal' }, created.secret),
        h('p', {}, h('a', { class: 'button primary', href: `#/hooks/${created.id}` }, 'Open the hook'))));
    });
  } },
  h('h1', {}, editing ? `Edit hook #${params.id}` : 'New hook'),
  field('Event', inputs.event),
  field('Target URL', inputs.target),
  field('Service id', inputs.service_id, 'Optional: which of your services this hook is for.'),
  field('Method', inputs.method),
  field('Headers (JSON object)', inputs.headers, 'Sent with every request; values are stored sealed.'),
  field('Retries', inputs.max_retries, 'Empty: the engine\'s retry schedule.'),
  field('Timeout (seconds)', inputs.timeout, 'Empty: the engine\'s default.'),
  field('Deactivate after this many failures in a row', inputs.auto_disable_after_failures, 'Empty: never.'),
  field('Deliveries in flight at once', inputs.max_in_flight, 'Empty: the engine\'s default.'),
  h('div', { class: 'field check' }, inputs.is_active, h('label', { for: inputs.is_active.id = 'f-active' }, 'Active')),
  session.isAdmin() && !editing ? field('Academy', inputs.academy) : null,
  h('div', { class: 'actions' },
    h('button', { type: 'submit', class: 'primary' }, editing ? 'Save' : 'Create hook'),
    h('a', { class: 'button', href: editing ? `#/hooks/${params.id}` : '#/hooks' }, 'Cancel')));
  clear(main, form);
}
