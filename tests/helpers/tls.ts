/**
 * Part 5's test material: the demo CA in certs/, `socklab ca` that must
 * succeed, and the fixtures made once per test module through `socklab ca`
 * (a second, unrelated CA with a certificate it signed, an expired
 * certificate and a certificate for another name, both signed by the demo CA).
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT, runProc, runSocklab } from "../../scripts/lib/proc.ts";

export const CERTS = join(ROOT, "certs");
export const DEMO_CA = join(CERTS, "ca.crt");
export const LOCAL_CRT = join(CERTS, "localhost.crt");
export const LOCAL_KEY = join(CERTS, "localhost.key");

/** `openssl x509 -text` of a certificate. */
export async function certText(path: string): Promise<string> {
  const r = await runProc(["openssl", "x509", "-in", path, "-noout", "-text"]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

/** socklab ... that must succeed; returns stdout lines. */
export async function ok(args: string[], opts: { cwd?: string } = {}): Promise<string[]> {
  const r = await runSocklab(args, opts);
  assert.equal(r.code, 0, `socklab ${args.join(" ")}: ${r.stderr}`);
  return r.stdout.trim().split("\n");
}

export interface Fixtures {
  dir: string;
  key: string;
  foreignCa: string;
  foreignCert: string;
  expiredCert: string;
  otherNameCert: string;
}

let fixtures: Promise<Fixtures> | undefined;
let fixturesDir: string | undefined;

export function getFixtures(): Promise<Fixtures> {
  return fixtures ??= (async () => {
    const dir = fixturesDir = await Deno.makeTempDir({ prefix: "socklab-part5-" });
    const f: Fixtures = {
      dir,
      key: join(dir, "pmu_key.pem"),
      foreignCa: join(dir, "foreign", "ca.crt"),
      foreignCert: join(dir, "foreign.crt"),
      expiredCert: join(dir, "expired.crt"),
      otherNameCert: join(dir, "other-name.crt"),
    };
    const csr = join(dir, "pmu.csr");
    await Promise.all([
      ok(["ca", "init", "--dir", join(dir, "foreign"), "--cn", "an unrelated CA"]),
      ok(["ca", "request", "--key", f.key, "--csr", csr]),
    ]);
    await Promise.all([
      ok(["ca", "sign", csr, "--dir", join(dir, "foreign"), "--out", f.foreignCert]),
      ok([
        "ca",
        "sign",
        csr,
        "--dir",
        CERTS,
        "--out",
        f.expiredCert,
        "--not-before",
        "2020-01-01",
        "--not-after",
        "2021-01-01",
      ]),
      ok(["ca", "sign", csr, "--dir", CERTS, "--out", f.otherNameCert, "--name", "banana.test"]),
    ]);
    return f;
  })();
}

// The fixtures' directory goes when the test module ends.
globalThis.addEventListener("unload", () => {
  if (fixturesDir) Deno.removeSync(fixturesDir, { recursive: true });
});
