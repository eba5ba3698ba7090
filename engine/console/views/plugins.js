// Serializer plugins: versions with their sizes, calls, errors, duration
// histogram and breaker; upload, activate and roll back; a dry run with the
// decision, payload and logs beside the input.

import { api, query } from '../api.js';
import { h, clear, section, table, when, button, attempt, field, textarea, parseJson, dryRunReport } from '../ui.js';

function upload(nameInput, file, done) {
  return () => attempt(async () => {
    const name = nameInput.value.trim();
    if (!name) throw new Error('Give the plugin a name.');
    if (!file.files[0]) throw new Error('Choose a .wasm component first.');
    const version = await api.post(`v1/plugins/${encodeURIComponent(name)}`, file.files[0]);
    done(name, version);
    return version;
  }, (v) => `Uploaded ${v.name} version ${v.version} (not active yet).`);
}

async function list(main) {
  const plugins = await api.get('v1/plugins');
  const name = h('input', { name: 'name', pattern: '[A-Za-z0-9_-]+' });
  const file = h('input', { type: 'file', accept: '.wasm,application/wasm' });
  clear(main,
    h('h1', {}, 'Plugins'),
    table(['Plugin', 'Kind', 'Active version', 'Versions'], plugins.map((p) => [
      h('a', { href: `#/plugins/${p.name}` }, p.name),
      p.bundled ? 'bundled' : 'uploaded',
      p.active_version ?? 'none',
      p.versions.length,
    ]), 'Serializers'),
    section('Upload a serializer',
      h('div', { class: 'actions' }, field('Name', name), field('Component (.wasm, serializer)', file),
        button('Upload', upload(name, file, (n) => { location.hash = `#/plugins/${n}`; }), 'primary'))));
}

/// The duration histogram of a version's calls, as bars.
function histogram(buckets) {
  const total = buckets.reduce((s, b) => s + b.count, 0);
  if (!total) return h('span', { class: 'muted' }, 'no calls');
  const top = Math.max(...buckets.map((b) => b.count));
  const label = (b) => (b.le_us === null ? 'more' : b.le_us >= 1000 ? `≤${b.le_us / 1000} ms` : `≤${b.le_us} µs`);
  return h('div', { class: 'histogram', role: 'img', 'aria-label': buckets.map((b) => `${label(b)}: ${b.count}`).join(', ') },
    buckets.map((b) => {
      const bar = h('span', { class: 'bar' });
      bar.style.height = `${Math.round((b.count / top) * 100)}%`;
      return h('span', { class: 'col', title: `${label(b)}: ${b.count}` }, bar, h('span', { class: 'tick' }, label(b)));
    }));
}

function dryRun(name, versions, events) {
  const event = h('select', { name: 'event' }, events.map((e) => h('option', { value: e.name, selected: e.serializer === name }, e.name)));
  const version = h('select', { name: 'version' }, versions.map((v) => h('option', { value: v.version, selected: v.active }, `version ${v.version}${v.active ? ' (active)' : ''}`)));
  const academy = h('input', { name: 'academy' });
  const data = textarea('', 12, 'Event data');
  const output = h('div', { 'aria-live': 'polite' });
  const fill = () => {
    const e = events.find((x) => x.name === event.value);
    data.value = JSON.stringify(e?.sample ?? {}, null, 2);
  };
  event.addEventListener('change', fill);
  fill();
  const run = () => attempt(async () => {
    const body = { event: event.value, academy: academy.value.trim() || null, data: parseJson(data.value, 'The data') };
    clear(output, dryRunReport(await api.post(`v1/plugins/${name}/test${query({ version: version.value })}`, body)));
  });
  return section('Dry run',
    h('p', { class: 'muted' }, 'Runs the plugin as ingestion would, under its limits; stores, delivers and counts nothing.'),
    h('div', { class: 'split dry-run' },
      h('div', {}, field('Event', event), field('Version', version), field('Academy', academy), field('Data (JSON)', data),
        button('Run', run, 'primary')),
      h('div', {}, h('h3', {}, 'Result'), output)));
}

async function detail(main, name) {
  const [plugin, events] = await Promise.all([api.get(`v1/plugins/${name}`), api.get('v1/catalog/events')]);
  const refresh = () => detail(main, name);
  const activate = (v) => () => attempt(async () => { await api.post(`v1/plugins/${name}/activate`, { version: v }); await refresh(); },
    `Version ${v} is now active.`);
  const verb = (v) => (plugin.active_version !== null && v < plugin.active_version ? 'Roll back to' : 'Activate');
  const file = h('input', { type: 'file', accept: '.wasm,application/wasm' });
  const usedBy = events.filter((e) => e.serializer === name).map((e) => e.name);
  clear(main,
    h('p', {}, h('a', { href: '#/plugins' }, '← Plugins')),
    h('h1', {}, `Plugin ${name}`),
    h('p', {}, `${plugin.bundled ? 'Bundled' : 'Uploaded'}; active version ${plugin.active_version ?? 'none'}; used by ${usedBy.length ? usedBy.join(', ') : 'no event'}; ${plugin.parked} parked events.`),
    table(['Version', 'Size', 'Uploaded', 'Calls', 'Errors', 'Refused', 'Durations', 'Breaker', ''], plugin.versions.map((v) => [
      `${v.version}${v.active ? ' (active)' : ''}`,
      `${v.size} B`,
      when(v.uploaded_at),
      v.calls,
      v.errors,
      v.refused,
      histogram(v.durations),
      v.breaker.open ? h('span', { class: 'badge health-critical' }, 'open') : `closed (${v.breaker.consecutive_failures} failures)`,
      v.active ? '' : button(`${verb(v.version)} version ${v.version}`, activate(v.version)),
    ]), 'Versions (calls since the engine started)'),
    section('Upload a new version',
      h('div', { class: 'actions' }, field('Component (.wasm, serializer)', file), button('Upload', upload({ value: name }, file, () => refresh())))),
    dryRun(name, plugin.versions, events),
    section('Limits', table(['', 'Deadline (ms)', 'Memory (bytes)', 'Input (bytes)', 'Output (bytes)'], [
      ['in force', plugin.limits.deadline_ms, plugin.limits.max_memory, plugin.limits.max_input, plugin.limits.max_output],
      ['most allowed', plugin.max_limits.deadline_ms, plugin.max_limits.max_memory, plugin.max_limits.max_input, plugin.max_limits.max_output],
    ])));
}

export async function render(main, params) {
  return params.id ? detail(main, params.id) : list(main);
}
