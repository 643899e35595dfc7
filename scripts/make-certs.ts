/**
 * Remake certs/: the demo lab CA and a certificate for localhost signed by it,
 * through `socklab ca` (openssl underneath). PUBLIC TEST MATERIAL: the private
 * keys are committed on purpose, for the tests and `socklab demo`; never use
 * them for anything else.
 *
 *     deno task certs                          # remake certs/ (replaces what is there)
 *     SOCKLAB=/path/to/socklab deno task certs # with the binary
 *     CERTS_DIR=/tmp/x deno task certs         # elsewhere
 *
 * socklab runs through scripts/lib/proc.ts's argv builder (the binary's flags).
 *
 * @module
 */
import { join } from "node:path";
import { ROOT, runProc, socklabArgv } from "./lib/proc.ts";

async function run(argv: string[]): Promise<string> {
  const r = await runProc(argv, { timeoutMs: 60_000, cwd: ROOT });
  if (r.code !== 0) {
    throw new Error(`${argv.slice(-6).join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
  }
  return r.stdout + r.stderr;
}

function socklab(...args: string[]): Promise<string> {
  const bin = Deno.env.get("SOCKLAB");
  return run(bin ? [bin, ...args] : socklabArgv(args));
}

/** Makes ca.crt, ca.key, localhost.crt, localhost.key in `dir`; returns openssl's verdict. */
export async function makeCerts(dir: string): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  // The demo CA, valid 10 years.
  await socklab(
    ...["ca", "init", "--dir", dir, "--cn", "socklab demo CA (public test material)"],
    ...["--days", "3650", "--force"],
  );
  // The secure PMU's key and request, then the certificate: X.509 v3 for localhost,
  // 127.0.0.1 and ::1, valid 10 years.
  const key = join(dir, "localhost.key");
  const csr = join(dir, "localhost.csr");
  await Deno.remove(key).catch(() => {});
  await socklab("ca", "request", "--key", key, "--csr", csr, "--cn", "localhost");
  await socklab(
    ...["ca", "sign", csr, "--dir", dir, "--out", join(dir, "localhost.crt"), "--days", "3650"],
  );
  await Deno.remove(csr);
  // Readable by everyone: it is public test material (openssl writes keys 0600).
  for (const k of ["ca.key", "localhost.key"]) await Deno.chmod(join(dir, k), 0o644);
  return await run([
    "openssl",
    "verify",
    "-CAfile",
    join(dir, "ca.crt"),
    join(dir, "localhost.crt"),
  ]);
}

if (import.meta.main) {
  try {
    Deno.stdout.writeSync(
      new TextEncoder().encode(await makeCerts(Deno.env.get("CERTS_DIR") ?? join(ROOT, "certs"))),
    );
  } catch (e) {
    console.error(`make-certs: error: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
