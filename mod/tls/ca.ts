/**
 * Part 5's certificate authority: the lab CA (the course's signing service),
 * the key and certificate request of the handout's openssl steps, and the
 * signing of a request as an X.509 v3 certificate whose subjectAltName
 * covers localhost, 127.0.0.1 and ::1 (rustls, inside Deno, refuses v1
 * certificates). openssl does all the cryptography, as a subprocess, with a
 * configuration file of our own (the system's openssl.cnf is never read).
 *
 * @module
 */
import { osReason, readInputText } from "../net/files.ts";
import { join } from "node:path";
import { errorMessage, RunError, UsageError } from "../errors.ts";
import { ipFamily, isHostName } from "../net/address.ts";

/** Environment variable naming the openssl executable (default: `openssl` on PATH). */
export const OPENSSL_ENV = "SOCKLAB_OPENSSL";

/** The openssl executable socklab runs. */
export function opensslPath(): string {
  return Deno.env.get(OPENSSL_ENV) || "openssl";
}

/** The names a signed certificate is valid for unless told otherwise. */
export const DEFAULT_NAMES: readonly string[] = ["localhost", "127.0.0.1", "::1"];

/** The lab CA's subject (the course's CA was C=CH, ST=Vaud, L=Lausanne, O=LCA2, OU=CS). */
export const CA_SUBJECT = "/C=CH/ST=Vaud/L=Lausanne/O=LCA2/OU=CS";

/** File names inside a CA directory. */
export function caFiles(dir: string): { cert: string; key: string } {
  return { cert: join(dir, "ca.crt"), key: join(dir, "ca.key") };
}

/**
 * Run openssl with `args`. Returns its stdout. A missing openssl or a failed
 * run is a RunError naming what failed, with openssl's own reason.
 */
