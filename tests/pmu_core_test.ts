import assert from "node:assert/strict";
import {
  commandSoFar,
  floodText,
  messageCount,
  parseCommand,
  PdcOutput,
  pmuMessage,
  pmuMessageBytes,
  pmuMessages,
  type PmuPiece,
  PmuSplitter,
  splitAll,
} from "../mod/pmu/mod.ts";
import { randomInt, seededRandom } from "../mod/random.ts";

const enc = new TextEncoder();

Deno.test("parseCommand: short, flood, wrong; trailing \\r\\n or \\n tolerated", () => {
  assert.deepEqual(parseCommand("CMD_short:0"), { kind: "short", delay: 0 });
  assert.deepEqual(parseCommand("CMD_short:1\n"), { kind: "short", delay: 1 });
  assert.deepEqual(parseCommand("CMD_short:0.2\r\n"), { kind: "short", delay: 0.2 });
  assert.deepEqual(parseCommand("CMD_short:60"), { kind: "short", delay: 60 });
  assert.deepEqual(parseCommand("CMD_floodme"), { kind: "flood" });
  assert.deepEqual(parseCommand("CMD_floodme\r\n"), { kind: "flood" });
  for (
    const bad of [
      "",
      "CMD_short:",
      "CMD_short:60.5",
      "CMD_short:61",
      "CMD_short:-1",
      "CMD_short:1e1",
      "CMD_short: 1",
      "cmd_short:1",
      "CMD_floodme\n\n",
      "CMD_flood",
      "hello",
      "CMD_short:1\r",
    ]
  ) {
    assert.equal(parseCommand(bad).kind, "wrong", JSON.stringify(bad));
  }
  assert.deepEqual(parseCommand("xyz"), { kind: "wrong", text: "xyz" });
});

Deno.test("commandSoFar: waits on proper prefixes, decides otherwise", () => {
  for (
    const p of ["", "C", "CMD_sho", "CMD_short:", "CMD_short:1.", "CMD_flood", "CMD_short:1\r"]
  ) {
    assert.equal(commandSoFar(p), null, JSON.stringify(p));
  }
  assert.deepEqual(commandSoFar("CMD_short:5"), { kind: "short", delay: 5 });
  assert.deepEqual(commandSoFar("CMD_floodme"), { kind: "flood" });
  for (const w of ["X", "CMD_short:99", "CMD_shortt", "GET / HTTP/1.1\r\n"]) {
    assert.equal(commandSoFar(w)?.kind, "wrong", JSON.stringify(w));
  }
});

Deno.test("messages and seeded counts", () => {
  assert.equal(pmuMessage(7), "This is PMU data 7");
  assert.deepEqual(pmuMessages(2), ["This is PMU data 0", "This is PMU data 1"]);
  // Bytes: encoded once and shared (the first 1,000), made anew past them.
  for (const i of [0, 14, 999, 1000, 123456]) {
    assert.equal(new TextDecoder().decode(pmuMessageBytes(i)), pmuMessage(i));
  }
  assert.equal(pmuMessageBytes(3), pmuMessageBytes(3));
  assert.notEqual(pmuMessageBytes(5000), pmuMessageBytes(5000));
  const a = seededRandom(42), b = seededRandom(42);
  const xs = Array.from({ length: 100 }, () => messageCount(a));
  assert.deepEqual(xs, Array.from({ length: 100 }, () => messageCount(b)));
  assert.ok(xs.every((n) => n >= 10 && n <= 20));
  assert.ok(new Set(xs).size > 3);
  const r = seededRandom(1);
  for (let i = 0; i < 1000; i++) {
    const k = randomInt(r, 1, 3);
    assert.ok(k >= 1 && k <= 3);
  }
});

Deno.test("floodText: 57,344 ASCII bytes by default, deterministic, any size, a play", () => {
  const f = floodText();
  assert.equal(enc.encode(f).length, 57_344);
  assert.equal(f, floodText(57_344));
  assert.ok([...f].every((c) => c === "\n" || (c >= " " && c <= "~")), "printable ASCII");
  assert.match(f, /^ACT I\n/);
  assert.match(f, /SCENE 2\./);
  assert.ok(!f.includes("This is PMU data"));
  assert.equal(floodText(0), "");
  assert.equal(floodText(1), "A");
  assert.equal(floodText(200_000).length, 200_000);
  assert.ok(floodText(200_000).startsWith(f));
  assert.throws(() => floodText(-1), RangeError);
});

/** Cuts `bytes` into pieces of 1..maxCut bytes with a seeded generator. */
function cut(bytes: Uint8Array, seed: number, maxCut: number): Uint8Array[] {
  const r = seededRandom(seed);
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length;) {
    const k = randomInt(r, 1, maxCut);
    out.push(bytes.subarray(i, i + k));
    i += k;
  }
  return out;
}

function messages(pieces: PmuPiece[]): string[] {
  return pieces.map((p) => (p.kind === "message" ? p.text : `TEXT:${p.text}`));
}

function texts(pieces: PmuPiece[]): string {
  return pieces.map((p) => p.kind === "text" ? p.text : "").join("");
}

