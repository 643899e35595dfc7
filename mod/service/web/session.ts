/**
 * The web pages' session: a cookie that names what the user signed in with
 * (the stored SHA-256 of their token, so that replacing the token ends the
 * session), signed with HMAC-SHA-256 under a key kept in the course's data
 * directory, and a CSRF token derived from the session for every form. The
 * token itself is never put in the cookie or in a page.
 *
 * @module
 */

const encoder = new TextEncoder();
export const SESSION_COOKIE = "socklab_session";
/** A session lasts this long after sign-in. */
export const SESSION_TTL_MS = 12 * 3600 * 1000;

function b64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Signs and checks session cookies and CSRF tokens with one secret. */
export class SessionSigner {
  #key: Promise<CryptoKey>;

  constructor(secret: Uint8Array) {
    this.#key = crypto.subtle.importKey(
      "raw",
      secret as Uint8Array<ArrayBuffer>,
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
  }

  async #mac(text: string): Promise<string> {
    const sig = await crypto.subtle.sign("HMAC", await this.#key, encoder.encode(text));
    return b64url(new Uint8Array(sig));
  }

  /** The cookie value naming `subject`, valid until `now + SESSION_TTL_MS`. */
  async issue(subject: string, now = Date.now()): Promise<string> {
    const nonce = b64url(crypto.getRandomValues(new Uint8Array(12)));
    const body = `${b64url(encoder.encode(subject))}.${now + SESSION_TTL_MS}.${nonce}`;
    return `${body}.${await this.#mac(body)}`;
  }

  /** The subject a cookie value names, or null if it is forged, malformed or expired. */
  async verify(value: string | undefined, now = Date.now()): Promise<string | null> {
    if (!value) return null;
    const parts = value.split(".");
    if (parts.length !== 4) return null;
    const body = parts.slice(0, 3).join(".");
    if (!timingSafeEqual(await this.#mac(body), parts[3])) return null;
    if (!(Number(parts[1]) > now)) return null;
    try {
      const b64 = parts[0].replace(/-/g, "+").replace(/_/g, "/");
      return new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
    } catch {
      return null;
    }
  }

  /** The CSRF token of a session (the forms' hidden field). */
  csrf(sessionValue: string): Promise<string> {
    return this.#mac(`csrf:${sessionValue}`);
  }

  /** Whether `token` is the CSRF token of this session. */
  async checkCsrf(sessionValue: string, token: string | null): Promise<boolean> {
    return token !== null && timingSafeEqual(await this.csrf(sessionValue), token);
  }
}

/** Compare two strings in time that does not depend on where they differ. */
export function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** The value of one cookie in a Cookie header. */
export function readCookie(header: string | null, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Set-Cookie for a session (HttpOnly, SameSite=Strict, Path=/). */
export function sessionCookie(value: string, secure = false): string {
  return `${SESSION_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${
    SESSION_TTL_MS / 1000
  }${secure ? "; Secure" : ""}`;
}

/** Set-Cookie that signs out. */
export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
}
