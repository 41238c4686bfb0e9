/**
 * Who may call `pgcdc serve`: nobody needs to prove anything without a token or basic-auth user;
 * with one, every route but the public ones (GET /healthz, GET /readyz) needs `Authorization: Bearer <token>`
 * or `Authorization: Basic …`. The dashboard's page and files are fetched by the browser without
 * that header, so a page opened once as `/?token=<token>` gets an HttpOnly, SameSite=Strict cookie
 * holding a digest of the token, which the page's files (never the API) accept. Comparisons take
 * the same time whatever the input.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export type ServeAuth =
  | { readonly kind: 'none' }
  | { readonly kind: 'token'; readonly token: string }
  | { readonly kind: 'basic'; readonly user: string; readonly password: string };

/** `public`: anyone; `api`: the Authorization header; `page`: the header, ?token= or the page cookie. */
export type Access = 'public' | 'api' | 'page';

const PAGE_COOKIE = 'pgcdc_page';

/** Whether a request may proceed, and the cookie to set when it opened the page with ?token=. */
export function authorize(auth: ServeAuth, access: Access, headers: IncomingHttpHeaders, query: URLSearchParams): { ok: boolean; setCookie?: string } {
  if (auth.kind === 'none' || access === 'public') return { ok: true };
  if (headerGrants(auth, headers.authorization)) return { ok: true };
  if (access !== 'page' || auth.kind !== 'token') return { ok: false };
  const given = query.get('token');
  if (given !== null) {
    if (!sameSecret(given, auth.token)) return { ok: false };
    return { ok: true, setCookie: `${PAGE_COOKIE}=${pageCookieValue(auth.token)}; HttpOnly; SameSite=Strict; Path=/` };
  }
  const cookie = cookieValue(headers.cookie, PAGE_COOKIE);
  return { ok: cookie !== undefined && sameSecret(cookie, pageCookieValue(auth.token)) };
}

/** The WWW-Authenticate header of a 401. */
export function challenge(auth: ServeAuth): Record<string, string> {
  if (auth.kind === 'basic') return { 'www-authenticate': 'Basic realm="pgcdc", charset="UTF-8"' };
  if (auth.kind === 'token') return { 'www-authenticate': 'Bearer realm="pgcdc"' };
  return {};
}

function headerGrants(auth: ServeAuth, header: string | undefined): boolean {
  if (header === undefined) return false;
  const space = header.indexOf(' ');
  if (space < 0) return false;
  const scheme = header.slice(0, space).toLowerCase();
  const credentials = header.slice(space + 1).trim();
  if (auth.kind === 'token') return scheme === 'bearer' && sameSecret(credentials, auth.token);
  if (auth.kind === 'basic' && scheme === 'basic') {
    const decoded = Buffer.from(credentials, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    // Both parts are always compared, so the time taken does not tell which one was wrong.
    const userMatches = sameSecret(colon < 0 ? decoded : decoded.slice(0, colon), auth.user);
    const passwordMatches = sameSecret(colon < 0 ? '' : decoded.slice(colon + 1), auth.password);
    return colon >= 0 && userMatches && passwordMatches;
  }
  return false;
}

/** Compares digests, so neither the length nor the first difference shows in the time taken. */
function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(createHash('sha256').update(given).digest(), createHash('sha256').update(expected).digest());
}

function pageCookieValue(token: string): string {
  return createHash('sha256').update(`pgcdc serve page:${token}`).digest('base64url');
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
