/**
 * Randomised tests of the pure parsers, seeded (a failure prints its seed and
 * case, and is repeatable) and bounded in iterations: random inputs and
 * mutations of valid ones. Properties: no unexpected exception, outputs within
 * their contract, round trips exact, splitters lose and invent no message.
 */
import assert from "node:assert/strict";
import { type Random, randomInt, seededRandom } from "../mod/random.ts";
import {
  answerFor,
  datagramText,
  MAX_RESET,
  offsetAnswer,
  parseAck,
  parseReset,
  showData,
  WRONG_COMMAND,
} from "../mod/udp/reset.ts";
import {
  encodeDatagram,
  formatDatagram,
  FORMATS,
  ID_LENGTH,
  LineSplitter,
  oneLine,
  parseDatagram,
  parseScript,
} from "../mod/multicast/datagram.ts";
import {
  commandSoFar,
  floodText,
  MAX_DELAY,
  parseCommand,
  pmuMessages,
  splitAll,
  WRONG_COMMAND as WRONG_PMU,
} from "../mod/pmu/mod.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 20261124);
const N = 3_000;

const enc = new TextEncoder();
const dec = new TextDecoder();

function bytes(r: Random, max: number): Uint8Array {
  const b = new Uint8Array(randomInt(r, 0, max));
  for (let i = 0; i < b.length; i++) b[i] = randomInt(r, 0, 255);
  return b;
}

/** Printable-ish text, with some of the characters parsers care about. */
function text(
  r: Random,
  max: number,
  alphabet = "RESETOFF:=0123456789 \r\n\t-+.é€\u0000x",
): string {
  const n = randomInt(r, 0, max);
  let s = "";
  for (let i = 0; i < n; i++) s += alphabet[randomInt(r, 0, alphabet.length - 1)];
  return s;
}

/** One random edit of `b`: flip, insert, delete, duplicate a slice, truncate, or extend. */
export function mutate(r: Random, b: Uint8Array): Uint8Array {
  const a = [...b];
  const at = randomInt(r, 0, a.length);
  switch (randomInt(r, 0, 5)) {
    case 0:
      if (a.length) a[Math.min(at, a.length - 1)] ^= 1 << randomInt(r, 0, 7);
      break;
    case 1:
      a.splice(at, 0, randomInt(r, 0, 255));
      break;
    case 2:
      a.splice(at, randomInt(r, 1, 3));
      break;
    case 3:
      a.splice(at, 0, ...a.slice(at, at + randomInt(r, 1, 8)));
      break;
    case 4:
      a.length = at;
      break;
    default:
      a.push(...enc.encode(["\n", "\r\n", "0", "9999", ":", "="][randomInt(r, 0, 5)]));
  }
  return new Uint8Array(a);
}

/** Runs `check` on `N` cases; a failure names the seed and the case. */
function cases<T>(name: string, gen: (r: Random, i: number) => T, check: (c: T) => void) {
  Deno.test(`fuzz: ${name}`, () => {
    const r = seededRandom(SEED ^ [...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) | 0, 7));
    for (let i = 0; i < N; i++) {
      const c = gen(r, i);
      try {
        check(c);
      } catch (e) {
        const shown = c instanceof Uint8Array
          ? `bytes ${JSON.stringify([...c])}`
          : JSON.stringify(c);
        throw new Error(`seed ${SEED}, case ${i}: ${shown}\n${e instanceof Error ? e.message : e}`);
      }
    }
  });
}

// --- part 3: RESET, OFFSET -------------------------------------------------------

const validReset = (r: Random) =>
  enc.encode(`RESET:${randomInt(r, 0, MAX_RESET)}${["", "\n", "\r\n"][randomInt(r, 0, 2)]}`);

cases(
  "parseReset: RESET:<n> round trips; anything else is null or a valid n",
  (r, i) => i % 3 === 0 ? validReset(r) : i % 3 === 1 ? mutate(r, validReset(r)) : bytes(r, 40),
  (data) => {
    const n = parseReset(data);
    const t = datagramText(data);
    if (n === null) {
      const m = /^RESET:(\d{1,4})$/.exec(t);
      assert.ok(!m || Number(m[1]) > MAX_RESET, `rejected a valid command '${t}'`);
      return;
    }
    assert.ok(Number.isInteger(n) && n >= 0 && n <= MAX_RESET, `n = ${n}`);
    assert.equal(Number(t.slice("RESET:".length)), n);
    assert.match(t, /^RESET:\d+$/);
    assert.equal(parseReset(dec.decode(data)), n, "string and bytes agree");
  },
);

cases(
  "answerFor never throws; answers OFFSET:<x> with x <= n, or Wrong command., or nothing",
  (r, i) => ({ data: i % 2 ? mutate(r, validReset(r)) : bytes(r, 30), drop: r(), seed: i }),
  ({ data, drop, seed }) => {
    const { answer, reset } = answerFor(data, seededRandom(seed), drop);
    const n = parseReset(data);
    assert.equal(reset, n !== null);
    if (answer === null) return;
    if (n === null) assert.equal(answer, WRONG_COMMAND);
    else {
      const x = parseAck(answer);
      assert.ok(x !== null && x <= n, `${answer} for n = ${n}`);
    }
  },
);

