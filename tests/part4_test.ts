/**
 * Part 4 (multicast): tv, receiver, sender. Every test that sends a datagram
 * runs inside a private network namespace (netnsTest): a multicast datagram
 * in the main namespace would leave by the default route.
 */
import assert from "node:assert/strict";
import { UsageError } from "../mod/errors.ts";
import {
  encodeDatagram,
  formatDatagram,
  isMulticastV4,
  LineSplitter,
  oneLine,
  oversizedLines,
  parseGroup,
  parseId,
  parseSciper,
  parseScript,
  programme,
} from "../mod/multicast/datagram.ts";
import { DEFAULT_SCRIPT } from "../mod/multicast/script.ts";
import { type Proc, runProc, runSocklab, spawnSocklab } from "../scripts/lib/proc.ts";
import { type Netns, netnsTest } from "./helpers/netns.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const GROUP = "224.1.1.1";
const PORT = "10505";

// ---------------------------------------------------------------------------
// The pure core

Deno.test("groups, SCIPERs and IDs are validated, naming the bad value", () => {
  for (const g of ["224.0.0.1", "224.1.1.1", "239.255.255.255"]) assert.ok(isMulticastV4(g), g);
  for (const g of ["223.255.255.255", "240.0.0.1", "10.0.0.1", "224.1.1", "ff02::1", "x"]) {
    assert.ok(!isMulticastV4(g), g);
  }
  assert.throws(() => parseGroup("10.0.0.1"), {
    name: "UsageError",
    message: "<group>: '10.0.0.1' is not an IPv4 multicast address (224.0.0.0 to 239.255.255.255)",
  });
  assert.equal(parseSciper("123456"), "123456");
  for (const s of ["12345", "abcdef", "1234567", "12345a", " 12345"]) {
    assert.throws(() => parseSciper(s), UsageError, s);
  }
  assert.equal(parseId("swcmTV"), "swcmTV");
  assert.throws(() => parseId("swcm"), /--id: 'swcm' is not 6 printable ASCII characters/);
  assert.throws(() => parseId("swcmTé"), UsageError);
});

Deno.test("a datagram prints as one line in every format, whatever it holds", () => {
  const d = encodeDatagram("swcmTV", "But soft!");
  assert.deepEqual(d, enc("swcmTVBut soft!"));
  assert.equal(formatDatagram(d, "raw"), "swcmTVBut soft!");
  assert.equal(formatDatagram(d, "split"), "swcmTV | But soft!");
  assert.deepEqual(JSON.parse(formatDatagram(d, "json", "127.0.0.1:5")), {
    from: "127.0.0.1:5",
    id: "swcmTV",
    text: "But soft!",
    size: 15,
    utf8: true,
  });
  // Shorter than an ID: all of it is the ID.
  assert.equal(formatDatagram(new Uint8Array(0), "raw"), "");
  assert.equal(formatDatagram(enc("abc"), "split"), "abc | ");
  assert.deepEqual(JSON.parse(formatDatagram(enc("abc"), "json")).text, "");
  // Line breaks and control characters never split the line.
  assert.equal(
    formatDatagram(enc("swcmTVa\nb\r\n\x00\x1b[31m"), "raw"),
    "swcmTVa\\nb\\r\\n\\x00\\x1b[31m",
  );
  assert.equal(oneLine("tab\tstays\u2028"), "tab\tstays\\u2028");
  // Invalid UTF-8 is replaced, and said so in JSON.
  const bad = Uint8Array.of(0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0xff, 0xfe, 0x41);
  assert.equal(formatDatagram(bad, "raw"), "123456\ufffd\ufffdA");
  assert.equal(JSON.parse(formatDatagram(bad, "json")).utf8, false);
  // A multi-byte character across the ID boundary stays whole in raw.
  assert.equal(formatDatagram(enc("12345é"), "raw"), "12345é");
});

