import assert from "node:assert/strict";
import { join } from "node:path";
import { opensslDate, opensslReason, subjectAltName, validName } from "../mod/tls/ca.ts";
import { tlsReason } from "../mod/tls/client.ts";
import {
  denoRunArgv,
  Proc,
  ROOT,
  runProc,
  runSocklab,
  spawnSocklab,
  startServer,
} from "../scripts/lib/proc.ts";
import { netnsTest } from "./helpers/netns.ts";
import { freeTcpPort } from "../mod/net/ports.ts";

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

// ---------------------------------------------------------------------------
// secure-pmu and secure-pdc

const LOCAL_CRT = join(CERTS, "localhost.crt");
const LOCAL_KEY = join(CERTS, "localhost.key");

/** secure-pmu on 127.0.0.1 and a free port, with these certificate and key. */
function startSecurePmu(cert = LOCAL_CRT, key = LOCAL_KEY, extra: string[] = []) {
  return startServer(["secure-pmu", cert, key, "--host", "127.0.0.1", "--count", "5", ...extra]);
}

/** secure-pdc to localhost:port (the default --host: 127.0.0.1, and the name checked). */
function securePdc(port: number, ca: string, extra: string[] = [], command = "CMD_short:0") {
  return runSocklab(["secure-pdc", "--port", String(port), ...extra, command, ca]);
}

const FIVE = [0, 1, 2, 3, 4].map((i) => `This is PMU data ${i}`).join("\n") + "\n";

Deno.test("secure-pdc gets the PMU messages from secure-pmu over TLS (certs/ demo CA)", async () => {
  const { proc: server, port } = await startSecurePmu();
  await using _s = server;
  const r = await securePdc(port, DEMO_CA);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, FIVE);
  assert.match(r.stderr, /sending: CMD_short:0/);
  assert.match(
    server.stderr.text,
    /certificate .*localhost\.crt: subject CN=localhost; issuer .*socklab demo CA.*; names DNS:localhost, IP:127\.0\.0\.1, IP:::1/,
  );
  // Over IPv6 too: the certificate names ::1.
  const { proc: server6, port: port6 } = await startServer([
    "secure-pmu",
    LOCAL_CRT,
    LOCAL_KEY,
    "--host",
    "::1",
    "--count",
    "2",
  ]);
  await using _s6 = server6;
  const r6 = await runSocklab([
    "secure-pdc",
    "--host",
    "::1",
    "--port",
    String(port6),
    "CMD_short:0",
    DEMO_CA,
  ]);
  assert.equal(r6.code, 0, r6.stderr);
  assert.equal(r6.stdout, "This is PMU data 0\nThis is PMU data 1\n");
  const st = await server.stop();
  assert.equal(st.code, 0);
  assert.match(server.stderr.text, /secure-pmu: stopped \(SIGTERM\)/);
});

Deno.test("secure-pdc rejects a foreign CA, an expired certificate and a wrong name, with the reason", async () => {
  const f = await getFixtures();
  const cases: [string, RegExp][] = [
    [f.foreignCert, /certificate rejected: unknown issuer/],
    [f.expiredCert, /certificate rejected: expired \(not valid after 2021-01-01T00:00:00Z\)/],
    [
      f.otherNameCert,
      /certificate rejected: wrong name \(it is for banana\.test, not localhost; --no-hostname-check/,
    ],
  ];
  for (const [cert, reason] of cases) {
    const { proc: server, port } = await startSecurePmu(cert, f.key);
    await using _s = server;
    const r = await securePdc(port, DEMO_CA);
    assert.equal(r.code, 1, `${cert}: ${r.stderr}`);
    assert.equal(r.stdout, "");
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0],
      new RegExp(`^socklab secure-pdc: error: localhost:${port}: ${reason.source}`),
    );
    // The server logs the failed handshake and goes on.
    await server.stderr.waitFor(/handshake/);
    if (cert === f.expiredCert) {
      assert.match(
        server.stderr.text,
        /warning: certificate .*: it expired on 2021-01-01T00:00:00Z/,
      );
    }
  }
});

