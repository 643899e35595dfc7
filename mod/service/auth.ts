/**
 * Tokens: a student's or teaching assistant's personal secret, sent as
 * `Authorization: Bearer <token>`. A token is 32 random bytes (base64url,
 * prefixed `slk_`); the database keeps only its SHA-256. A fast hash is
 * enough here, unlike for passwords: 256 random bits cannot be guessed or
 * brute-forced from the hash, so a slow hash (bcrypt, argon2) would buy
 * nothing, and a plain digest lets the store find the user by an index
 * lookup instead of trying every row. Someone who reads the database cannot
 * sign in with what they read.
 *
 * @module
 */
import type { Store, User } from "./store/store.ts";

/** A new random token (256 bits). */
export function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const b64 = btoa(String.fromCharCode(...bytes));
  return "slk_" + b64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The SHA-256 of a token, hex: what the store keeps. */
export async function hashToken(token: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Give `userId` a new token (revoking the old one); returns it, to be shown once. */
export async function issueToken(store: Store, userId: string): Promise<string> {
  const token = newToken();
  await store.setToken(userId, await hashToken(token), Date.now());
  return token;
}

/** The token of an `Authorization: Bearer <token>` header, if any. */
export function bearerToken(req: Request): string | null {
  const m = req.headers.get("authorization")?.match(/^Bearer\s+(\S+)\s*$/i);
  return m ? m[1] : null;
}

/** The user a token belongs to, or null. */
export async function userForToken(store: Store, token: string | null): Promise<User | null> {
  if (!token || token.length > 200) return null;
  return await store.userByTokenHash(await hashToken(token));
}
