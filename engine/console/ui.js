// Small DOM helpers shared by the views: an element builder (text is always
// set as text, never parsed as HTML), tables, JSON blocks, health badges,
// pagination and the notice line where the API's errors are shown.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key in el && typeof value !== 'string') el[key] = value;
    else el.setAttribute(key, value === true ? '' : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let nextId = 0;
/// A labelled form field: `control` gets an id its label points at.
export function field(label, control, hint) {
  control.id ||= `f${++nextId}`;
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, hint && h('small', { class: 'muted' }, hint));
}

export function table(columns, rows, caption) {
  return h('div', { class: 'scroll' },
    h('table', {},
      caption && h('caption', {}, caption),
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows.length ? rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c))))
        : h('tr', {}, h('td', { colspan: columns.length, class: 'muted' }, 'Nothing yet.')))));
}

/// A JSON value (or JSON text) pretty-printed; other text as it is.
export function json(value) {
  let text = value;
  if (typeof value === 'string') {
    try { text = JSON.stringify(JSON.parse(value), null, 2); } catch { text = value; }
  } else {
    text = JSON.stringify(value, null, 2);
  }
  return h('pre', { class: 'json', tabindex: '0' }, text ?? '');
}

export function when(time) {
  if (!time) return '—';
  const d = new Date(time);
  return h('time', { datetime: time, title: time }, d.toLocaleString());
}

export function health(state) {
  return h('span', { class: `badge health-${state}` }, state);
}

/// The outcomes of a hook's latest attempts, newest first, as icons.
export function attemptIcons(attempts) {
  const icon = (a) => {
    const ok = a.outcome === 'succeeded';
    const label = `${a.outcome}${a.response_status ? ` (${a.response_status})` : ''}`;
    return h('span', { class: `dot ${a.outcome}`, title: label, role: 'img', 'aria-label': label }, ok ? '✓' : a.outcome === 'cancelled' ? '–' : '✕');
  };
  return h('span', { class: 'dots' }, attempts.length ? attempts.map(icon) : h('span', { class: 'muted' }, 'none'));
}

export function rate(value) {
  if (value === null || value === undefined) return '—';
  const level = value >= 95 ? 'healthy' : value >= 80 ? 'warning' : 'critical';
  return h('span', { class: `rate health-${level}` }, `${value} %`);
}

/// Previous/next links over a `{count, results}` page of `limit` items.
export function pager(count, offset, limit, go) {
  if (count <= limit) return null;
  const last = Math.ceil(count / limit);
  const page = Math.floor(offset / limit) + 1;
  return h('nav', { class: 'pager', 'aria-label': 'Pages' },
    h('button', { type: 'button', disabled: offset === 0, onclick: () => go(Math.max(0, offset - limit)) }, '← Previous'),
    h('span', {}, `Page ${page} of ${last} (${count})`),
    h('button', { type: 'button', disabled: offset + limit >= count, onclick: () => go(offset + limit) }, 'Next →'));
}

export function notify(message, kind = 'error') {
  const box = document.getElementById('notice');
  clear(box, message ? h('p', { class: kind }, message) : null);
}

/// Runs `action`; shows its error's detail (the API's) in the notice line.
export async function attempt(action, done) {
  notify('');
  try {
    const result = await action();
    if (done) notify(typeof done === 'function' ? done(result) : done, 'ok');
    return result;
  } catch (error) {
    notify(error.message);
    return undefined;
  }
}

export function button(label, onclick, kind) {
  return h('button', { type: 'button', class: kind, onclick }, label);
}

export function section(title, ...children) {
  return h('section', { class: 'card' }, h('h2', {}, title), ...children);
}

export function textarea(value, rows = 10, label) {
  return h('textarea', { rows, spellcheck: false, class: 'code', 'aria-label': label }, value);
}

/// The JSON in a textarea, or an error naming it.
export function parseJson(text, name) {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${name} is not valid JSON: ${error.message}`);
  }
}

// What a view started that must stop when the route changes (polling).
let leaving = [];
export function onLeave(stop) {
  leaving.push(stop);
}
export function leave() {
  for (const stop of leaving) stop();
  leaving = [];
}

/// A dry run's report: the decision, what it made, its logs and cost.
export function dryRunReport(report) {
  const outcome = report.outcome;
  return h('div', { class: 'report' },
    h('p', {}, h('strong', { class: `decision ${outcome.decision}` }, outcome.decision),
      ` in ${report.duration_us} µs, peak memory ${report.peak_memory ?? '—'} bytes`),
    outcome.error ? h('p', { class: 'error' }, outcome.error) : null,
    outcome.reason ? h('p', {}, `Reason: ${outcome.reason}`) : null,
    outcome.payload !== undefined ? [h('h3', {}, 'Payload'), json(outcome.payload)] : null,
    outcome.request ? [h('h3', {}, 'Request'), json(outcome.request)] : null,
    outcome.follow_ups?.length ? [h('h3', {}, 'Follow-ups'), json(outcome.follow_ups)] : null,
    h('h3', {}, 'Logs'), report.logs?.length ? json(report.logs) : h('p', { class: 'muted' }, 'No logs.'));
}
