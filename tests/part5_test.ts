import assert from "node:assert/strict";
import { join } from "node:path";
import { opensslDate, opensslReason, subjectAltName, validName } from "../mod/tls/ca.ts";
import { tlsReason } from "../mod/tls/secure.ts";
import { ROOT, runProc, runSocklab } from "./helpers/cli.ts";

const CERTS = join(ROOT, "certs");
const DEMO_CA = join(CERTS, "ca.crt");

/** `openssl x509 -text` of a certificate. */
async function certText(path: string): Promise<string> {
  const r = await runProc(["openssl", "x509", "-in", path, "-noout", "-text"]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

/** socklab ... that must succeed; returns stdout lines. */
async function ok(args: string[], opts: { cwd?: string } = {}): Promise<string[]> {
  const r = await runSocklab(args, opts);
  assert.equal(r.code, 0, `socklab ${args.join(" ")}: ${r.stderr}`);
  return r.stdout.trim().split("\n");
}

// ---------------------------------------------------------------------------
// Test-time fixtures, made once per run in a temporary directory through
// `socklab ca`: a second, unrelated CA with a certificate it signed, an
// expired certificate and a certificate for another name (both signed by the
// demo CA in certs/).

interface Fixtures {
  dir: string;
  key: string;
  foreignCa: string;
  foreignCert: string;
  expiredCert: string;
  otherNameCert: string;
}

let fixtures: Promise<Fixtures> | undefined;
let fixturesDir: string | undefined;

function getFixtures(): Promise<Fixtures> {
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

// ---------------------------------------------------------------------------
// Pure cores

Deno.test("ca: dates, names and openssl's reasons are parsed as documented", () => {
  assert.equal(opensslDate("2021-01-01"), "20210101000000Z");
  assert.equal(opensslDate("2021-06-30T12:34:56Z"), "20210630123456Z");
  assert.equal(opensslDate("2021-02-30"), null);
  assert.equal(opensslDate("yesterday"), null);
  assert.equal(
    subjectAltName(["localhost", "127.0.0.1", "::1"]),
    "DNS:localhost, IP:127.0.0.1, IP:::1",
  );
  assert.ok(validName("localhost") && validName("::1") && validName("a-b.example"));
  assert.ok(!validName("bad name") && !validName("") && !validName("-x"));
  assert.equal(
    opensslReason(
      "Could not read certificate request from x.csr\n" +
        "40E7:error:1608010C:STORE routines:ossl_store_handle_load_result:unsupported:../crypto/store/store_result.c:151:\n",
    ),
    "unsupported",
  );
});

Deno.test("tlsReason turns rustls's errors into one line: issuer, expired, name, not TLS", () => {
  const ctx = { name: "localhost", caFile: "ca.crt" };
  const err = (m: string) => new Deno.errors.InvalidData(m);
  assert.match(
    tlsReason(err("invalid peer certificate: UnknownIssuer"), ctx),
    /^certificate rejected: unknown issuer .*ca\.crt/,
  );
  assert.equal(
    tlsReason(
      err(
        "invalid peer certificate: certificate expired: verification time 1795506927 (UNIX), " +
          "but certificate is not valid after 1609459200 (186047727 seconds ago)",
      ),
      ctx,
    ),
    "certificate rejected: expired (not valid after 2021-01-01T00:00:00Z)",
  );
  assert.match(
    tlsReason(
      err(
        'invalid peer certificate: certificate not valid for name "localhost"; certificate is ' +
          'only valid for DnsName("a.test"), DnsName("b.test") or IpAddress(10.0.0.1)',
      ),
      ctx,
    ),
    /^certificate rejected: wrong name \(it is for a\.test, b\.test, 10\.0\.0\.1, not localhost; --no-hostname-check/,
  );
  assert.match(
    tlsReason(err("received corrupt message of type InvalidContentType"), ctx),
    /does not speak TLS/,
  );
});

// ---------------------------------------------------------------------------
// socklab ca

Deno.test("ca init, request, sign: a v3 certificate for localhost, 127.0.0.1, ::1 that openssl verifies", async () => {
  const dir = await Deno.makeTempDir({ prefix: "socklab-ca-test-" });
  try {
    assert.deepEqual(await ok(["ca", "init"], { cwd: dir }), ["lab-ca/ca.crt", "lab-ca/ca.key"]);
    const ca = await certText(join(dir, "lab-ca/ca.crt"));
    assert.match(ca, /Version: 3/);
    assert.match(ca, /CA:TRUE/);
    assert.match(
      ca,
      /Subject: C = CH, ST = Vaud, L = Lausanne, O = LCA2, OU = CS, CN = socklab lab CA/,
    );

    // A second init must not destroy the CA.
    const again = await runSocklab(["ca", "init"], { cwd: dir });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^socklab ca: error: lab-ca\/ca\.crt already exists; use --force/m);

    // The handout's names: CAMIPRO1_key.pem, CAMIPRO1.csr.
    assert.deepEqual(
      await ok([
        "ca",
        "request",
        "--key",
        "CAMIPRO1_key.pem",
        "--csr",
        "CAMIPRO1.csr",
        "--cn",
        "banana",
      ], {
        cwd: dir,
      }),
      ["CAMIPRO1_key.pem", "CAMIPRO1.csr"],
    );
    assert.equal(
      (await Deno.stat(join(dir, "CAMIPRO1_key.pem"))).mode! & 0o077,
      0,
      "key is private",
    );
    const rsa = await runProc([
      "openssl",
      "rsa",
      "-in",
      join(dir, "CAMIPRO1_key.pem"),
      "-noout",
      "-text",
    ]);
    assert.match(rsa.stdout, /Private-Key: \(2048 bit/);
    // A second request reuses the key.
    const r2 = await runSocklab([
      "ca",
      "request",
      "--key",
      "CAMIPRO1_key.pem",
      "--csr",
      "again.csr",
    ], {
      cwd: dir,
    });
    assert.equal(r2.code, 0);
    assert.equal(r2.stdout, "again.csr\n");
    assert.match(r2.stderr, /using the existing key CAMIPRO1_key\.pem/);

    assert.deepEqual(await ok(["ca", "sign", "CAMIPRO1.csr"], { cwd: dir }), ["CAMIPRO1.crt"]);
    const crt = await certText(join(dir, "CAMIPRO1.crt"));
    assert.match(crt, /Version: 3/);
    assert.match(crt, /Subject: CN = banana/);
    assert.match(crt, /DNS:localhost, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1/);
    assert.match(crt, /TLS Web Server Authentication/);
    const v = await runProc(
      ["openssl", "verify", "-CAfile", "lab-ca/ca.crt", "CAMIPRO1.crt"],
      { cwd: dir },
    );
    assert.equal(v.stdout.trim(), "CAMIPRO1.crt: OK", v.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ca sign: chosen validity and names (the test fixtures: expired, another name, another CA)", async () => {
  const f = await getFixtures();
  const expired = await certText(f.expiredCert);
  assert.match(expired, /Not Before: Jan {2}1 00:00:00 2020 GMT/);
  assert.match(expired, /Not After : Jan {2}1 00:00:00 2021 GMT/);
  const other = await certText(f.otherNameCert);
  assert.match(other, /DNS:banana\.test\s*$/m);
  const foreign = await runProc(["openssl", "verify", "-CAfile", DEMO_CA, f.foreignCert]);
  assert.notEqual(foreign.code, 0, "the foreign certificate does not lead to the demo CA");
  const own = await runProc(["openssl", "verify", "-CAfile", f.foreignCa, f.foreignCert]);
  assert.equal(own.code, 0, own.stderr);
});

Deno.test("certs/: the demo CA and the localhost certificate are v3, long-lived and chain up", async () => {
  const crt = await certText(join(CERTS, "localhost.crt"));
  assert.match(crt, /Version: 3/);
  assert.match(crt, /DNS:localhost, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1/);
  const v = await runProc(["openssl", "verify", "-CAfile", DEMO_CA, join(CERTS, "localhost.crt")]);
  assert.equal(v.code, 0, v.stderr);
  // Valid for at least another 5 years (they are made for 10).
  for (const f of ["ca.crt", "localhost.crt"]) {
    const r = await runProc([
      "openssl",
      "x509",
      "-in",
      join(CERTS, f),
      "-noout",
      "-checkend",
      String(5 * 365 * 86400),
    ]);
    assert.equal(r.code, 0, `${f} expires within 5 years; rerun scripts/make-certs.sh`);
  }
  assert.match(await Deno.readTextFile(join(CERTS, "README.md")), /PUBLIC TEST MATERIAL/);
});

Deno.test("ca: usage errors are exit 2 with one line; a missing CA or request is exit 1 naming it", async () => {
  const cases: [string[], number, RegExp][] = [
    [["ca", "frob"], 2, /<action>: 'frob' is not one of init, request, sign/],
    [["ca", "sign"], 2, /missing <csr>/],
    [["ca", "init", "--key", "k.pem"], 2, /--key does not apply to 'ca init'/],
    [
      ["ca", "sign", "x.csr", "--not-after", "2021-13-01"],
      2,
      /--not-after: '2021-13-01' is not a date/,
    ],
    [
      ["ca", "sign", "x.csr", "--name", "no such name"],
      2,
      /--name: 'no such name' is not a host name/,
    ],
    [
      ["ca", "sign", "x.csr", "--dir", "/nonexistent/ca"],
      1,
      /no CA in \/nonexistent\/ca .*socklab ca init/,
    ],
    [
      ["ca", "sign", "/nonexistent/x.csr", "--dir", CERTS],
      1,
      /certificate request \/nonexistent\/x\.csr: no such file/,
    ],
  ];
  for (const [args, code, re] of cases) {
    const r = await runSocklab(args);
    assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
    assert.match(
      r.stderr.split("\n")[0],
      new RegExp(`^socklab ca: error: ${re.source}`),
      args.join(" "),
    );
    assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
  }
});

Deno.test("ca: a missing openssl is one clear line (empty PATH, or a wrong SOCKLAB_OPENSSL)", async () => {
  const empty = await Deno.makeTempDir({ prefix: "socklab-nopath-" });
  try {
    const envs: Record<string, string>[] = [{ PATH: empty }, {
      SOCKLAB_OPENSSL: join(empty, "openssl"),
    }];
    for (const env of envs) {
      const r = await runSocklab(["ca", "init", "--dir", join(empty, "ca")], { env });
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        /^socklab ca: error: openssl not found \(.*openssl\): install it \(sudo apt-get install openssl\) or set SOCKLAB_OPENSSL to its path\n$/,
      );
    }
  } finally {
    await Deno.remove(empty, { recursive: true });
  }
});