export async function openssl(
  args: string[],
  opts: { cwd?: string; what?: string } = {},
): Promise<string> {
  const exe = opensslPath();
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(exe, {
      args,
      cwd: opts.cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      // Never read the system's openssl.cnf: every step passes its own -config.
      env: { OPENSSL_CONF: "/dev/null" },
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new RunError(
        `openssl not found (${exe}): install it (sudo apt-get install openssl) ` +
          `or set ${OPENSSL_ENV} to its path`,
      );
    }
    throw new RunError(`cannot run ${exe}: ${errorMessage(e)}`);
  }
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr);
    throw new RunError(`${opts.what ?? `openssl ${args[0]}`} failed: ${opensslReason(err)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** The most telling line of openssl's error output. */
export function opensslReason(stderr: string): string {
  const lines = stderr.split("\n").map((l) => l.trim()).filter(Boolean);
  // OpenSSL 3 error-stack lines: `<id>:error:<code>:<lib>:<func>:<reason>:<file>:<line>:<data>`
  for (const l of lines) {
    const m = l.match(/:error:[0-9A-F]+:[^:]*:[^:]*:([^:]+):[^:]*:\d+:?(.*)$/);
    if (m) return m[2] ? `${m[1]} (${m[2]})` : m[1];
  }
  return lines.find((l) => !/^-+$/.test(l)) ?? "no reason given";
}

/** True if `path` exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw new RunError(`cannot access ${path}: ${osReason(e)}`);
  }
}

/** A PEM certificate, and a PEM private key (any kind), as their first lines say. */
export const PEM_CERT = /-----BEGIN CERTIFICATE-----/;
export const PEM_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;

/** `-subj` text for a common name (openssl treats `/` as a separator: escape it). */
function subjectCN(cn: string): string {
  return `/CN=${cn.replace(/([\\/])/g, "\\$1")}`;
}

/** `DNS:localhost, IP:127.0.0.1, IP:::1` for the names given. */
export function subjectAltName(names: readonly string[]): string {
  return names.map((n) => (ipFamily(n) ? `IP:${n}` : `DNS:${n}`)).join(", ");
}

/** Is `name` acceptable as a subjectAltName entry (an IP literal or a DNS name)? */
export function validName(name: string): boolean {
  if (ipFamily(name)) return true;
  if (name.endsWith(".")) return false;
  return isHostName(name.startsWith("*.") ? name.slice(2) : name);
}

/**
 * A date for openssl's -startdate/-enddate (`YYYYMMDDHHMMSSZ`), from
 * `YYYY-MM-DD` or an ISO date-time in UTC. Null if it is not one.
 */
export function opensslDate(raw: string): string | null {
  const m = raw.trim().match(
    /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?Z?)?$/,
  );
  if (!m) return null;
  const [y, mo, d, h = "00", mi = "00", s = "00"] = m.slice(1);
  const t = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s);
  const back = new Date(t);
  if (
    isNaN(t) || back.getUTCMonth() !== +mo - 1 || back.getUTCDate() !== +d || +h > 23 ||
    +mi > 59 || +s > 59
  ) {
    return null;
  }
  return `${y}${mo}${d}${h}${mi}${s}Z`;
}

/** `YYYYMMDDHHMMSSZ` of a time. */
function asn1Time(t: Date): string {
  return t.toISOString().replace(/[-:T]/g, "").replace(/\.\d+Z$/, "Z");
}

/** -startdate/-enddate: the missing end is now, or start + days. */
function validity(notBefore: string | undefined, notAfter: string | undefined, days: number) {
  const start = notBefore ?? asn1Time(new Date());
  const end = notAfter ?? asn1Time(new Date(parseAsn1(start).getTime() + days * 86_400_000));
  if (start >= end) {
    const iso = (t: string) => parseAsn1(t).toISOString().replace(".000Z", "Z");
    throw new UsageError(
      `the validity would end (${iso(end)}) before it starts (${iso(start)}); ` +
        `--not-before must come before --not-after`,
    );
  }
  return ["-startdate", start, "-enddate", end];
}

function parseAsn1(t: string): Date {
  const m = t.match(/^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/)!;
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
}

/** An openssl configuration with the sections every step needs. */
function config(dir: string, names: readonly string[] = DEFAULT_NAMES): string {
  return `# written by socklab for one openssl run
[req]
distinguished_name = req_dn
prompt = no
[req_dn]
CN = unused
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ca]
default_ca = lab
[lab]
dir = ${dir}
database = $dir/index.txt
new_certs_dir = $dir
serial = $dir/serial
rand_serial = yes
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
email_in_dn = no
[anything]
countryName = optional
stateOrProvinceName = optional
localityName = optional
organizationName = optional
organizationalUnitName = optional
commonName = optional
emailAddress = optional
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
subjectAltName = ${subjectAltName(names)}
`;
}

/**
 * Run `fn` with this step's openssl.cnf (its `names` as subjectAltName), written in a fresh
 * private temp directory that holds the CA database too, removed afterwards.
 */
async function withConfig<T>(
  names: readonly string[],
  fn: (cnf: string, dir: string) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "socklab-ca-" });
  try {
    const cnf = join(dir, "openssl.cnf");
    await Deno.writeTextFile(cnf, config(dir, names));
    return await fn(cnf, dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

export interface CaInitOptions {
  dir: string;
  /** Common name of the CA. */
  cn?: string;
  /** Validity in days (default 3650). */
  days?: number;
  /** Replace an existing CA in `dir`. */
  force?: boolean;
}

/** Create the lab CA: `<dir>/ca.key` (RSA 2048) and the self-signed v3 `<dir>/ca.crt`. */
export async function caInit(opts: CaInitOptions): Promise<{ cert: string; key: string }> {
  const files = caFiles(opts.dir);
  if (!opts.force) {
    for (const f of [files.cert, files.key]) {
      if (await exists(f)) {
        throw new RunError(`${f} already exists; use --force to replace the CA in ${opts.dir}`);
      }
    }
  }
  try {
    await Deno.mkdir(opts.dir, { recursive: true });
  } catch (e) {
    throw new RunError(`cannot create directory ${opts.dir}: ${osReason(e)}`);
  }
  const cn = opts.cn ?? "socklab lab CA";
  await withConfig(DEFAULT_NAMES, async (cnf) => {
    await openssl([
      "req",
      "-config",
      cnf,
      "-x509",
      "-newkey",
      "rsa:2048",
      "-noenc",
      "-keyout",
      files.key,
      "-out",
      files.cert,
      "-days",
      String(opts.days ?? 3650),
      "-sha256",
      "-subj",
      CA_SUBJECT + subjectCN(cn),
      "-extensions",
      "v3_ca",
    ], { what: "creating the CA" });
  });
  return files;
}

export interface RequestOptions {
  /** Private key file: created (RSA 2048) unless it exists, then reused. */
  key: string;
  /** Certificate request file to write. */
  csr: string;
  /** Common name in the request. */
  cn?: string;
}

/**
 * The handout's two openssl steps without prompts: `genrsa 2048` (unless the
 * key exists) and `req -new`. Returns whether a new key was made.
 */
export async function makeRequest(opts: RequestOptions): Promise<{ newKey: boolean }> {
  const newKey = !(await exists(opts.key));
  if (newKey) {
    await openssl(["genrsa", "-out", opts.key, "2048"], {
      what: `creating the key ${opts.key}`,
    });
  } else if (
    !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(await readInputText(opts.key, "key file"))
  ) {
    throw new RunError(`key file ${opts.key} holds no PEM private key`);
  }
  await withConfig(DEFAULT_NAMES, async (cnf) => {
    await openssl([
      "req",
      "-config",
      cnf,
      "-new",
      "-key",
      opts.key,
      "-out",
      opts.csr,
      "-sha256",
      "-subj",
      subjectCN(opts.cn ?? "localhost"),
    ], { what: `making the request ${opts.csr} with the key ${opts.key}` });
  });
  return { newKey };
}

export interface SignOptions {
  csr: string;
  /** The CA directory (ca.crt, ca.key). */
  dir: string;
  out: string;
  /** Validity in days from now (ignored when notAfter is given). */
  days?: number;
  /** `YYYYMMDDHHMMSSZ` (see {@link opensslDate}); default now. */
  notBefore?: string;
  /** `YYYYMMDDHHMMSSZ`; default now + days. */
  notAfter?: string;
  /** subjectAltName entries (default localhost, 127.0.0.1, ::1). */
  names?: readonly string[];
  /** Replace `out` if it exists (default: refuse, as `ca init` does). */
  force?: boolean;
}

/**
 * Sign a request like the course's signing service: an X.509 v3 server
 * certificate, subject taken from the request, subjectAltName set here.
 */
export async function signRequest(opts: SignOptions): Promise<string> {
  const ca = caFiles(opts.dir);
  for (const f of [ca.cert, ca.key]) {
    if (!(await exists(f))) {
      throw new RunError(
        `no CA in ${opts.dir} (${f} is missing); run 'socklab ca init --dir ${opts.dir}' first`,
      );
    }
  }
  await readInputText(opts.csr, "certificate request");
  if (!opts.force && await exists(opts.out)) {
    throw new RunError(`${opts.out} already exists; use --force to replace it`);
  }
  await withConfig(opts.names ?? DEFAULT_NAMES, async (cnf, tmp) => {
    await Deno.writeTextFile(join(tmp, "index.txt"), "");
    // openssl counts -days from now even with -startdate: give both ends explicitly.
    const dates = opts.notBefore || opts.notAfter
      ? validity(opts.notBefore, opts.notAfter, opts.days ?? 365)
      : ["-days", String(opts.days ?? 365)];
    await openssl([
      "ca",
      "-batch",
      "-config",
      cnf,
      "-cert",
      ca.cert,
      "-keyfile",
      ca.key,
      "-in",
      opts.csr,
      "-out",
      opts.out,
      "-extensions",
      "server",
      "-notext",
      "-preserveDN",
      ...dates,
    ], { what: `signing ${opts.csr}` });
  });
  return opts.out;
}

/** One line describing a certificate: subject, issuer, validity, names. */
export async function describeCert(path: string): Promise<string> {
  const out = await openssl([
    "x509",
    "-in",
    path,
    "-noout",
    "-subject",
    "-issuer",
    "-enddate",
    "-ext",
    "subjectAltName",
    "-nameopt",
    "oneline",
  ], { what: `reading ${path}` });
  const get = (k: string) => out.match(new RegExp(`^${k}=\\s*(.*)$`, "m"))?.[1]?.trim();
  const san = out.match(/Subject Alternative Name:\s*\n\s*(.*)/)?.[1]?.trim();
  return `subject ${get("subject")}; issuer ${get("issuer")}; valid until ${get("notAfter")}` +
    (san ? `; names ${san}` : "");
}

/**
 * A throwaway lab CA in `dir` and a server certificate it signed (for
 * localhost, 127.0.0.1 and ::1), for `demo` and `grade`.
 */
export async function makeTestIdentity(
  dir: string,
  cn = "secure-pmu",
): Promise<{ cert: string; key: string; ca: string }> {
  const caDir = `${dir}/ca`;
  await caInit({ dir: caDir });
  const key = `${dir}/pmu.key`, csr = `${dir}/pmu.csr`, cert = `${dir}/pmu.crt`;
  await makeRequest({ key, csr, cn });
  await signRequest({ csr, dir: caDir, out: cert });
  return { cert, key, ca: caFiles(caDir).cert };
}
