import assert from "node:assert/strict";
import { join } from "node:path";
import { tlsReason } from "../mod/tls/client.ts";
import { Proc, runProc, runSocklab, spawnSocklab, startServer } from "../scripts/lib/proc.ts";
import { STUDENTS } from "./helpers/grade.ts";
import { netnsTest } from "./helpers/netns.ts";
import { CERTS, DEMO_CA, getFixtures, LOCAL_CRT, LOCAL_KEY } from "./helpers/tls.ts";
import { freeTcpPort } from "../mod/net/ports.ts";

// ---------------------------------------------------------------------------
// Pure cores

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
// secure-pmu and secure-pdc

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

Deno.test("secure-pdc shows every message of a server that sends them and never closes", async () => {
  // Many real part 5 servers kept the connection open: the last message is complete when
  // the stream has been idle (0.5 s), not only when the next begins or the server closes.
  const student = STUDENTS + "part5_never_close.py";
  await using server = new Proc(["python3", student, LOCAL_CRT, LOCAL_KEY, "0"]);
  const [, port] = await server.stdout.waitFor(/listening on port (\d+)/);
  await using pdc = spawnSocklab(["secure-pdc", "--port", port, "CMD_short:0", DEMO_CA]);
  await pdc.stdout.waitFor(/This is PMU data 2/, 10_000);
  assert.deepEqual(pdc.stdout.lines, [0, 1, 2].map((i) => `This is PMU data ${i}`));
  assert.equal(
    await Promise.race([pdc.status.then(() => "exited"), Promise.resolve("running")]),
    "running",
  );
});
