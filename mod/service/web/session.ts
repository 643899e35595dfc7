/**
 * The web pages' sessions and the values their forms carry. A session is
 * a random id in a cookie; the store keeps only its SHA-256, the user, the
 * hash of the token it was opened with and its expiry (store.ts
 * `openSession`), so sign-out ends it for good, a new token ends all of a
 * user's, and a copied cookie dies with them. Every form carries a CSRF
 * token: an HMAC-SHA-256 (under a key kept in the course's data directory)
 * of the session's cookie, or for the sign-in form of a `socklab_login`
 * cookie that the sign-in page sets (SameSite=Strict: another site's form
 * cannot send it). The token itself is never put in a cookie or a page:
 * the sign-in confirmation carries its hash, signed for that browser.
 *
 * @module
 */

const encoder = new TextEncoder();
export const SESSION_COOKIE = "socklab_session";
/** The sign-in form's cookie (a nonce its CSRF token is made from). */
export const LOGIN_COOKIE = "socklab_login";
/** A session lasts this long after sign-in. */
export const SESSION_TTL_MS = 12 * 3600 * 1000;
/** A sign-in page's form works for this long, s. */
const LOGIN_TTL_S = 3600;

function b64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A new session id or sign-in nonce: 256 random bits, base64url. */
export function newSessionId(): string {
  return b64url(crypto.getRandomValues(new Uint8Array(32)));
}

/** Whether a cookie's value can be one of ours (43 base64url characters). */
export function isSessionId(value: string | undefined): value is string {
  return value !== undefined && /^[A-Za-z0-9_-]{43}$/.test(value);
}

/** Signs and checks the forms' values (CSRF tokens, a pending sign-in) with one secret. */
export class FormSigner {
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

  /** The CSRF token of a session, or of a sign-in form (`login`: its cookie's nonce). */
  csrf(cookie: string, login = false): Promise<string> {
    return this.#mac(`${login ? "login" : "csrf"}:${cookie}`);
  }

  /** Whether `token` is the CSRF token of that cookie. */
  async checkCsrf(cookie: string, token: unknown, login = false): Promise<boolean> {
    return typeof token === "string" && timingSafeEqual(await this.csrf(cookie, login), token);
  }

  /** The sign-in confirmation's value: the token's hash, signed for the browser of `nonce`. */
  async pending(nonce: string, tokenHash: string): Promise<string> {
    return `${tokenHash}.${await this.#mac(`pending:${nonce}:${tokenHash}`)}`;
  }

  /** The token hash a confirmation carries, if it was made for the browser of `nonce`. */
  async checkPending(nonce: string, value: unknown): Promise<string | null> {
    if (typeof value !== "string") return null;
    const dot = value.indexOf(".");
    const hash = value.slice(0, dot);
    return dot > 0 && timingSafeEqual(await this.pending(nonce, hash), value) ? hash : null;
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

/** Set-Cookie for the sign-in form's nonce (only /login sees it). */
export function loginCookie(value: string, secure = false): string {
  return `${LOGIN_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/login; Max-Age=${LOGIN_TTL_S}${
    secure ? "; Secure" : ""
  }`;
}

/** Set-Cookie that signs out. */
export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
}
