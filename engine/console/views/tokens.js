// API tokens: create one (shown once), list them, revoke one.

import { api } from '../api.js';
import { h, clear, table, when, button, attempt, field, section } from '../ui.js';

export async function render(main) {
  const tokens = await api.get('v1/admin/tokens');
  const refresh = () => render(main);
  const name = h('input', { name: 'name', required: true });
  const role = h('select', { name: 'role' }, ['academy', 'service', 'superadmin'].map((r) => h('option', { value: r }, r)));
  const academy = h('input', { name: 'academy' });
  const created = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'actions', onsubmit: (ev) => {
    ev.preventDefault();
    attempt(async () => {
      const body = { name: name.value.trim(), role: role.value, academy: role.value === 'academy' ? academy.value.trim() : null };
      const made = await api.post('v1/admin/tokens', body);
      await refresh();
      clear(document.getElementById('token-created'), h('p', {}, `Token ${made.name}, shown once — copy it now:`), h('code', { class: 'reveal' }, made.token));
    });
  } }, field('Name', name), field('Role', role), field('Academy (academy tokens)', academy), h('button', { type: 'submit', class: 'primary' }, 'Create token'));
  created.id = 'token-created';
  clear(main,
    h('h1', {}, 'Tokens'),
    section('Create a token', form, created),
    table(['Id', 'Name', 'Role', 'Academy', 'Created', ''], tokens.map((t) => [
      t.id, t.name, t.role, t.academy ?? '—', when(t.created_at),
      button(`Revoke ${t.name}`, () => confirm(`Revoke token ${t.name}? Clients using it are refused at once.`)
        && attempt(async () => { await api.del(`v1/admin/tokens/${t.id}`); await refresh(); }, `Token ${t.name} revoked.`), 'danger'),
    ]), 'Tokens (the bootstrap admin token is not listed)'));
}
