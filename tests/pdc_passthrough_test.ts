// The PDC's pass-through of text (a flood): found by the benchmark (issue 11), the PDC now
// copies a flood's bytes as they are instead of decoding and re-encoding them. These tests
// prove the output is unchanged, whatever the cuts.
import assert from "node:assert/strict";
import { cutCharacter } from "../mod/pmu/splitter.ts";
import { floodText, pmuMessages } from "../mod/pmu/mod.ts";
import { seededRandom } from "../mod/random.ts";
import { pdcReceive } from "../mod/tcp/pdc.ts";

const enc = new TextEncoder();

/** A fake connection that yields `data` in pieces of 1..maxCut bytes. */
function fakeConn(data: Uint8Array, maxCut: number, seed: number): Deno.Conn {
  const random = seededRandom(seed);
  let off = 0;
  return {
    read(buf: Uint8Array): Promise<number | null> {
      if (off >= data.length) return Promise.resolve(null);
      const n = Math.min(buf.length, data.length - off, 1 + Math.floor(random() * maxCut));
      buf.set(data.subarray(off, off + n));
      off += n;
      return Promise.resolve(n);
    },
  } as unknown as Deno.Conn;
}

async function received(data: Uint8Array, maxCut: number, seed: number, readSize = 4096) {
  const parts: Uint8Array[] = [];
  let raw = 0;
  await pdcReceive(fakeConn(data, maxCut, seed), (t) => parts.push(enc.encode(t)), {
    readSize,
    writeBytes: (b) => {
      raw += b.length;
      parts.push(b.slice());
    },
  });
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return { out, raw };
}

Deno.test("cutCharacter: true only when a UTF-8 character may go on in the next read", () => {
  assert.equal(cutCharacter(enc.encode("abc")), false);
  assert.equal(cutCharacter(new Uint8Array(0)), false);
  const e = enc.encode("é"); // c3 a9
  assert.equal(cutCharacter(e), false);
  assert.equal(cutCharacter(e.subarray(0, 1)), true);
  const euro = enc.encode("x€"); // 78 e2 82 ac
  assert.equal(cutCharacter(euro.subarray(0, 2)), true);
  assert.equal(cutCharacter(euro.subarray(0, 3)), true);
  assert.equal(cutCharacter(euro), false);
  const emoji = enc.encode("🙂"); // f0 9f 99 82
  for (let k = 1; k < 4; k++) assert.equal(cutCharacter(emoji.subarray(0, k)), true);
  assert.equal(cutCharacter(emoji), false);
});

Deno.test("pdcReceive: a flood comes out byte for byte, however it is cut (ASCII and UTF-8)", async () => {
  const texts = [
    floodText(70_000),
    "Ünïcödé flood: 🙂 € é ".repeat(3000),
    "Wrong command.",
    "no final newline ✓",
  ];
  for (const text of texts) {
    const data = enc.encode(text);
    const want = data; // byte for byte: no line break added at the end
    for (const [maxCut, seed] of [[1, 1], [3, 2], [1024, 3], [70_000, 4]]) {
      const { out, raw } = await received(data, maxCut, seed);
      assert.deepEqual(out, want, `cut up to ${maxCut}: ${text.slice(0, 20)}`);
      if (data.length > 10_000) assert.ok(raw > data.length / 2, "most of a flood is copied raw");
    }
  }
});

Deno.test("pdcReceive: messages are still one a line (no pass-through for them)", async () => {
  const msgs = pmuMessages(15);
  const data = enc.encode(msgs.join(""));
  for (const maxCut of [1, 7, 1000]) {
    const { out, raw } = await received(data, maxCut, maxCut);
    assert.equal(new TextDecoder().decode(out), msgs.map((m) => m + "\n").join(""));
    assert.equal(raw, 0);
  }
});