cases(
  "parseAck: OFFSET:<x> and OFFSET=<x> round trip; mutations are null or a number they hold",
  (r, i) => {
    const valid = offsetAnswer(randomInt(r, 0, 100_000), [":", "="][i % 2] as ":" | "=");
    return i % 3 === 0
      ? valid
      : i % 3 === 1
      ? dec.decode(mutate(r, enc.encode(valid)))
      : text(r, 20);
  },
  (t) => {
    const x = parseAck(t);
    const m = /^OFFSET[:=](\d+)\s*$/.exec(t);
    if (m) assert.equal(x, Number(m[1]));
    else assert.equal(x, null);
    if (x !== null) assert.ok(Number.isInteger(x) && x >= 0);
  },
);

cases(
  "showData: any datagram is one printable log field",
  (r) => bytes(r, r() < 0.05 ? 70_000 : 200),
  (data) => {
    const s = showData(data);
    // deno-lint-ignore no-control-regex
    assert.doesNotMatch(s, /[\x00-\x1f\x7f]/);
    assert.ok(s.length <= 80 + 40, `${s.length} chars`);
  },
);

// --- part 4: datagrams, ID split, lines ----------------------------------------------

cases(
  "parseDatagram: the 6-byte ID splits off exactly; any bytes print as one line in every format",
  (r, i) => {
    if (i % 2) return bytes(r, r() < 0.02 ? 65_507 : 300);
    const id = text(r, ID_LENGTH, "abcdefXYZ0123456789").padEnd(ID_LENGTH, "_");
    return encodeDatagram(id, text(r, 100, "Romeo, wherefore art thou? é€😀\n\r\t\u2028"));
  },
  (data) => {
    const p = parseDatagram(data);
    assert.equal(p.size, data.length);
    const fatal = new TextDecoder("utf-8", { fatal: true });
    if (p.utf8) {
      // A valid datagram whose ID is 6 ASCII bytes splits into exactly its ID and its text.
      const head = data.subarray(0, ID_LENGTH);
      if (data.length >= ID_LENGTH && head.every((b) => b < 0x80)) {
        assert.equal(p.id, dec.decode(head));
        assert.equal(p.text, fatal.decode(data.subarray(ID_LENGTH)));
        assert.equal(p.id + p.text, fatal.decode(data));
      }
    }
    if (data.length < ID_LENGTH) assert.equal(p.text, "");
    for (const f of FORMATS) {
      const line = formatLine(data, f);
      if (f === "json") {
        // JSON.stringify escapes \n and \r (not U+2028, which is no line break to a pipe).
        assert.doesNotMatch(line, /[\n\r]/, "json is one line");
        assert.equal(JSON.parse(line).size, data.length);
      } else assert.doesNotMatch(line, /[\n\r\u2028\u2029]/, `${f} is one line`);
    }
  },
);

function formatLine(data: Uint8Array, f: (typeof FORMATS)[number]): string {
  return formatDatagram(data, f, "127.0.0.1:1");
}

cases(
  "oneLine: no line breaks or control characters survive; printable text is unchanged",
  (r) => text(r, 60, "ab \t\n\r\u0000\u001b\u007f\u0085\u2028é😀"),
  (t) => {
    const s = oneLine(t);
    // deno-lint-ignore no-control-regex
    assert.doesNotMatch(s, /[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]/);
    // deno-lint-ignore no-control-regex
    if (!/[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]/.test(t)) assert.equal(s, t);
  },
);

cases(
  "LineSplitter: lines cut into random chunks come out exactly, none lost, none invented",
  (r) => {
    const lines = Array.from(
      { length: randomInt(r, 0, 30) },
      () => enc.encode(text(r, 40, "ab é\r\t😀").replace(/\r+$/, "")),
    );
    const crlf = r() < 0.5;
    const lastTerminated = r() < 0.5;
    const parts: number[] = [];
    lines.forEach((l, k) => {
      parts.push(...l);
      if (k < lines.length - 1 || lastTerminated) parts.push(...(crlf ? [13, 10] : [10]));
    });
    const stream = new Uint8Array(parts);
    const cuts: Uint8Array[] = [];
    for (let at = 0; at < stream.length;) {
      const n = randomInt(r, 1, 16);
      cuts.push(stream.subarray(at, at + n));
      at += n;
    }
    return { lines: lines.map((l) => [...l]), cuts: cuts.map((c) => [...c]), lastTerminated };
  },
  ({ lines, cuts, lastTerminated }) => {
    const s = new LineSplitter();
    const got: number[][] = [];
    for (const c of cuts) for (const l of s.push(new Uint8Array(c))) got.push([...l]);
    const rest = s.end();
    if (rest) got.push([...rest]);
    // An empty unterminated last line is no line at all.
    const want = !lastTerminated && lines.length && lines[lines.length - 1].length === 0
      ? lines.slice(0, -1)
      : lines;
    assert.deepEqual(got, want);
  },
);