Deno.test("stdin is cut into lines as bytes, CRLF or LF, last line without newline too", () => {
  const s = new LineSplitter();
  assert.deepEqual(s.push(enc("one\r\ntw")), [enc("one")]);
  assert.deepEqual(s.push(Uint8Array.of(0x6f, 0x0a, 0x0a, 0xff)), [enc("two"), enc("")]);
  assert.deepEqual(s.push(enc("x")), []);
  assert.deepEqual(s.end(), Uint8Array.of(0xff, 0x78));
  assert.equal(s.end(), null);
});

Deno.test("the programme: every line (trailing spaces cut, blanks kept), then RWND and 3 intervals", () => {
  const lines = parseScript("Title  \r\n\nROMEO. Hi\n");
  assert.deepEqual(lines, ["Title", "", "ROMEO. Hi"]);
  assert.deepEqual(parseScript(""), []);
  assert.deepEqual(programme(lines), [
    { text: "Title", wait: 1 },
    { text: "", wait: 1 },
    { text: "ROMEO. Hi", wait: 1 },
    { text: "RWND", wait: 3 },
  ]);
  assert.deepEqual(oversizedLines(["ok", "x".repeat(65_502)], "swcmTV"), [2]);
});

Deno.test("the built-in script is an original play of at least 30 lines that fits in datagrams", () => {
  const lines = parseScript(DEFAULT_SCRIPT);
  assert.ok(lines.length >= 30, `${lines.length} lines`);
  assert.ok(lines.includes(""), "blank lines (the bare ID) are part of the programme");
  assert.deepEqual(oversizedLines(lines, "swcmTV"), []);
  assert.ok(lines.every((l) => l === l.trimEnd()));
});

// ---------------------------------------------------------------------------
// Through the CLI, inside a private namespace

async function receiver(ns: Netns, group: string, ...opts: string[]): Promise<Proc> {
  const p = spawnSocklab(["receiver", group, PORT, ...opts], { prefix: ns.prefix });
  try {
    const { host, port } = await p.listening();
    assert.equal(`${host}:${port}`, `${group}:${PORT}`);
    return p;
  } catch (e) {
    await p.stop(1000);
    throw e;
  }
}

/** Send datagrams (JavaScript expressions giving a Uint8Array) from a bare Deno socket. */
async function sendRaw(ns: Netns, group: string, datagrams: string[], loopback = true) {
  const code = `
    const enc = (s) => new TextEncoder().encode(s);
    const s = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: 0, loopback: ${loopback} });
    for (const d of [${datagrams.join(",")}]) {
      await s.send(d, { transport: "udp", hostname: "${group}", port: ${PORT} });
    }
    s.close();`;
  const r = await runProc([Deno.execPath(), "eval", "--unstable-net", code], { prefix: ns.prefix });
  assert.equal(r.code, 0, r.stderr);
}

netnsTest(
  "tv -> two receivers at once: every line in order, RWND, then the script again",
  async (ns) => {
    const script = await Deno.makeTempFile({ suffix: ".txt" });
    try {
      await Deno.writeTextFile(script, "A SCENE\n\nROMEO. Hello, socket!   \nJULIET. Hello.\n");
      await using a = await receiver(ns, GROUP);
      await using b = await receiver(ns, GROUP, "--format", "split");
      await using tv = spawnSocklab(
        ["tv", "--interval", "0.05", "--script", script, "--group", GROUP, "--port", PORT],
        { prefix: ns.prefix },
      );
      await tv.stderr.waitFor(/^sending to 224\.1\.1\.1:10505 \(TTL 1\)$/);
      const expected = [
        "A SCENE",
        "",
        "ROMEO. Hello, socket!",
        "JULIET. Hello.",
        "RWND",
        "A SCENE",
      ];
      assert.deepEqual(await a.stdout.waitForLines(6), expected.map((t) => `swcmTV${t}`));
      assert.deepEqual(await b.stdout.waitForLines(6), expected.map((t) => `swcmTV | ${t}`));
      const st = await tv.stop();
      assert.equal(st.code, 0);
      assert.match(
        tv.stderr.text,
        /tv: stopped \(SIGTERM\); sent \d+ datagram\(s\), [1-9]\d* complete/,
      );
      assert.equal((await a.stop()).code, 0);
      assert.match(a.stderr.text, /receiver: stopped \(SIGTERM\); received \d+ datagram/);
    } finally {
      await Deno.remove(script);
    }
  },
);