Deno.test("--no-hostname-check accepts the wrong-name certificate but still rejects the foreign CA", async () => {
  const f = await getFixtures();
  {
    const { proc: server, port } = await startSecurePmu(f.otherNameCert, f.key);
    await using _s = server;
    const r = await securePdc(port, DEMO_CA, ["--no-hostname-check"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, FIVE);
  }
  {
    const { proc: server, port } = await startSecurePmu(f.foreignCert, f.key);
    await using _s = server;
    const r = await securePdc(port, DEMO_CA, ["--no-hostname-check"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /certificate rejected: unknown issuer/);
    // And the foreign CA's own certificate is what accepts it.
    const ok2 = await securePdc(port, f.foreignCa);
    assert.equal(ok2.code, 0, ok2.stderr);
  }
});

Deno.test("a plain TCP client and a failed handshake do not stop secure-pmu serving the next client", async () => {
  const f = await getFixtures();
  const { proc: server, port } = await startSecurePmu();
  await using _s = server;
  // Plain TCP: the command in clear text gets a TLS alert back, not data.
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  await tcp.write(new TextEncoder().encode("CMD_short:0"));
  const buf = new Uint8Array(1024);
  const n = await tcp.read(buf).catch(() => null);
  assert.ok(n === null || !new TextDecoder().decode(buf.subarray(0, n)).includes("PMU data"));
  tcp.close();
  await server.stderr.waitFor(/not a TLS client/);
  // A client that does not trust the certificate aborts the handshake.
  const r1 = await securePdc(port, f.foreignCa);
  assert.equal(r1.code, 1);
  await server.stderr.waitFor(/rejected the certificate/);
  // A client that connects and leaves.
  (await Deno.connect({ hostname: "127.0.0.1", port })).close();
  const r2 = await securePdc(port, DEMO_CA);
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(r2.stdout, FIVE);
  await server.stderr.waitFor(/closed the connection during the handshake/);
});

Deno.test("secure-pmu: a silent client times out of the handshake, and SIGTERM ends it at once", async () => {
  const { proc: server, port } = await startSecurePmu(LOCAL_CRT, LOCAL_KEY, [
    "--idle-timeout",
    "0.5",
  ]);
  await using _s = server;
  const silent = await Deno.connect({ hostname: "127.0.0.1", port });
  await server.stderr.waitFor(/TLS handshake failed: no TLS handshake within 0\.5 s/);
  silent.close();
  // Another silent client holds a connection while the server is asked to stop.
  const { proc: server2, port: port2 } = await startSecurePmu();
  await using _s2 = server2;
  const held = await Deno.connect({ hostname: "127.0.0.1", port: port2 });
  try {
    const t0 = Date.now();
    const st = await server2.stop(8_000);
    assert.equal(st.code, 0, server2.stderr.text);
    assert.ok(Date.now() - t0 < 7_000, "stopped without waiting for the silent client");
    // The held connection may still be in the backlog when SIGTERM comes: 0 or 1 served.
    assert.match(server2.stderr.text, /secure-pmu: stopped \(SIGTERM\); served [01] connection/);
  } finally {
    held.close();
  }
});

Deno.test("openssl s_client -CAfile receives the messages from secure-pmu", async () => {
  const { proc: server, port } = await startSecurePmu();
  await using _s = server;
  const r = await runProc([
    "openssl",
    "s_client",
    "-quiet",
    "-CAfile",
    DEMO_CA,
    "-verify_return_error",
    "-verify_hostname",
    "localhost",
    "-connect",
    `127.0.0.1:${port}`,
  ], { input: "CMD_short:0" });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, FIVE.replaceAll("\n", ""));
  assert.match(r.stderr, /verify return:1/);
});

Deno.test("secure-pdc verifies and reads openssl s_server (a certificate signed by the demo CA)", async () => {
  await using sserver = new Proc([
    "openssl",
    "s_server",
    "-accept",
    "127.0.0.1:0",
    "-cert",
    LOCAL_CRT,
    "-key",
    LOCAL_KEY,
    "-naccept",
    "1",
  ], { stdin: true });
  const port = Number((await sserver.stdout.waitFor(/^ACCEPT 127\.0\.0\.1:(\d+)/))[1]);
  // s_server sends what it reads on stdin; the PMU stream has no separators.
  await sserver.writeStdin("This is PMU data 0This is PMU data 1This is PMU data 2");
  await using pdc = spawnSocklab(["secure-pdc", "--port", String(port), "CMD_short:0", DEMO_CA]);
  // The last message is complete only when the stream ends (its number could go on).
  await pdc.stdout.waitForLines(2);
  // s_server got the command (it prints what it receives; closing with unread bytes
  // would reset the connection). Then end of stdin: s_server closes and exits.
  await sserver.stdout.waitForText(/CMD_short:0/);
  await sserver.closeStdin();
  const st = await pdc.exited();
  assert.equal(st.code, 0, pdc.stderr.text);
  assert.equal(pdc.stdout.text, "This is PMU data 0\nThis is PMU data 1\nThis is PMU data 2\n");
  assert.equal((await sserver.exited()).code, 0);
});

Deno.test("ca request + ca sign make a certificate that secure-pmu serves and secure-pdc accepts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "socklab-ca-flow-" });
  try {
    await ok(["ca", "init", "--dir", "ca"], { cwd: dir });
    await ok([
      "ca",
      "request",
      "--key",
      "CAMIPRO1_key.pem",
      "--csr",
      "CAMIPRO1.csr",
      "--cn",
      "banana",
    ], { cwd: dir });
    await ok(["ca", "sign", "CAMIPRO1.csr", "--dir", "ca"], { cwd: dir });
    const { proc: server, port } = await startSecurePmu(
      join(dir, "CAMIPRO1.crt"),
      join(dir, "CAMIPRO1_key.pem"),
    );
    await using _s = server;
    const r = await securePdc(port, join(dir, "ca/ca.crt"));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, FIVE);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("secure-pmu: a missing, mismatched or v1 certificate is one startup line naming the file", async () => {
  const f = await getFixtures();
  const v1 = join(f.dir, "v1.crt");
  // What `openssl x509 -req` makes without extensions: a v1 certificate.
  const made = await runProc([
    "openssl",
    "x509",
    "-req",
    "-in",
    join(f.dir, "pmu.csr"),
    "-CA",
    DEMO_CA,
    "-CAkey",
    join(CERTS, "ca.key"),
    "-out",
    v1,
    "-days",
    "30",
  ]);
  assert.equal(made.code, 0, made.stderr);
  const cases: [string[], RegExp][] = [
    [["/nonexistent/pmu.crt", LOCAL_KEY], /certificate \/nonexistent\/pmu\.crt: no such file/],
    [[LOCAL_CRT, "/nonexistent/key.pem"], /key \/nonexistent\/key\.pem: no such file/],
    [
      [LOCAL_KEY, LOCAL_CRT],
      /certificate .*localhost\.key holds no PEM certificate .*swap the two arguments/,
    ],
    [[LOCAL_CRT, f.key], /certificate .*localhost\.crt and key .*pmu_key\.pem do not match/],
    [[v1, f.key], /certificate .*v1\.crt is an X\.509 v1 certificate/],
  ];
  const results = await Promise.all(
    cases.map(([files]) =>
      runSocklab(["secure-pmu", ...files, "--host", "127.0.0.1", "--port", "0"])
    ),
  );
  for (const [i, [files, re]] of cases.entries()) {
    const r = results[i];
    assert.equal(r.code, 1, `${files}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^socklab secure-pmu: error: ${re.source}.*\\n$`));
  }
});

Deno.test("secure-pdc: a refused connection or a bad CA file is exit 1 naming it", async () => {
  const port = freeTcpPort();
  const r = await securePdc(port, DEMO_CA);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    new RegExp(`^socklab secure-pdc: error: connection refused by localhost:${port}`, "m"),
  );
  const r2 = await securePdc(port, "/nonexistent/ca.crt");
  assert.equal(r2.code, 1);
  assert.match(
    r2.stderr,
    /^socklab secure-pdc: error: CA certificate \/nonexistent\/ca\.crt: no such file$/m,
  );
  const r3 = await securePdc(port, LOCAL_KEY);
  assert.equal(r3.code, 1);
  assert.match(r3.stderr, /holds no PEM certificate/);
});

netnsTest(
  "defaults: secure-pmu on localhost (127.0.0.1):5003, secure-pdc to localhost:5003, the lab's prototypes",
  async (ns) => {
    await using server = spawnSocklab(["secure-pmu", LOCAL_CRT, LOCAL_KEY, "--count", "2"], {
      prefix: ns.prefix,
    });
    const { host, port } = await server.listening();
    assert.equal(`${host}:${port}`, "127.0.0.1:5003");
    const r = await runSocklab(["secure-pdc", "CMD_short:0", DEMO_CA], { prefix: ns.prefix });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "This is PMU data 0\nThis is PMU data 1\n");
  },
);
