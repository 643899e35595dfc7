/**
 * Real captures: `--capture` and `--packets` run tcpdump around a client's exchange, as root
 * in a private network namespace (loopback only), and the files decode to what was sent:
 * pdc at d=0, at d>0 (one segment per message) and the flood (its bytes covered once);
 * pdc-udp with lost answers (one datagram per attempt and family); TLS (ClientHello,
 * ServerHello, TLS 1.3); WebSocket (101 and binary frames). Then the paths without a capture:
 * tcpdump without the privilege (as uid 65534) or missing, and `packets` on bad files.
 */
import assert from "node:assert/strict";
import { type Analysis, analyze } from "../mod/packets/analyze.ts";
import { frame, ipPacket, tcpSegment } from "./helpers/packets.ts";
import { TCP } from "../mod/packets/decode.ts";
import { LINKTYPE, readPcap, writePcap } from "../mod/packets/pcap.ts";
import { floodText, pmuMessages } from "../mod/pmu/mod.ts";
import { ROOT, runSocklab, spawnSocklab, startServer } from "../scripts/lib/proc.ts";
import { DUAL_STACK_HOSTS, netnsTest } from "./helpers/netns.ts";
import { requireTool } from "./helpers/requires.ts";

const enc = new TextEncoder();

/** tcpdump (what --capture runs) and setpriv (which runs it, and drops privileges below). */
function requireCaptureTools(): string {
  requireTool("setpriv", "util-linux");
  return requireTool("tcpdump", "tcpdump");
}

async function decoded(path: string): Promise<Analysis> {
  return analyze(readPcap(await Deno.readFile(path)));
}

/** The server's data segments of conversation 1 that are not retransmissions. */
function serverData(an: Analysis) {
  return an.packets.filter((p) => p.dir === "s2c" && p.len > 0 && !p.retransmission);
}

