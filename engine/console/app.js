// The console's shell: sign-in, the navigation, and the hash routes that
// pick a view. Each view is `render(main, params)` in views/.

import { session, ApiError } from './api.js';
import { h, clear, field, notify, leave } from './ui.js';
import * as overview from './views/overview.js';
import * as hooks from './views/hooks.js';
import * as hook from './views/hook.js';
import * as hookForm from './views/hook_form.js';
import * as errors from './views/errors.js';
import * as plugins from './views/plugins.js';
import * as catalog from './views/catalog.js';
import * as tokens from './views/tokens.js';

// Pattern → view; `admin`: superadmin tokens only.
const routes = [
  { path: /^\/$/, view: overview, admin: true },
  { path: /^\/hooks$/, view: hooks },
  { path: /^\/hooks\/new$/, view: hookForm },
  { path: /^\/hooks\/(\d+)$/, view: hook },
  { path: /^\/hooks\/(\d+)\/edit$/, view: hookForm },
  { path: /^\/errors$/, view: errors },
  { path: /^\/plugins$/, view: plugins, admin: true },
  { path: /^\/plugins\/([\w-]+)$/, view: plugins, admin: true },
  { path: /^\/catalog$/, view: catalog },
  { path: /^\/tokens$/, view: tokens, admin: true },
];

const sections = [
  ['#/', 'Overview', true],
  ['#/hooks', 'Hooks'],
  ['#/errors', 'Errors'],
  ['#/plugins', 'Plugins', true],
  ['#/catalog', 'Catalogue'],
  ['#/tokens', 'Tokens', true],
];

function shell() {
  const me = session.me();
  const nav = document.getElementById('nav');
  const who = document.getElementById('who');
  nav.hidden = who.hidden = !me;
  if (!me) return;
  const here = location.hash.split('?')[0] || '#/';
  clear(nav, sections.filter(([, , admin]) => !admin || session.isAdmin()).map(([href, label]) =>
    h('a', { href, 'aria-current': (href === '#/' ? here === '#/' : here.startsWith(href)) ? 'page' : null }, label)));
  document.getElementById('who-name').textContent = me.role === 'superadmin' ? 'Superadmin' : `Academy ${me.academy}`;
}

function signIn(main) {
  const token = h('input', { type: 'password', autocomplete: 'off', required: true, name: 'token' });
  const form = h('form', { class: 'card signin', onsubmit: async (event) => {
    event.preventDefault();
    notify('');
    try {
      await session.signIn(token.value.trim());
      go(session.isAdmin() ? '#/' : '#/hooks');
    } catch (error) {
      notify(error instanceof ApiError ? error.message : String(error));
    }
  } },
  h('h1', {}, 'Sign in'),
  h('p', {}, 'Use an API token: a superadmin token sees every academy, an academy token its own hooks. ',
    'The token is kept for this tab only and forgotten when you sign out or close it.'),
  field('API token', token),
  h('button', { type: 'submit', class: 'primary' }, 'Sign in'));
  clear(main, form);
  token.focus();
}

export async function route() {
  leave();
  const main = document.getElementById('main');
  shell();
  if (!session.token()) {
    return signIn(main);
  }
  const [path, search] = (location.hash.slice(1) || '/').split('?');
  const params = Object.fromEntries(new URLSearchParams(search || ''));
  const found = routes.find((r) => r.path.test(path) && (!r.admin || session.isAdmin()));
  if (!found) {
    go(session.isAdmin() ? '#/' : '#/hooks');
    return undefined;
  }
  params.id = path.match(found.path)[1];
  params.path = path;
  clear(main, h('p', { class: 'muted' }, 'Loading…'));
  try {
    await found.view.render(main, params);
  } catch (error) {
    clear(main, h('p', { class: 'error' }, error.message));
  }
  return undefined;
}

/// Shows `hash`: a new hash renders through `hashchange`, the same one here.
function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function signOut() {
  session.signOut();
  notify('');
  go('#/');
}

document.getElementById('sign-out').addEventListener('click', signOut);
window.addEventListener('signed-out', () => { notify('The token is no longer valid: sign in again.'); route(); });
window.addEventListener('hashchange', () => { notify(''); route(); });
route();
