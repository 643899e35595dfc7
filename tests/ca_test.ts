/**
 * Part 5's certificate authority: `socklab ca` (init, request, sign), its
 * pure helpers, the demo certificates in certs/ and scripts/make-certs.ts.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { opensslDate, opensslReason, subjectAltName, validName } from "../mod/tls/ca.ts";
import { denoRunArgv, ROOT, runProc, runSocklab, startServer } from "../scripts/lib/proc.ts";
import { CERTS, certText, DEMO_CA, getFixtures, ok } from "./helpers/tls.ts";

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

Deno.test("ca init, request, sign: the handout's steps, then secure-pmu serves the result", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "socklab-ca-test-" });
  try {
    await t.step("init makes a v3 CA certificate with the lab's subject", async () => {
      assert.deepEqual(await ok(["ca", "init"], { cwd: dir }), ["lab-ca/ca.crt", "lab-ca/ca.key"]);
      const ca = await certText(join(dir, "lab-ca/ca.crt"));
      assert.match(ca, /Version: 3/);
      assert.match(ca, /CA:TRUE/);
      assert.match(
        ca,
        /Subject: C = CH, ST = Vaud, L = Lausanne, O = LCA2, OU = CS, CN = socklab lab CA/,
      );
    });

    await t.step("a second init does not destroy the CA", async () => {
      const again = await runSocklab(["ca", "init"], { cwd: dir });
      assert.equal(again.code, 1);
      assert.match(
        again.stderr,
        /^socklab ca: error: lab-ca\/ca\.crt already exists; use --force/m,
      );
    });

    await t.step("request with the handout's names makes a private 2048-bit key", async () => {
      assert.deepEqual(
        await ok(
          ["ca", "request", "--key", "CAMIPRO1_key.pem", "--csr", "CAMIPRO1.csr", "--cn", "banana"],
          { cwd: dir },
        ),
        ["CAMIPRO1_key.pem", "CAMIPRO1.csr"],
      );
      const mode = (await Deno.stat(join(dir, "CAMIPRO1_key.pem"))).mode!;
      assert.equal(mode & 0o077, 0, "key is private");
      const rsa = await runProc(
        ["openssl", "rsa", "-in", join(dir, "CAMIPRO1_key.pem"), "-noout", "-text"],
      );
      assert.match(rsa.stdout, /Private-Key: \(2048 bit/);
    });

    await t.step("a second request reuses the key", async () => {
      const r2 = await runSocklab(
        ["ca", "request", "--key", "CAMIPRO1_key.pem", "--csr", "again.csr"],
        { cwd: dir },
      );
      assert.equal(r2.code, 0);
      assert.equal(r2.stdout, "again.csr\n");
      assert.match(r2.stderr, /using the existing key CAMIPRO1_key\.pem/);
    });

    await t.step("sign makes a v3 server certificate for localhost, 127.0.0.1, ::1", async () => {
      assert.deepEqual(await ok(["ca", "sign", "CAMIPRO1.csr"], { cwd: dir }), ["CAMIPRO1.crt"]);
      const crt = await certText(join(dir, "CAMIPRO1.crt"));
      assert.match(crt, /Version: 3/);
      assert.match(crt, /Subject: CN = banana/);
      assert.match(crt, /DNS:localhost, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1/);
      assert.match(crt, /TLS Web Server Authentication/);
    });

    await t.step("openssl verifies it against the CA", async () => {
      const v = await runProc(
        ["openssl", "verify", "-CAfile", "lab-ca/ca.crt", "CAMIPRO1.crt"],
        { cwd: dir },
      );
      assert.equal(v.stdout.trim(), "CAMIPRO1.crt: OK", v.stderr);
    });

    await t.step("secure-pmu serves it and secure-pdc accepts it with that CA", async () => {
      const { proc: server, port } = await startServer([
        "secure-pmu",
        join(dir, "CAMIPRO1.crt"),
        join(dir, "CAMIPRO1_key.pem"),
        "--host",
        "127.0.0.1",
        "--count",
        "2",
      ]);
      await using _s = server;
      const r = await runSocklab(
        ["secure-pdc", "--port", String(port), "CMD_short:0", join(dir, "lab-ca/ca.crt")],
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "This is PMU data 0\nThis is PMU data 1\n");
    });
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
    assert.equal(r.code, 0, `${f} expires within 5 years; rerun deno task certs`);
  }
  assert.match(await Deno.readTextFile(join(CERTS, "README.md")), /PUBLIC TEST MATERIAL/);
});

Deno.test("scripts/make-certs.ts makes the demo CA and a localhost certificate through socklab ca", async () => {
  const dir = await Deno.makeTempDir({ prefix: "socklab-make-certs-" });
  try {
    const r = await runProc(denoRunArgv(join(ROOT, "scripts/make-certs.ts")), {
      env: { CERTS_DIR: dir },
      timeoutMs: 90_000,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /localhost\.crt: OK/);
    const files = [];
    for await (const e of Deno.readDir(dir)) files.push(e.name);
    assert.deepEqual(files.sort(), ["ca.crt", "ca.key", "localhost.crt", "localhost.key"]);
    assert.match(
      await certText(join(dir, "localhost.crt")),
      /Not After : .* 20(3[6-9]|[4-9]\d) GMT/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
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
  const results = await Promise.all(cases.map(([args]) => runSocklab(args)));
  for (const [i, [args, code, re]] of cases.entries()) {
    const r = results[i];
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
