// The JSON API as the console calls it: every request carries the token the
// user signed in with, kept in this tab's sessionStorage only (never a
// cookie), and every error is the API's own {detail, slug, status_code}.

const TOKEN = 'wasmhook.token';
const ME = 'wasmhook.me';

export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.detail ? body.detail : `The engine answered ${status}.`);
    this.status = status;
    this.slug = body && body.slug;
  }
}

export const session = {
  token: () => sessionStorage.getItem(TOKEN),
  me: () => JSON.parse(sessionStorage.getItem(ME) || 'null'),
  isAdmin: () => session.me()?.role === 'superadmin',
  async signIn(token) {
    const me = await request('GET', 'v1/me', undefined, token);
    if (me.role === 'service') {
      throw new ApiError(403, { detail: 'A service token posts events only: sign in with a superadmin or academy token.' });
    }
    sessionStorage.setItem(TOKEN, token);
    sessionStorage.setItem(ME, JSON.stringify(me));
    return me;
  },
  signOut() {
    sessionStorage.removeItem(TOKEN);
    sessionStorage.removeItem(ME);
  },
};

// The API's paths are relative to the console's (`/console/` → `/v1/…`),
// so that a proxy's path prefix is kept.
async function request(method, path, body, token = session.token()) {
  const headers = { Authorization: `Token ${token}` };
  let payload;
  if (body instanceof Blob) {
    headers['Content-Type'] = 'application/wasm';
    payload = body;
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(`../${path}`, { method, headers, body: payload, cache: 'no-store' });
  } catch (error) {
    throw new ApiError(0, { detail: `The engine cannot be reached (${error.message}).` });
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text };
  }
  if (!response.ok) {
    if (response.status === 401 && token === session.token()) {
      session.signOut();
      window.dispatchEvent(new Event('signed-out'));
    }
    throw new ApiError(response.status, data);
  }
  return data;
}

export const api = {
  get: (path) => request('GET', path),
  post: (path, body = {}) => request('POST', path, body),
  put: (path, body) => request('PUT', path, body),
  del: (path) => request('DELETE', path),
};

/// A query string of the given parameters, empty ones left out.
export function query(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') q.set(key, value);
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}
