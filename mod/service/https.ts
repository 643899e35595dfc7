/**
 * The service's HTTPS identity: a certificate and key the teaching
 * assistant has (`serve --tls-cert F --tls-key K`, PEM, e.g. the campus's),
 * or one the course CA signs for the service's names (`serve
 * --tls-self-signed NAMES`), so that a course without a campus certificate
 * hands students DIR/ca.crt to trust (`socklab submit --ca ca.crt`, or a
 * browser's import). The signed one is kept in `DIR/https/` (key 0600) and
 * used again at the next start while it is for the same names, issued by
 * the same CA and valid for another {@link RENEW_BEFORE_MS}; else a new key
 * and certificate are made (openssl, through mod/tls/ca.ts).
 *
 * @module
 */
import { join } from "node:path";
import { errorMessage, RunError, UsageError } from "../errors.ts";
import { readInputText } from "../net/files.ts";
import {
  DEFAULT_NAMES,
  makeRequest,
  PEM_CERT,
  PEM_KEY,
  signRequest,
  validName,
} from "../tls/ca.ts";
import { courseCa } from "./course.ts";

/** A PEM certificate (chain) and its private key. */
export interface Identity {
  cert: string;
  key: string;
}

/** Days a certificate signed for the service is valid (what browsers accept at most: 398). */
export const SERVICE_CERT_DAYS = 397;
/** A kept certificate closer than this to its end is replaced at start, ms. */
export const RENEW_BEFORE_MS = 30 * 86_400_000;

/** `--tls-cert F --tls-key K`: both read and checked to be PEM (Deno.serve says if they match). */
export async function readIdentity(certFile: string, keyFile: string): Promise<Identity> {
  const cert = await readInputText(certFile, "certificate");
  const key = await readInputText(keyFile, "key file");
  if (!PEM_CERT.test(cert)) throw new RunError(`${certFile} holds no PEM certificate`);
  if (!PEM_KEY.test(key)) throw new RunError(`${keyFile} holds no PEM private key`);
  return { cert, key };
}

/**
 * `--tls-self-signed a,b`: the names checked (DNS names or IP literals),
 * with localhost, 127.0.0.1 and ::1 added (health checks on the machine).
 */
export function serviceNames(raw: string): string[] {
  const names = raw.split(",").map((n) => n.trim()).filter((n) => n);
  for (const n of names) {
    if (!validName(n)) throw new UsageError(`--tls-self-signed: '${n}' is not a host name or IP`);
  }
  return [...new Set([...names, ...DEFAULT_NAMES])];
}

/** The kept identity's files in a data directory. */
function files(dataDir: string) {
  const dir = join(dataDir, "https");
  return {
    dir,
    cert: join(dir, "server.crt"),
    key: join(dir, "server.key"),
    names: join(dir, "names.txt"),
  };
}

/** The identity kept in DIR/https/ if it is still good for `names`, else null. */
async function kept(dataDir: string, names: string[], now: number): Promise<Identity | null> {
  const f = files(dataDir);
  try {
    if ((await Deno.readTextFile(f.names)).trim() !== names.join(",")) return null;
    const [cert, key, ca] = await Promise.all(
      [f.cert, f.key, courseCa(dataDir).cert].map((p) => Deno.readTextFile(p)),
    );
    const { X509Certificate } = await import("node:crypto");
    const x = new X509Certificate(cert);
    const issuer = new X509Certificate(ca);
    const fresh = new Date(x.validTo).getTime() - now > RENEW_BEFORE_MS;
    return fresh && x.checkIssued(issuer) && x.verify(issuer.publicKey) ? { cert, key } : null;
  } catch {
    return null; // missing or unreadable: make a new one
  }
}

/**
 * The service's certificate for `names`, signed by the course CA of
 * `dataDir`: the kept one if still good, else a new key and certificate
 * (written under temporary names, then renamed: two servers starting at
 * once each end with a matching pair). `made` says which.
 */
export async function courseIdentity(
  dataDir: string,
  names: string[],
  now = Date.now(),
): Promise<Identity & { made: boolean }> {
  const old = await kept(dataDir, names, now);
  if (old) return { ...old, made: false };
  const f = files(dataDir);
  const tmp = `.${crypto.randomUUID()}`;
  const csr = `${f.cert}${tmp}.csr`;
  try {
    await Deno.mkdir(f.dir, { recursive: true, mode: 0o700 });
    await makeRequest({ key: f.key + tmp, csr, cn: names[0] });
    await Deno.chmod(f.key + tmp, 0o600);
    await signRequest({
      csr,
      dir: courseCa(dataDir).dir,
      out: f.cert + tmp,
      days: SERVICE_CERT_DAYS,
      names,
    });
    await Deno.writeTextFile(f.names + tmp, names.join(",") + "\n");
    for (const p of [f.key, f.cert, f.names]) await Deno.rename(p + tmp, p);
    const [cert, key] = await Promise.all([f.cert, f.key].map((p) => Deno.readTextFile(p)));
    return { cert, key, made: true };
  } catch (e) {
    if (e instanceof RunError) throw e;
    throw new RunError(`cannot make the service's certificate in ${f.dir}: ${errorMessage(e)}`);
  } finally {
    for (const p of [f.key + tmp, f.cert + tmp, csr, f.names + tmp]) {
      await Deno.remove(p).catch(() => {});
    }
  }
}