netnsTest("pdc --capture: d=0 and d>0 and the flood, decoded from tcpdump's file", async (ns) => {
  requireCaptureTools();
  const dir = await Deno.makeTempDir({ prefix: "socklab-packets-" });
  try {
    const { proc, port } = await startServer(
      ["pmu", "--host", "127.0.0.1", "--count", "15"],
      { prefix: ns.prefix },
    );
    await using _server = proc;
    const pdc = (cmd: string, file: string, more: string[] = []) =>
      runSocklab(["pdc", "127.0.0.1", String(port), cmd, "--capture", file, ...more], {
        prefix: ns.prefix,
      });
    const messages = pmuMessages(15);

    const r0 = await pdc("CMD_short:0", `${dir}/d0.pcap`, ["--packets"]);
    assert.equal(r0.code, 0, r0.stderr);
    assert.equal(r0.stdout, messages.join("\n") + "\n");
    assert.match(r0.stderr, /capture: \d+ packets of 'tcp port \d+' on lo in .*d0\.pcap/);
    assert.doesNotMatch(r0.stderr, /dropped/);
    // --packets: the view on stderr, after the exchange.
    assert.match(r0.stderr, /client -> server TCP \[SYN\] seq=0/);
    assert.match(r0.stderr, /PMU: CMD_short:0 -> 15 messages \(15 send\(\) calls by the server\)/);
    const d0 = await decoded(`${dir}/d0.pcap`);
    assert.equal(d0.conversations.length, 1);
    assert.equal(d0.conversations[0].app, "pmu");
    assert.equal(d0.conversations[0].s2c.missingBytes, 0);
    const bytes0 = serverData(d0).reduce((n, p) => n + p.len, 0);
    assert.equal(bytes0, messages.join("").length);

    // d > 0 (0.1 s keeps the test short; the server sleeps between sends as at d=1).
    const r1 = await pdc("CMD_short:0.1", `${dir}/d1.pcap`);
    assert.equal(r1.code, 0, r1.stderr);
    const d1 = await decoded(`${dir}/d1.pcap`);
    assert.deepEqual(serverData(d1).map((p) => p.decode), messages);

    const rf = await pdc("CMD_floodme", `${dir}/flood.pcap`);
    assert.equal(rf.code, 0, rf.stderr);
    const fl = await decoded(`${dir}/flood.pcap`);
    const segs = serverData(fl);
    const flood = floodText();
    // The segments, in order, cover bytes 0..n-1 exactly once (retransmissions aside).
    let next = 0;
    for (const s of segs) {
      assert.equal(s.decode, `flood bytes ${next}..${next + s.len - 1}`);
      next += s.len;
    }
    assert.equal(next, enc.encode(flood).length);
    assert.match(
      fl.conversations[0].notes.join("\n"),
      /CMD_floodme -> 57344 bytes \(one send\(\) by the server\) in \d+ data segments; they cover bytes 0\.\.57343 exactly once/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

netnsTest("pdc-udp --capture: one RESET per attempt and family, answers lost", async (ns) => {
  requireCaptureTools();
  const dir = await Deno.makeTempDir({ prefix: "socklab-packets-" });
  try {
    const { proc, port } = await startServer(
      ["pmu-udp", "--family", "dual", "--drop", "0", "--drop-first", "2", "--seed", "1"],
      { prefix: ns.prefix },
    );
    await using _server = proc;
    const r = await runSocklab(
      ["pdc-udp", "localhost", String(port), "--timeout", "0.3", "--capture", `${dir}/udp.pcap`],
      { prefix: ns.prefix },
    );
    assert.equal(r.code, 0, r.stderr);
    const attempts = Number(/attempts: (\d+)/.exec(r.stderr)![1]);
    assert.ok(attempts >= 2, r.stderr);
    const an = await decoded(`${dir}/udp.pcap`);
    const families = an.conversations.map((c) => c.client.startsWith("[") ? 6 : 4).sort();
    assert.deepEqual(families, [4, 6]);
    for (const c of an.conversations) {
      assert.equal(c.app, "reset");
      assert.equal(c.c2s.packets, attempts, JSON.stringify(c));
    }
    const resets = an.packets.filter((p) => p.decode === "RESET:20");
    assert.equal(resets.length, 2 * attempts);
    assert.ok(an.packets.some((p) => p.dir === "s2c" && /^OFFSET:\d+$/.test(p.decode)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}, { hosts: DUAL_STACK_HOSTS });

netnsTest("secure-pdc and ws-pdc --capture: TLS handshake and WebSocket frames", async (ns) => {
  requireCaptureTools();
  const dir = await Deno.makeTempDir({ prefix: "socklab-packets-" });
  try {
    const tls = await startServer(
      [
        "secure-pmu",
        `${ROOT}certs/localhost.crt`,
        `${ROOT}certs/localhost.key`,
        "--host",
        "127.0.0.1",
        "--count",
        "3",
      ],
      { prefix: ns.prefix },
    );
    await using _tls = tls.proc;
    const r = await runSocklab(
      [
        "secure-pdc",
        "--port",
        String(tls.port),
        "CMD_short:0",
        `${ROOT}certs/ca.crt`,
        "--capture",
        `${dir}/tls.pcap`,
      ],
      { prefix: ns.prefix },
    );
    assert.equal(r.code, 0, r.stderr);
    const t = await decoded(`${dir}/tls.pcap`);
    assert.equal(t.conversations[0].app, "tls");
    const lines = t.packets.map((p) => p.decode).join("\n");
    assert.match(lines, /TLS Handshake TLS 1\.0 len=\d+: ClientHello \(offers TLS 1\.3, TLS 1\.2/);
    assert.match(lines, /ServerHello \(TLS 1\.3, TLS_/);
    assert.match(
      lines,
      /ApplicationData TLS 1\.2 len=\d+: encrypted handshake \(EncryptedExtensions, Certificate/,
    );
    assert.match(
      t.conversations[0].notes.join("\n"),
      /server chose TLS 1\.3.*handshake 1 round trip/,
    );
    assert.match(t.conversations[0].notes.join("\n"), /certificate: encrypted/);

    const ws = await startServer(["ws-pmu", "--host", "127.0.0.1", "--count", "3"], {
      prefix: ns.prefix,
    });
    await using _ws = ws.proc;
    const w = await runSocklab(
      ["ws-pdc", "127.0.0.1", String(ws.port), "CMD_short:0", "--capture", `${dir}/ws.pcap`],
      { prefix: ns.prefix },
    );
    assert.equal(w.code, 0, w.stderr);
    const a = await decoded(`${dir}/ws.pcap`);
    const d = a.packets.map((p) => p.decode).join("\n");
    assert.match(d, /HTTP GET \/ HTTP\/1\.1 \(Upgrade: websocket\)/);
    assert.match(d, /HTTP HTTP\/1\.1 101 Switching Protocols/);
    assert.match(d, /WS text FIN masked len=11 "CMD_short:0"/);
    assert.match(d, /WS binary FIN len=18 "This is PMU data 0"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

netnsTest("sender --capture: each multicast datagram's ID and text", async (ns) => {
  requireCaptureTools();
  const dir = await Deno.makeTempDir({ prefix: "socklab-packets-" });
  try {
    const r = await runSocklab(
      ["sender", "224.1.1.1", "10505", "123456", "--capture", `${dir}/mc.pcap`, "--packets"],
      { prefix: ns.prefix, input: "hello\nworld, again\n" },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /capture: 2 packets of 'udp port 10505' on lo in /);
    const an = await decoded(`${dir}/mc.pcap`);
    assert.deepEqual(an.packets.map((p) => p.decode), [
      'multicast ID "123456" text "hello"',
      'multicast ID "123456" text "world, again"',
    ]);
    assert.equal(an.conversations[0].app, "multicast");
    assert.equal(an.conversations[0].server, "224.1.1.1:10505");
    assert.match(r.stderr, /multicast to 224\.1\.1\.1:10505: 2 with ID "123456"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** True once process `pid` has ended (gone, or a zombie nobody reaped yet). */
async function ended(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

netnsTest(
  "socklab killed mid-exchange: tcpdump stops too, and its file is complete",
  async (ns) => {
    requireCaptureTools();
    const dir = await Deno.makeTempDir({ prefix: "socklab-packets-" });
    try {
      const { proc, port } = await startServer(["pmu", "--host", "127.0.0.1", "--count", "15"], {
        prefix: ns.prefix,
      });
      await using _server = proc;
      await using pdc = spawnSocklab(
        ["pdc", "127.0.0.1", String(port), "CMD_short:1", "--capture", `${dir}/k.pcap`],
        { prefix: ns.prefix },
      );
      await pdc.stderr.waitFor(/^capture: recording 'tcp port \d+' on lo into /);
      await pdc.stdout.waitFor(/^This is PMU data 1$/);
      const children = await new Deno.Command("pgrep", {
        args: ["-P", String(pdc.child.pid), "-x", "tcpdump"],
        stdout: "piped",
      }).output();
      const tcpdump = Number(new TextDecoder().decode(children.stdout).trim());
      assert.ok(tcpdump > 0, "tcpdump runs as socklab's child");
      pdc.child.kill("SIGKILL");
      await pdc.status;
      const deadline = Date.now() + 5_000;
      while (!(await ended(tcpdump)) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(await ended(tcpdump), "tcpdump outlived socklab");
      const an = await decoded(`${dir}/k.pcap`);
      assert.equal(an.truncated, false);
      assert.equal(an.packets[0].flags, "SYN");
      assert.ok(serverData(an).length >= 2);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("--capture without the privilege or without tcpdump: one line, the exchange runs", async () => {
  const tcpdump = requireCaptureTools();
  const dir = await Deno.makeTempDir({ prefix: "socklab-packets-" });
  try {
    const { proc, port } = await startServer(["pmu", "--host", "127.0.0.1", "--count", "2"]);
    await using _server = proc;
    // tcpdump as uid 65534 (no CAP_NET_RAW): the way a student's account runs it.
    const wrapper = `${dir}/tcpdump-nobody`;
    await Deno.writeTextFile(
      wrapper,
      `#!/bin/sh\nexec setpriv --reuid 65534 --regid 65534 --clear-groups ${tcpdump} "$@"\n`,
    );
    await Deno.chmod(wrapper, 0o755);
    for (const tool of [wrapper, `${dir}/no-such-tcpdump`]) {
      const r = await runSocklab(
        [
          "pdc",
          "127.0.0.1",
          String(port),
          "CMD_short:0",
          "--capture",
          `${dir}/x.pcap`,
          "--packets",
        ],
        { env: { SOCKLAB_TCPDUMP: tool } },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "This is PMU data 0\nThis is PMU data 1\n");
      const notes = r.stderr.split("\n").filter((l) => l.startsWith("capture:"));
      assert.equal(notes.length, 1, r.stderr);
      if (tool === wrapper) {
        assert.match(
          notes[0],
          /capture: not recording, .*(permission|not permitted).*root or CAP_NET_RAW/i,
        );
      } else {
        assert.match(notes[0], /capture: not recording, .*no-such-tcpdump is not installed/);
      }
      assert.doesNotMatch(r.stderr, /summary of conversation/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("packets: a file that is missing or not a pcap is one error line, exit 1", async () => {
  const missing = await runSocklab(["packets", "/nonexistent/x.pcap"]);
  assert.equal(missing.code, 1);
  assert.equal(
    missing.stderr,
    "socklab packets: error: pcap file /nonexistent/x.pcap: no such file\n",
  );
  const notPcap = await runSocklab(["packets", `${ROOT}deno.json`]);
  assert.equal(notPcap.code, 1);
  assert.match(
    notPcap.stderr,
    /^socklab packets: error: .*deno\.json: not a pcap file \(magic number [0-9a-f]{8}\)\n$/,
  );
  // A good file, as JSON.
  const dir = await Deno.makeTempDir({ prefix: "socklab-packets-" });
  try {
    const seg = tcpSegment({ sport: 40000, dport: 5003, seq: 1, flags: TCP.SYN, mss: 1460 });
    const data = frame(LINKTYPE.LINUX_SLL, ipPacket("127.0.0.1", "127.0.0.1", 6, seg));
    await Deno.writeFile(
      `${dir}/syn.pcap`,
      writePcap(LINKTYPE.LINUX_SLL, [{ timeUs: 1, origLen: data.length, data }]),
    );
    const r = await runSocklab(["packets", "--json", `${dir}/syn.pcap`]);
    assert.equal(r.code, 0, r.stderr);
    const an = JSON.parse(r.stdout);
    assert.equal(an.packets[0].flags, "SYN");
    assert.equal(an.packets[0].decode, "mss=1460");
    assert.equal(an.conversations[0].client, "127.0.0.1:40000");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
