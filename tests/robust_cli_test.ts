/**
 * Issue 21, the command line: output that cannot be written, files that are not files,
 * exit codes scripts can trust, and the small ones (negative values, no arguments, ca sign
 * over an existing certificate, a line too long for the sender, a corrupt CA file).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { makeIo } from "../mod/cli/io.ts";
import { EventLog } from "../mod/cli/log.ts";
import { RefusalGate } from "../mod/tcp/answer.ts";
import { foreignAnswer } from "../mod/pmu/mod.ts";
import { ROOT, runProc, runSocklab, socklabArgv, startServer } from "../scripts/lib/proc.ts";

const CERTS = join(ROOT, "certs");
const CERT = join(CERTS, "localhost.crt");
const KEY = join(CERTS, "localhost.key");
const enc = new TextEncoder();

Deno.test("a failed log write is dropped and counted, never thrown, and said once it works", () => {
  let full = true;
  const written: string[] = [];
  const stderr = {
    writeSync(p: Uint8Array) {
      if (full) throw new Error("No space left on device (os error 28)");
      written.push(new TextDecoder().decode(p));
      return p.length;
    },
  };
  const stdout = { writeSync: (p: Uint8Array) => p.length };
  const io = makeIo(stdout, stderr, () => new Promise(() => {}));
  for (let i = 0; i < 5; i++) io.log(`line ${i}`);
  assert.deepEqual(io.logFailures(), {
    dropped: 5,
    reason: "No space left on device",
  });
  full = false;
  io.log("back");
  io.log("again");
  assert.deepEqual(written, [
    "log: 5 line(s) dropped (writing them failed: No space left on device)\n",
    "back\n",
    "again\n",
  ]);
});

Deno.test("EventLog: at most `burst` lines a period, then one count", () => {
  const out: string[] = [];
  const events = new EventLog((l) => out.push(l), { burst: 3, every: 3600 });
  for (let i = 0; i < 10; i++) events.log(`datagram ${i}`);
  assert.deepEqual(out, ["datagram 0", "datagram 1", "datagram 2"]);
  events.flush();
  assert.equal(out[3], "... 7 more line(s) in the last 3600 s (not shown: more than 3 per 3600 s)");
  events.flush(); // nothing pending: nothing said
  assert.equal(out.length, 4);
  const quiet: string[] = [];
  const q = new EventLog((l) => quiet.push(l), { quiet: true, every: 3600 });
  for (let i = 0; i < 12_345; i++) q.log("x");
  q.flush();
  assert.deepEqual(quiet, ["... 12,345 more line(s) in the last 3600 s (not shown: --quiet)"]);
});

Deno.test("pdc's answer check: TLS records and binary are not the PMU protocol; refusals held", () => {
  const notPmu = (head: Uint8Array) => foreignAnswer(head, "pmu");
  assert.match(notPmu(new Uint8Array([0x15, 0x03, 0x03, 0, 2, 2, 50]))!, /a TLS alert/);
  assert.match(notPmu(new Uint8Array([0x17, 0x03, 0x03, 0, 2, 2, 50]))!, /a TLS record/);
  assert.match(notPmu(new Uint8Array([0, 1, 2, 3, 250]))!, /binary/);
  assert.match(notPmu(enc.encode("HTTP/1.1 400 Bad Request\r\n"))!, /\(use ws-pdc\)$/);
  assert.equal(notPmu(enc.encode("This is PMU data 0")), null);
  assert.equal(notPmu(enc.encode("Wrong command.")), null);
  assert.equal(notPmu(enc.encode("é").subarray(0, 1)), null); // a cut character

  const run = (pieces: string[]) => {
    let out = "";
    const gate = new RefusalGate({ text: (t) => out += t, bytes: () => {} });
    for (const p of pieces) gate.text(p);
    return { refusal: gate.end(), out };
  };
  assert.deepEqual(run(["Wrong ", "command.", "\n"]), { refusal: "Wrong command.", out: "" });
  assert.deepEqual(run(["Server busy: too many connections, try again later.", "\n"]), {
    refusal: "Server busy: too many connections, try again later.",
    out: "",
  });
  assert.deepEqual(run(["Wrong", " answer\n"]), { refusal: null, out: "Wrong answer\n" });
  assert.deepEqual(run(["This is PMU data 0\n"]), { refusal: null, out: "This is PMU data 0\n" });
});

Deno.test("pdc exits 1 on an answer that is not the PMU protocol (binary, a TLS port)", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const binary = (async () => {
    const c = await listener.accept();
    await c.write(new Uint8Array([0, 159, 146, 150, 1, 2, 3]));
    c.close();
  })();
  try {
    const r = await runSocklab(["pdc", "127.0.0.1", String(listener.addr.port), "CMD_short:0"]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^socklab pdc: error: 127\.0\.0\.1:\d+: the answer is binary data/);
  } finally {
    await binary;
    listener.close();
  }
  const { proc: tls, port } = await startServer(["secure-pmu", "--host", "127.0.0.1", CERT, KEY]);
  await using _t = tls;
  const r = await runSocklab(["pdc", "127.0.0.1", String(port), "CMD_short:0"]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  assert.match(
    r.stderr,
    /^socklab pdc: error: 127\.0\.0\.1:\d+: the answer is a TLS alert, not the PMU protocol: this port speaks TLS \(use secure-pdc\)\n$/,
  );
});

Deno.test("stdout that fails (/dev/full) is one line and exit 1; a closed pipe is exit 0", async () => {
  const { proc: server, port } = await startServer(["pmu", "--host", "127.0.0.1", "--count", "2"]);
  await using _s = server;
  const argv = socklabArgv(["pdc", "127.0.0.1", String(port), "CMD_short:0"]);
  const full = await runProc(["sh", "-c", 'exec "$@" >/dev/full', "sh", ...argv]);
  assert.equal(full.code, 1);
  assert.equal(
    full.stderr,
    "socklab pdc: error: cannot write to stdout: No space left on device\n",
  );
  const help = await runProc([
    "sh",
    "-c",
    '"$@" | head -c 1 >/dev/null',
    "sh",
    ...socklabArgv([
      "--help",
    ]),
  ]);
  assert.equal(help.code, 0);
  assert.equal(help.stderr, "");
});

Deno.test("a FIFO, a device or a huge file as a certificate fails at once in one line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fifo = join(dir, "cert.fifo");
    const mk = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    assert.ok(mk.success);
    const big = join(dir, "big.pem");
    await Deno.writeFile(big, new Uint8Array(2 << 20));
    const cases: [string, RegExp][] = [
      [fifo, /: is a FIFO \(named pipe\), not a regular file$/],
      ["/dev/zero", /: is a character device, not a regular file$/],
      [big, /: too large \(2097152 bytes; at most 1 MiB\)$/],
    ];
    for (const [file, why] of cases) {
      // A hang (the FIFO) or a runaway read (/dev/zero) would hit the deadline instead.
      const r = await runSocklab(["secure-pmu", "--port", "0", file, KEY], { timeoutMs: 15_000 });
      assert.equal(r.code, 1, file);
      const lines = r.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], new RegExp(`^socklab secure-pmu: error: certificate ${file}`));
      assert.match(lines[0], why);
    }
    const r = await runSocklab(["pmu", "--port", "0", "--flood-file", "/dev/zero"]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^socklab pmu: error: cannot read --flood-file \/dev\/zero: is a character device/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("negative values are one-line usage errors; no arguments: help on stderr, exit 2", async () => {
  const port = await runSocklab(["pmu", "--port", "-5"]);
  assert.equal(port.code, 2);
  assert.equal(
    port.stderr,
    "socklab pmu: error: --port: '-5' is not a port number (0-65535)\n" +
      "Run 'socklab pmu --help' for usage.\n",
  );
  const days = await runSocklab(["ca", "init", "--days", "-1"]);
  assert.equal(days.code, 2);
  assert.match(days.stderr, /^socklab ca: error: --days: -1 is out of range \(1-inf\)\n/);
  const none = await runSocklab([]);
  assert.equal(none.code, 2);
  assert.equal(none.stdout, "");
  assert.match(none.stderr, /^socklab \S+: the TCP\/IP socket-programming lab/);
});

Deno.test("ca sign refuses to overwrite a certificate without --force", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ok = async (args: string[]) => {
      const r = await runSocklab(args, { cwd: dir });
      assert.equal(r.code, 0, r.stderr);
      return r;
    };
    await ok(["ca", "request", "--key", "k.pem", "--csr", "r.csr"]);
    await ok(["ca", "sign", "r.csr", "--dir", CERTS, "--out", "r.crt"]);
    const first = await Deno.readTextFile(join(dir, "r.crt"));
    const again = await runSocklab(["ca", "sign", "r.csr", "--dir", CERTS, "--out", "r.crt"], {
      cwd: dir,
    });
    assert.equal(again.code, 1);
    assert.equal(
      again.stderr,
      "socklab ca: error: r.crt already exists; use --force to replace it\n",
    );
    assert.equal(await Deno.readTextFile(join(dir, "r.crt")), first);
    await ok(["ca", "sign", "r.csr", "--dir", CERTS, "--out", "r.crt", "--force"]);
    assert.notEqual(await Deno.readTextFile(join(dir, "r.crt")), first);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sender skips a line too long for a datagram, says so, and sends the rest", async () => {
  // TTL 0 from 127.0.0.1: nothing leaves this host.
  const r = await runSocklab(
    ["sender", "--ttl", "0", "--iface", "127.0.0.1", "224.1.1.1", "10505", "123456"],
    { input: `first\n${"x".repeat(70_000)}\nthird\n` },
  );
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    /^socklab sender: error: line 2 is 70000 bytes: one datagram holds at most 65501 after the SCIPER; skipped$/m,
  );
  assert.match(r.stderr, /^sent: 123456first$/m);
  assert.match(r.stderr, /^sent: 123456third$/m);
  assert.match(r.stderr, /^sent 2 datagram\(s\), skipped 1 line\(s\) too long$/m);
});

Deno.test("secure-pdc names a corrupt CA file instead of blaming the server", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const pem = await Deno.readTextFile(join(CERTS, "ca.crt"));
    const lines = pem.trimEnd().split("\n");
    const corrupt = join(dir, "ca.crt");
    // The base64 of the certificate with a few characters changed: still PEM, not X.509.
    lines[3] = "!!!!" + lines[3].slice(4);
    await Deno.writeTextFile(corrupt, lines.join("\n") + "\n");
    const r = await runSocklab(["secure-pdc", "--port", "1", "CMD_short:0", corrupt]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(
        `^socklab secure-pdc: error: CA certificate ${corrupt} is corrupt: not a readable X\\.509 certificate`,
      ),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
