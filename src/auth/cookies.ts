// The browser session cookie: parsing a Cookie header and writing the Set-Cookie value. Pure.

export const SESSION_COOKIE = 'ardesia_session';

/** name → value of a Cookie request header; the first of duplicate names wins (as browsers send the most specific first). */
export function cookiesParse(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    if (!name || name in out) continue;
    try {
      out[name] = decodeURIComponent(value);
    } catch {
      out[name] = value;
    }
  }
  return out;
}

export interface CookieOptions {
  /** The request came over https: the cookie must never travel in clear text. */
  secure: boolean;
  /** Lifetime in seconds; 0 clears the cookie. */
  maxAgeS: number;
}

export function sessionCookie(value: string, opts: CookieOptions): string {
  const attrs = [`${SESSION_COOKIE}=${encodeURIComponent(value)}`, 'Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${Math.max(0, Math.floor(opts.maxAgeS))}`];
  if (opts.secure) attrs.push('Secure');
  return attrs.join('; ');
}

export function sessionCookieClear(secure: boolean): string {
  return sessionCookie('', { secure, maxAgeS: 0 });
}