netnsTest(
  "tv's built-in play reaches its group; a receiver of another group on the same port sees nothing",
  async (ns) => {
    await using mine = await receiver(ns, GROUP, "--format", "json");
    await using other = await receiver(ns, "224.1.1.2");
    await using tv = spawnSocklab(["tv", "--interval", "0.05"], { prefix: ns.prefix });
    await tv.stderr.waitFor(/^sending to 224\.1\.1\.1:10505/);
    const lines = (await mine.stdout.waitForLines(3)).map((l) => JSON.parse(l));
    const play = parseScript(DEFAULT_SCRIPT);
    assert.deepEqual(lines.map((l) => l.text), play.slice(0, 3));
    assert.ok(lines.every((l) => l.id === "swcmTV" && /:\d+$/.test(l.from)), JSON.stringify(lines));
    // The other group's first line is the sender's: none of the TV's came before it.
    const r = await runSocklab(["sender", "224.1.1.2", PORT, "654321"], {
      prefix: ns.prefix,
      input: "other group\n",
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await other.stdout.waitForLines(1))[0], "654321other group");
    assert.ok(mine.stdout.lines.every((l) => !l.includes("654321")));
  },
);

netnsTest("sender -> receiver: exactly <sciper><line> per line of stdin until EOF", async (ns) => {
  await using raw = await receiver(ns, GROUP);
  await using json = await receiver(ns, GROUP, "--format", "json");
  const r = await runSocklab(["sender", GROUP, PORT, "123456"], {
    prefix: ns.prefix,
    input: "Hello, group!\r\nhéllo ✓\n\nno newline at the end",
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /^sending to 224\.1\.1\.1:10505 as 123456 \(TTL 1\)/);
  assert.match(r.stderr, /^sent 4 datagram\(s\)$/m);
  const texts = ["Hello, group!", "héllo ✓", "", "no newline at the end"];
  assert.deepEqual(await raw.stdout.waitForLines(4), texts.map((t) => `123456${t}`));
  const objs = (await json.stdout.waitForLines(4)).map((l) => JSON.parse(l));
  assert.deepEqual(objs.map((o) => o.size), texts.map((t) => 6 + enc(t).length));
  assert.ok(objs.every((o) => o.id === "123456" && o.utf8));

  // --iface picks the source address; --ttl 0 still reaches this host.
  const r2 = await runSocklab(
    ["sender", GROUP, PORT, "123456", "--iface", "127.0.0.1", "--ttl", "0"],
    { prefix: ns.prefix, input: "from lo\n" },
  );
  assert.equal(r2.code, 0, r2.stderr);
  const last = JSON.parse((await json.stdout.waitForLines(5))[4]);
  assert.equal(last.text, "from lo");
  assert.match(last.from, /^127\.0\.0\.1:\d+$/);
});

netnsTest(
  "a receiver prints 0..5-byte, non-UTF-8, control-laden and 65 KB datagrams one line each",
  async (ns) => {
    await using raw = await receiver(ns, GROUP);
    await using json = await receiver(ns, GROUP, "--format", "json");
    await sendRaw(ns, GROUP, [
      "new Uint8Array(0)",
      ...[1, 2, 3, 4, 5].map((n) => `enc("swcmTV".slice(0, ${n}))`),
      "Uint8Array.of(0x73, 0x77, 0x63, 0x6d, 0x54, 0x56, 0xff, 0xfe, 0x41)",
      'enc("swcmTVtwo\\nlines\\r\\nand a \\u0000")',
      "new Uint8Array(65507).fill(0x61)",
      'enc("swcmTVstill alive")',
    ]);
    const lines = await raw.stdout.waitForLines(10, 15_000);
    assert.deepEqual(lines.slice(0, 8), [
      "",
      "s",
      "sw",
      "swc",
      "swcm",
      "swcmT",
      "swcmTV\ufffd\ufffdA",
      "swcmTVtwo\\nlines\\r\\nand a \\x00",
    ]);
    assert.equal(lines[8], "a".repeat(65507));
    assert.equal(lines[9], "swcmTVstill alive");
    const objs = (await json.stdout.waitForLines(10, 15_000)).map((l) => JSON.parse(l));
    assert.deepEqual(objs.slice(0, 7).map((o) => [o.id, o.text, o.size, o.utf8]), [
      ["", "", 0, true],
      ["s", "", 1, true],
      ["sw", "", 2, true],
      ["swc", "", 3, true],
      ["swcm", "", 4, true],
      ["swcmT", "", 5, true],
      ["swcmTV", "\ufffd\ufffdA", 9, false],
    ]);
    assert.equal(objs[7].text, "two\nlines\r\nand a \u0000");
    assert.equal(objs[8].size, 65507);
    for (const p of [raw, json]) {
      const st = await p.stop();
      assert.equal(st.code, 0);
      assert.match(p.stderr.text, /received 10 datagram\(s\), 65572 byte\(s\)/);
    }
  },
);

netnsTest(
  "multicast loopback is on: tv and sender reach a receiver over an interface that does not loop back",
  async (ns, t) => {
    // A bridge without ports drops what it sends: only the kernel's multicast
    // loopback copy can reach a receiver on this host (as on the lab VM's eth0).
    const steps = [
      ["link", "add", "br0", "type", "bridge"],
      ["addr", "add", "10.200.0.1/24", "dev", "br0"],
      ["link", "set", "br0", "up"],
      ["route", "replace", "224.0.0.0/4", "dev", "br0"],
    ];
    for (const step of steps) {
      const r = await runProc(["ip", "-n", ns.name, ...step]);
      if (r.code !== 0) {
        await t.step({
          name: `skipped: no bridge in this kernel (ip ${step.join(" ")}: ${r.stderr.trim()})`,
          ignore: true,
          fn() {},
        });
        return;
      }
    }
    await using rx = await receiver(ns, GROUP, "--format", "json");
    await sendRaw(ns, GROUP, ['enc("000000loopback off")'], false); // control: never arrives
    const r = await runSocklab(["sender", GROUP, PORT, "123456"], {
      prefix: ns.prefix,
      input: "loopback on\n",
    });
    assert.equal(r.code, 0, r.stderr);
    const first = JSON.parse((await rx.stdout.waitForLines(1))[0]);
    assert.equal(first.text, "loopback on", "the control datagram (loopback off) must not arrive");
    assert.match(first.from, /^10\.200\.0\.1:\d+$/);
    await using tv = spawnSocklab(["tv", "--interval", "0.05"], { prefix: ns.prefix });
    const lines = (await rx.stdout.waitForLines(4)).slice(1).map((l) => JSON.parse(l).text);
    // Exactly once each, in order: no duplicates from the loopback copy.
    assert.deepEqual(lines, parseScript(DEFAULT_SCRIPT).slice(0, 3));
    await tv.stop();
  },
);

netnsTest(
  "bad groups, SCIPERs and options are usage errors; no multicast route is a run error, unless --iface 127.0.0.1",
  async (ns) => {
    const usage: [string[], RegExp][] = [
      [["receiver", "10.0.0.1", PORT], /<group>: '10\.0\.0\.1' is not an IPv4 multicast address/],
      [["receiver", "240.0.0.1", PORT], /<group>: '240\.0\.0\.1' is not an IPv4 multicast/],
      [["receiver", GROUP, "0"], /<port>: 0 is out of range \(1-65535\)/],
      [
        ["receiver", GROUP, PORT, "--format", "xml"],
        /--format: 'xml' is not one of raw, split, json/,
      ],
      [["sender", GROUP, PORT, "12345"], /<sciper>: '12345' is not a SCIPER number/],
      [["sender", GROUP, PORT, "abcdef"], /<sciper>: 'abcdef' is not a SCIPER number/],
      [["sender", "192.168.1.1", PORT, "123456"], /<group>: '192\.168\.1\.1' is not an IPv4/],
      [["sender", GROUP, PORT, "123456", "--ttl", "256"], /--ttl: 256 is out of range \(0-255\)/],
      [["tv", "--group", "1.2.3.4"], /--group: '1\.2\.3\.4' is not an IPv4 multicast/],
      [["tv", "--interval", "0"], /--interval: must be more than 0 seconds/],
      [["tv", "--ttl=-1"], /--ttl: -1 is out of range/],
      [["tv", "--id", "toolongid"], /--id: 'toolongid' is not 6 printable ASCII/],
    ];
    const results = await Promise.all(
      usage.map(([args]) => runSocklab(args, { prefix: ns.prefix, input: "x\n" })),
    );
    results.forEach((r, i) => {
      const [args, re] = usage[i];
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^socklab ${args[0]}: error: ${re.source}`));
      assert.equal(r.stdout, "");
    });
    const noFile = await runSocklab(["tv", "--script", "/nonexistent/play.txt"], {
      prefix: ns.prefix,
    });
    assert.equal(noFile.code, 1);
    assert.match(noFile.stderr, /^socklab tv: error: cannot read script \/nonexistent\/play\.txt/);

    // Without a multicast route the group is unreachable: one clear line, exit 1.
    assert.equal((await runProc(["ip", "-n", ns.name, "route", "del", "224.0.0.0/4"])).code, 0);
    const [tv, snd, rcv] = await Promise.all([
      runSocklab(["tv", "--interval", "0.05"], { prefix: ns.prefix }),
      runSocklab(["sender", GROUP, PORT, "123456"], { prefix: ns.prefix, input: "hi\n" }),
      runSocklab(["receiver", GROUP, PORT], { prefix: ns.prefix }),
    ]);
    assert.equal(tv.code, 1, tv.stderr);
    assert.match(tv.stderr, /^socklab tv: error: cannot send to 224\.1\.1\.1:10505: /m);
    assert.equal(snd.code, 1, snd.stderr);
    assert.match(snd.stderr, /^socklab sender: error: cannot send to 224\.1\.1\.1:10505: /m);
    assert.match(snd.stderr, /no route for multicast on this host/);
    // The receiver, joining on any interface, meets "No such device": the same hint.
    assert.equal(rcv.code, 1, rcv.stderr);
    assert.equal(rcv.stdout, "");
    assert.match(
      rcv.stderr,
      /^socklab receiver: error: cannot join 224\.1\.1\.1 on interface 0\.0\.0\.0: No such device \(no route for multicast on this host: .*, e\.g\. --iface 127\.0\.0\.1 to stay on this host\)\n$/,
    );

    // --iface 127.0.0.1 keeps it all on the loopback interface, route or not.
    await using rx = await receiver(ns, GROUP, "--iface", "127.0.0.1");
    const viaLo = await runSocklab(["sender", GROUP, PORT, "123456", "--iface", "127.0.0.1"], {
      prefix: ns.prefix,
      input: "via lo\n",
    });
    assert.equal(viaLo.code, 0, viaLo.stderr);
    assert.equal((await rx.stdout.waitForLines(1))[0], "123456via lo");
  },
);
