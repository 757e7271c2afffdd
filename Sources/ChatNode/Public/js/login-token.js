// The login token (PROTOCOL.md §7) a site that embeds the chat hands the
// page in its address: `/#token=…`, optionally followed by `&room`
// (`/#token=…&swift`). The token is taken out of the address bar at once,
// so it does not linger in the history or get copied with a link, and
// kept for this tab only (sessionStorage), for reconnections and reloads.

const TOKEN_KEY = 'chat.token';

function stored() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

function store(token) {
  try {
    if (token === null) sessionStorage.removeItem(TOKEN_KEY);
    else sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // Storage disabled: the token lasts as long as the page.
  }
}

/**
 * Splits a fragment (without `#`) into the token it carries, if any, and
 * the rest (a room name, or ''). Pure, for tests.
 */
export function splitFragment(fragment) {
  if (!fragment.startsWith('token=')) return { token: null, rest: fragment };
  const end = fragment.indexOf('&');
  const token = fragment.slice('token='.length, end === -1 ? undefined : end);
  return { token: token || null, rest: end === -1 ? '' : fragment.slice(end + 1) };
}

/**
 * The claims of a token the page may show (its `nick`, its `exp`), read
 * without checking the signature: only the server can check it. Null for
 * a token that is not a JWT.
 */
export function readClaims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = decodeURIComponent(Array.from(atob(part), (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join(''));
    const claims = JSON.parse(json);
    return {
      nick: typeof claims.nick === 'string' ? claims.nick : null,
      exp: typeof claims.exp === 'number' ? claims.exp : null,
    };
  } catch {
    return null;
  }
}

/** The tab's login token: from the address (which it leaves at once), else the one kept earlier. */
export function takeLoginToken() {
  const { token, rest } = splitFragment(window.location.hash.slice(1));
  if (token === null) return stored();
  store(token);
  const address = window.location.pathname + window.location.search + (rest ? `#${rest}` : '');
  window.history.replaceState(null, '', address);
  return token;
}

/** Forgets the tab's token (the server refused it). */
export function forgetLoginToken() {
  store(null);
}
