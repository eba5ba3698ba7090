// One hook: its settings and actions (activate, test, reset counters,
// delete), its signing secret, its transformer with a dry run, and its
// delivery log with replays.

import { api, query } from '../api.js';
import { h, clear, section, button, table, json, when, health, rate, attemptIcons, attempt, pager, field, textarea, parseJson, dryRunReport } from '../ui.js';

const LIMIT = 20;

function settings(hook) {
  const rows = [
    ['Event', hook.event],
    ['Target', h('span', { class: 'url' }, `${hook.method} ${hook.target}`)],
    ['Academy', hook.academy ?? '(every academy)'],
    ['Service', hook.service_id ?? '—'],
    ['Headers', Object.keys(hook.headers).length ? Object.keys(hook.headers).join(', ') : '—'],
    ['Retries', hook.max_retries ?? 'engine default'],
    ['Timeout (s)', hook.timeout ?? 'engine default'],
    ['Deactivate after failures', hook.auto_disable_after_failures ?? 'never'],
    ['In flight at once', hook.max_in_flight ?? 'engine default'],
    ['Calls', `${hook.total_calls} (${hook.successes} succeeded, ${hook.consecutive_failures} failed in a row)`],
    ['Last call', h('span', {}, when(hook.last_call_at), hook.last_response_code ? ` (${hook.last_response_code})` : '')],
    ['Created', when(hook.created_at)],
    ['Updated', when(hook.updated_at)],
  ];
  return h('dl', { class: 'props' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function secretBox(id) {
  const out = h('div', { class: 'secret', 'aria-live': 'polite' });
  const show = (s) => clear(out, h('code', { class: 'reveal' }, s.secret),
    s.previous_secret_expires_at ? h('p', { class: 'muted' }, 'The previous secret signs beside it until ', when(s.previous_secret_expires_at), '.') : null);
  return section('Signing secret',
    h('p', {}, 'Receivers verify the webhook-signature header with it (Standard Webhooks).'),
    h('div', { class: 'actions' },
      button('Reveal secret', () => attempt(async () => show(await api.get(`v1/notify/hook/subscribe/${id}/secret`)))),
      button('Rotate secret', () => confirm('Rotate the signing secret? The old one keeps signing beside the new one for a while.')
        && attempt(async () => show(await api.post(`v1/notify/hook/subscribe/${id}/secret/rotate`)), 'Secret rotated.'))),
    out);
}

function testResult(result) {
  return h('div', { class: 'result' },
    h('p', {}, result.error ? h('strong', { class: 'error' }, `Failed: ${result.error}`)
      : h('strong', {}, `Answered ${result.status} in ${result.duration_ms} ms`)),
    h('div', { class: 'split' },
      h('div', {}, h('h3', {}, 'Request'), json(result.request.body)),
      h('div', {}, h('h3', {}, 'Response'), json(result.response_body ?? ''))));
}

function transformer(hook, refresh) {
  const id = hook.id;
  const file = h('input', { type: 'file', accept: '.wasm,application/wasm' });
  const attach = () => attempt(async () => {
    if (!file.files[0]) throw new Error('Choose a .wasm component first.');
    await api.put(`v1/notify/hook/subscribe/${id}/transformer`, file.files[0]);
    refresh();
  }, 'Transformer attached.');
  const payload = textarea('', 10, 'Payload to transform');
  const output = h('div', { class: 'dry-run-output', 'aria-live': 'polite' });
  const run = () => attempt(async () => {
    const report = await api.post(`v1/notify/hook/subscribe/${id}/transformer/test`, { payload: parseJson(payload.value, 'The payload') });
    clear(output, dryRunReport(report));
  });
  if (hook.transformer) {
    // The hook's sample, unless the user typed first.
    api.get(`v1/notify/hook/${id}/sample`).then((sample) => { payload.value ||= JSON.stringify(sample, null, 2); }, () => {});
  }
  return section('Transformer',
    hook.transformer
      ? h('p', {}, `Attached: ${hook.transformer.size} bytes, sha256 ${hook.transformer.sha256.slice(0, 16)}…, uploaded `, when(hook.transformer.uploaded_at), '. ',
        button('Detach', () => confirm('Detach the transformer?') && attempt(async () => { await api.del(`v1/notify/hook/subscribe/${id}/transformer`); refresh(); }, 'Transformer detached.')))
      : h('p', { class: 'muted' }, 'None: requests are sent as the event\'s payload.'),
    h('div', { class: 'actions' }, field('Component (.wasm, hook-transformer)', file), button('Upload and attach', attach)),
    hook.transformer ? h('div', { class: 'dry-run split' },
      h('div', {}, field('Payload (JSON)', payload), button('Dry run', run, 'primary')),
      h('div', {}, h('h3', {}, 'Result'), output)) : null);
}

function delivery(a, replay) {
  const status = a.response_status ?? (a.error ? 'error' : '—');
  return h('details', { class: 'delivery' },
    h('summary', {},
      attemptIcons([a]), ` #${a.delivery_id} · attempt ${a.attempt} · ${a.event} · ${status} · ${a.duration_ms} ms · `, when(a.sent_at)),
    h('div', { class: 'split' },
      h('div', {}, h('h3', {}, 'Request'), table(['Header', 'Value'], a.request_headers.map(([k, v]) => [k, v])), json(a.payload)),
      h('div', {}, h('h3', {}, `Response ${a.response_status ?? ''}`), a.error ? h('p', { class: 'error' }, a.error) : null, json(a.response_body ?? ''))),
    h('p', { class: 'muted' }, `webhook-id ${a.webhook_id}, event ${a.event_id}`,
      a.next_attempt_at ? h('span', {}, '; next attempt ', when(a.next_attempt_at)) : ''),
    button('Replay this delivery', () => replay(a.delivery_id)));
}

async function deliveries(id, offset, box) {
  const page = await api.get(`v1/notify/hook/${id}/deliveries${query({ limit: LIMIT, offset })}`);
  const replay = (deliveryId) => attempt(() => api.post(`v1/notify/hook/${id}/deliveries/${deliveryId}/retry`),
    (r) => `Delivery ${deliveryId} queued again as delivery ${r.delivery_id}.`);
  const since = h('input', { type: 'datetime-local', name: 'since' });
  const until = h('input', { type: 'datetime-local', name: 'until' });
  const iso = (input) => (input.value ? new Date(input.value).toISOString() : null);
  // At most 1000 per call: the next call starts where this one stopped.
  const local = (time) => new Date(new Date(time).getTime() - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 19);
  const replayFailed = () => attempt(async () => {
    const r = await api.post(`v1/notify/hook/${id}/deliveries/retry-failed`, { since: iso(since), until: iso(until) });
    if (r.more) since.value = local(r.next_since);
    return r;
  }, (r) => `${r.replayed} failed deliveries queued again${r.more ? '; more remain: replay again to go on from where it stopped' : ''}.`);
  clear(box,
    h('div', { class: 'actions' }, field('Failed since', since), field('until', until), button('Replay failed deliveries', replayFailed),
      button('Refresh the log', () => attempt(() => deliveries(id, offset, box)))),
    h('p', { class: 'muted' }, `${page.count} attempts, newest first.`),
    page.results.map((a) => delivery(a, replay)),
    pager(page.count, offset, LIMIT, (next) => deliveries(id, next, box)));
}

export async function render(main, params) {
  const id = Number(params.id);
  const refresh = () => render(main, params);
  const [hook, healthOf] = await Promise.all([api.get(`v1/notify/hook/subscribe/${id}`), api.get('v1/notify/hook/health')]);
  const state = healthOf.results.find((r) => r.id === id);
  const testOut = h('div', { 'aria-live': 'polite' });
  const log = h('div', {});
  const actions = h('div', { class: 'actions' },
    h('a', { class: 'button', href: `#/hooks/${id}/edit` }, 'Edit'),
    button(hook.is_active ? 'Deactivate' : 'Activate', () => attempt(async () => {
      await api.put(`v1/notify/hook/subscribe/${id}`, { is_active: !hook.is_active });
      refresh();
    })),
    button('Send test event', () => attempt(async () => clear(testOut, testResult(await api.post(`v1/notify/hook/subscribe/${id}/test`))))),
    button('Reset counters', () => confirm('Reset this hook\'s counters? Its delivery log is kept.')
      && attempt(async () => { await api.post(`v1/notify/hook/subscribe/${id}/stats/reset`); refresh(); }, 'Counters reset.')),
    button('Delete', () => confirm(`Delete hook #${id}? This cannot be undone.`) && attempt(async () => {
      await api.del(`v1/notify/hook/subscribe/${id}`);
      location.hash = '#/hooks';
    }, `Hook #${id} deleted.`), 'danger'));
  clear(main,
    h('p', {}, h('a', { href: '#/hooks' }, '← Hooks')),
    h('div', { class: 'title' }, h('h1', {}, `Hook #${id}`),
      h('span', { class: 'badges' }, state ? health(state.health) : null, state ? rate(state.success_rate) : null,
        hook.is_active ? h('span', { class: 'badge' }, 'active') : h('span', { class: 'badge inactive' }, 'inactive'))),
    actions, testOut,
    section('Settings', settings(hook)),
    secretBox(id),
    transformer(hook, refresh),
    section('Deliveries', log));
  await deliveries(id, 0, log);
}