Deno.test("splitter: back-to-back messages cut anywhere, down to one byte per read", () => {
  for (const n of [1, 2, 15, 1000]) {
    const want = pmuMessages(n);
    const wire = enc.encode(want.join(""));
    for (const [seed, maxCut] of [[1, 1], [2, 3], [3, 17], [4, 1024], [5, 70_000]]) {
      if (n === 1000 && maxCut === 1 && seed !== 1) continue;
      const got = splitAll(cut(wire, seed + n, maxCut));
      assert.deepEqual(messages(got), want, `n=${n} maxCut=${maxCut}`);
    }
  }
  // Many random seeds on a medium stream.
  const want = pmuMessages(120);
  const wire = enc.encode(want.join(""));
  for (let seed = 0; seed < 200; seed++) {
    assert.deepEqual(messages(splitAll(cut(wire, seed, 1 + (seed % 40)))), want);
  }
});

Deno.test("splitter: a message is complete only when the next begins or the stream ends", () => {
  const s = new PmuSplitter();
  assert.deepEqual(s.push(enc.encode("This is PMU data 1")), []);
  assert.deepEqual(s.push(enc.encode("2")), []);
  assert.deepEqual(messages(s.push(enc.encode("This is PMU data 1"))), ["This is PMU data 12"]);
  assert.deepEqual(s.push(enc.encode("3")), []);
  const last = s.end();
  assert.deepEqual(last, [{ kind: "message", index: 13, text: "This is PMU data 13" }]);
});

Deno.test("splitter: idle() completes a held-back message; the stream goes on", () => {
  const s = new PmuSplitter();
  assert.deepEqual(s.idle(), []);
  assert.deepEqual(messages(s.push(enc.encode("This is PMU data 0This is PMU data 1"))), [
    "This is PMU data 0",
  ]);
  assert.equal(s.holding, true);
  assert.deepEqual(messages(s.idle()), ["This is PMU data 1"]);
  assert.equal(s.holding, false);
  assert.deepEqual(s.idle(), []);
  // A cut inside the prefix is not a message: still held back.
  assert.deepEqual(s.push(enc.encode("This is PM")), []);
  assert.deepEqual(s.idle(), []);
  assert.deepEqual(messages(s.push(enc.encode("U data 2"))), []);
  assert.deepEqual(messages(s.end()), ["This is PMU data 2"]);
});

Deno.test("splitter: whitespace and newlines between messages are tolerated", () => {
  const wire = "\n  This is PMU data 0\nThis is PMU data 1\r\n\r\nThis is PMU data 2 \n";
  for (const maxCut of [1, 2, 5, 100]) {
    const got = splitAll(cut(enc.encode(wire), maxCut, maxCut));
    assert.deepEqual(messages(got), pmuMessages(3));
  }
});

Deno.test("splitter: a flood passes through exactly, whatever it contains, UTF-8 safe", () => {
  const flood = floodText();
  for (const maxCut of [1, 1024, 100_000]) {
    const got = splitAll(cut(enc.encode(flood), 7, maxCut));
    assert.ok(got.every((p) => p.kind === "text"));
    assert.equal(texts(got), flood);
  }
  // A flood quoting a message is still text; multibyte characters cut between reads stay whole.
  const odd = "  Ünïcödé ✓ 🎭\nThis is PMU data 3 quoted\n";
  for (let seed = 0; seed < 50; seed++) {
    const got = splitAll(cut(enc.encode(odd), seed, 1 + (seed % 4)));
    assert.equal(texts(got), odd);
    assert.ok(!texts(got).includes("\ufffd"));
  }
  assert.deepEqual(splitAll([enc.encode("Wrong command.")]), [
    { kind: "text", text: "Wrong command." },
  ]);
});

Deno.test("splitter: stray text between messages is passed through, not lost", () => {
  const wire = "This is PMU data 0garbage This is PMU data 1This is PMU data This is PMU da";
  for (const maxCut of [1, 3, 200]) {
    const got = splitAll(cut(enc.encode(wire), maxCut, maxCut));
    const joined: string[] = [];
    for (const p of got) {
      if (p.kind === "text" && joined.length && joined.at(-1)!.startsWith("TEXT:")) {
        joined[joined.length - 1] += p.text;
      } else joined.push(p.kind === "message" ? p.text : `TEXT:${p.text}`);
    }
    assert.deepEqual(joined, [
      "This is PMU data 0",
      "TEXT:garbage ",
      "This is PMU data 1",
      "TEXT:This is PMU data This is PMU da",
    ], `maxCut=${maxCut}`);
  }
  assert.deepEqual(splitAll([]), []);
  assert.deepEqual(splitAll([enc.encode(" \n ")]), []);
  assert.deepEqual(splitAll([enc.encode("This is")]), [{ kind: "text", text: "This is" }]);
});

Deno.test("PdcOutput: one message a line, text exact, nothing added at the end", () => {
  const render = (wire: string, maxCut: number, seed = 0) => {
    const s = new PmuSplitter();
    const o = new PdcOutput();
    let out = "";
    for (const c of cut(enc.encode(wire), seed, maxCut)) out += o.render(s.push(c));
    return out + o.render(s.end());
  };
  const msgs = pmuMessages(15).join("");
  const want = pmuMessages(15).map((m) => m + "\n").join("");
  for (const maxCut of [1, 4, 1000]) {
    assert.equal(render(msgs, maxCut, maxCut), want);
    assert.equal(render(floodText(5000), maxCut), floodText(5000));
    assert.equal(render("Wrong command.", maxCut), "Wrong command.");
    assert.equal(render("Ends well\n", maxCut), "Ends well\n");
    assert.equal(
      render("This is PMU data 0junkThis is PMU data 1", maxCut),
      "This is PMU data 0\njunk\nThis is PMU data 1\n",
    );
    assert.equal(render("This is PMU data 0junk", maxCut), "This is PMU data 0\njunk");
  }
});
