// The operator's overview: the queue and its lag, traffic over the last
// hour, and hooks by health (GET /v1/admin/status, /v1/admin/activity).

import { api } from '../api.js';
import { h, clear, section, health, rate, table, when, onLeave } from '../ui.js';

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

/// Events and deliveries per minute over the last hour, as two lines.
function chart(minutes) {
  const width = 600, height = 140, pad = 24;
  const series = [
    ['events', 'Events accepted', 'line-events'],
    ['deliveries', 'Delivery attempts', 'line-deliveries'],
    ['failed', 'Failed attempts', 'line-failed'],
  ];
  const top = Math.max(1, ...minutes.flatMap((m) => series.map(([key]) => m[key])));
  const x = (i) => pad + (i * (width - 2 * pad)) / Math.max(1, minutes.length - 1);
  const y = (v) => height - pad - (v * (height - 2 * pad)) / top;
  const lines = series.map(([key, , cls]) =>
    svg('polyline', { class: cls, fill: 'none', points: minutes.map((m, i) => `${x(i)},${y(m[key])}`).join(' ') }));
  const total = (key) => minutes.reduce((sum, m) => sum + m[key], 0);
  const summary = series.map(([key, label]) => `${label}: ${total(key)}`).join(', ');
  const figure = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `Last hour, per minute. ${summary}.`, class: 'chart' },
    svg('line', { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, class: 'axis' }),
    svg('text', { x: pad, y: 14, class: 'tick' }, `${top}/min`),
    svg('text', { x: pad, y: height - 6, class: 'tick' }, '−60 min'),
    svg('text', { x: width - pad, y: height - 6, class: 'tick', 'text-anchor': 'end' }, 'now'),
    ...lines);
  const legend = h('ul', { class: 'legend' }, series.map(([key, label, cls]) =>
    h('li', {}, h('span', { class: `swatch ${cls}`, 'aria-hidden': 'true' }), `${label}: ${total(key)}`)));
  return h('figure', {}, figure, legend);
}

function stat(label, value, cls) {
  return h('div', { class: `stat ${cls || ''}` }, h('span', { class: 'value' }, value), h('span', { class: 'label' }, label));
}

async function draw(main) {
  const [status, activity] = await Promise.all([api.get('v1/admin/status'), api.get('v1/admin/activity')]);
  const { queue, hooks } = status;
  const lastMinutes = activity.minutes.slice(-5);
  const perSecond = (key) => (lastMinutes.reduce((s, m) => s + m[key], 0) / (lastMinutes.length * 60)).toFixed(2);
  const worst = status.results.filter((r) => r.health === 'critical' || r.health === 'warning')
    .sort((a, b) => (a.success_rate ?? 100) - (b.success_rate ?? 100)).slice(0, 10);
  clear(main,
    h('h1', {}, 'Overview'),
    h('div', { class: 'stats' },
      stat('queued deliveries', queue.depth),
      stat('queue lag (oldest due, s)', queue.oldest_wait_seconds, queue.oldest_wait_seconds > 60 ? 'health-warning' : ''),
      stat('events/s (last 5 min)', perSecond('events')),
      stat('deliveries/s (last 5 min)', perSecond('deliveries'))),
    section('Last hour', chart(activity.minutes),
      h('p', { class: 'muted' }, 'Counted by this engine since it started (with several engines on one database, each counts its own).')),
    section('Hooks by health',
      h('div', { class: 'stats' },
        stat('healthy', hooks.healthy, 'health-healthy'),
        stat('warning', hooks.warning, 'health-warning'),
        stat('critical', hooks.critical, 'health-critical'),
        stat('no attempts yet', hooks.unknown),
        stat('active of all', `${hooks.active}/${hooks.total}`)),
      h('p', { class: 'muted' }, `Judged on each hook's last ${status.health_rule.window} attempts: healthy from ${status.health_rule.healthy_from} %, warning from ${status.health_rule.warning_from} %.`),
      worst.length ? table(['Hook', 'Academy', 'Event', 'Health', 'Success', 'Last call'], worst.map((r) => [
        h('a', { href: `#/hooks/${r.id}` }, `#${r.id}`), r.academy ?? '(all)', r.event, health(r.health), rate(r.success_rate), when(r.last_call_at),
      ]), 'Hooks needing attention') : h('p', {}, 'No hook needs attention.')));
}

export async function render(main) {
  await draw(main);
  const timer = setInterval(() => draw(main).catch(() => {}), 10000);
  onLeave(() => clearInterval(timer));
}