cases(
  "parseScript: never throws; lines have no newline or trailing whitespace",
  (r) => text(r, 200, "ROMEO. \t\r\nab"),
  (t) => {
    for (const l of parseScript(t)) {
      assert.doesNotMatch(l, /\n/); // a lone \r stays inside a line (the receiver escapes it)
      assert.equal(l, l.trimEnd());
    }
  },
);

// --- parts 2, 5, 6: PMU commands and the stream splitter ---------------------------

const validCommand = (r: Random) => {
  const eol = ["", "\n", "\r\n"][randomInt(r, 0, 2)];
  if (r() < 0.3) return `CMD_floodme${eol}`;
  const d = [String(randomInt(r, 0, 60)), (r() * 60).toFixed(randomInt(r, 1, 3)), "0.5", ".5"][
    randomInt(r, 0, 3)
  ];
  return `CMD_short:${d}${eol}`;
};

cases(
  "parseCommand: valid commands parse exactly; mutations are wrong or valid by the grammar",
  (r, i) => {
    const v = validCommand(r);
    return {
      valid: i % 3 === 0,
      text: i % 3 === 0
        ? v
        : i % 3 === 1
        ? dec.decode(mutate(r, enc.encode(v)))
        : text(r, 30, "CMD_shortflodme:.0123456789\r\n x"),
    };
  },
  ({ valid, text: t }) => {
    const c = parseCommand(t);
    const bare = t.replace(/\r?\n$/, "");
    if (valid) assert.notEqual(c.kind, "wrong", t);
    if (c.kind === "short") {
      assert.match(bare, /^CMD_short:(\d+(\.\d+)?|\.\d+)$/);
      assert.ok(c.delay >= 0 && c.delay <= MAX_DELAY && c.delay === Number(bare.slice(10)));
    } else if (c.kind === "flood") assert.equal(bare, "CMD_floodme");
    else assert.equal(c.text, t, "a wrong command keeps what was received");
  },
);

cases(
  "commandSoFar: a server reading byte by byte decides within 16 bytes, as parseCommand would",
  (r, i) =>
    i % 2 ? validCommand(r) + text(r, 10) : dec.decode(mutate(r, enc.encode(validCommand(r)))),
  (t) => {
    let decided = -1;
    for (let k = 0; k <= t.length; k++) {
      const c = commandSoFar(t.slice(0, k));
      if (c === null) continue;
      decided = k;
      if (c.kind !== "wrong") assert.deepEqual(c, parseCommand(t.slice(0, k)));
      break;
    }
    if (decided === -1) assert.ok(t.length <= 16, `still undecided after ${t.length} chars`);
    else assert.ok(decided <= 16, `decided only after ${decided} chars`);
  },
);

/** Cut `data` into random reads of 1 to `max` bytes (a cut may split a UTF-8 character). */
function cutRandomly(r: Random, data: Uint8Array, max: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < data.length;) {
    const n = randomInt(r, 1, max);
    out.push(data.subarray(at, at + n));
    at += n;
  }
  return out;
}

cases(
  "PmuSplitter: n messages cut anywhere come out as exactly messages 0..n-1, nothing else",
  (r) => {
    const n = randomInt(r, 0, 25);
    const sep = () => ["", "", "", "\n", "\r\n", " "][randomInt(r, 0, 5)];
    const stream = pmuMessages(n).map((m) => m + sep()).join("");
    return { n, cuts: cutRandomly(r, enc.encode(stream), randomInt(r, 1, 40)).map((c) => [...c]) };
  },
  ({ n, cuts }) => {
    const pieces = splitAll(cuts.map((c) => new Uint8Array(c)));
    assert.deepEqual(
      pieces,
      pmuMessages(n).map((text, index) => ({ kind: "message", index, text })),
    );
  },
);

cases(
  "PmuSplitter: a flood, Wrong command. or any bytes pass through exactly (whitespace aside)",
  (r, i) => {
    const data = i % 3 === 0
      ? enc.encode(floodText(randomInt(r, 0, 5000)))
      : i % 3 === 1
      ? enc.encode(WRONG_PMU)
      : r() < 0.5
      ? bytes(r, 300)
      : mutate(r, enc.encode(pmuMessages(randomInt(r, 1, 5)).join("")));
    return cutRandomly(r, data, randomInt(r, 1, 64)).map((c) => [...c]);
  },
  (cuts) => {
    const all = new Uint8Array(cuts.flat());
    const pieces = splitAll(cuts.map((c) => new Uint8Array(c)));
    const joined = pieces.map((p) => p.text).join("");
    const strip = (s: string) => s.replace(/\s+/g, "");
    assert.equal(strip(joined), strip(dec.decode(all)), "nothing lost, nothing invented");
    const text = dec.decode(all);
    if (!text.trimStart().startsWith("This is PMU data")) {
      assert.equal(joined, text.trim() === "" ? "" : text, "non-message streams are exact");
    }
    for (const p of pieces) {
      if (p.kind !== "message") continue;
      const m = /^This is PMU data (\d+)$/.exec(p.text); // as received: 007 stays 007
      assert.ok(m && Number(m[1]) === p.index, p.text);
    }
  },
);
