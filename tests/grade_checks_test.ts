import assert from "node:assert/strict";
import {
  checkFlood,
  checkOffset,
  checkPmuMessages,
  checkScriptLines,
  checkSenderAllLines,
  checkSenderFormat,
  excerpt,
  offsetsIn,
} from "../mod/grade/checks.ts";
import { floodText } from "../mod/pmu/flood.ts";
import { escapeControls, safeJson } from "../mod/escape.ts";
import { formatReport, makeReport, UNBUFFERED_NOTE } from "../mod/grade/report.ts";

const msgs = (n: number, pre = "") =>
  Array.from({ length: n }, (_, i) => `${pre}This is PMU data ${i}`);

Deno.test("pmu check accepts one message a line, with prefixes and status lines", () => {
  assert.equal(checkPmuMessages(msgs(12), 12).passed, true);
  const noisy = ["connected to 127.0.0.1", ...msgs(5, "received: "), "recv() called: 6", "b'x'"];
  assert.equal(checkPmuMessages(noisy, 5).passed, true);
  assert.equal(checkPmuMessages(msgs(3).map((m) => `b'${m}'`), 3).passed, true);
});

Deno.test("pmu check names merged, missing, repeated and truncated output", () => {
  const merged = checkPmuMessages(
    ["This is PMU data 0This is PMU data 1", "This is PMU data 2"],
    3,
  );
  assert.equal(merged.passed, false);
  assert.match(merged.detail, /line 1 holds 2 messages/);

  const missing = checkPmuMessages(msgs(6).filter((_, i) => i !== 3), 6);
  assert.match(missing.detail, /message 3 is missing/);

  const fixedN = checkPmuMessages(msgs(10), 14);
  assert.match(fixedN.detail, /got messages 0\.\.9 but the server sent 14/);

  // A script reading fixed 18-byte records: fine until the numbers get two digits.
  const stream = msgs(12).join("");
  const records = stream.match(/.{1,18}/g)!;
  const fixed = checkPmuMessages(records, 12);
  assert.equal(fixed.passed, false);
  assert.match(fixed.detail, /repeats or breaks the order|holds 2|missing/);

  assert.match(checkPmuMessages(["nothing here"], 3).detail, /no 'This is PMU data i' line/);
  assert.equal(checkPmuMessages(msgs(4), undefined, 2).passed, true);
  assert.equal(checkPmuMessages(msgs(1), undefined, 2).passed, false);
});

Deno.test("flood check ignores line breaks and reports how far a partial flood got", () => {
  const flood = "ACT I. SCENE II. Capulet's orchard.\n".repeat(200);
  assert.equal(checkFlood(flood, flood).passed, true);
  // Printed with a line break after every 1,024-byte read.
  const chunked = flood.match(/[\s\S]{1,1024}/g)!.join("\n");
  assert.equal(checkFlood("sending CMD_floodme\n" + chunked, flood).passed, true);
  const partial = checkFlood(flood.slice(0, 1024), flood);
  assert.equal(partial.passed, false);
  assert.match(partial.detail, /only \d+ of \d+ flood bytes .*then the output stops/);
  assert.match(checkFlood("nothing", flood).detail, /first bytes .* are not in the output/);
});

Deno.test("offset check finds raw and wrapped acknowledgements, and only real ones pass", () => {
  assert.deepEqual(offsetsIn("OFFSET:7\nb'OFFSET:12'\ndata4 = OFFSET=3\nReceived OFFSET:0 from"), [
    7,
    12,
    3,
    0,
  ]);
  assert.equal(checkOffset("b'OFFSET:7'", [7]).passed, true);
  assert.match(
    checkOffset("OFFSET:9", [7]).detail,
    /printed offset\(s\) 9 that the server never sent \(it sent OFFSET:7\)/,
  );
  assert.match(checkOffset("sent RESET", [4]).detail, /holds no offset/);
  // Every form the handout allowed, and a bare number on its own line.
  for (const out of ["OFFSET:7", "OFFSET=7", "b'OFFSET:7'", "data4 = OFFSET:7", "timeout\n 7 \n"]) {
    assert.equal(checkOffset(out, [7]).passed, true, out);
  }
  // Printing every offset is not an acknowledgement, in either form.
  const all = Array.from({ length: 30 }, (_, i) => `OFFSET:${i}`).join("\n");
  assert.match(
    checkOffset(all, [7]).detail,
    /offset\(s\) 0, 1, 2, 3, 4 and 24 more that the server never sent/,
  );
  const bare = Array.from({ length: 30 }, (_, i) => `${i}`).join("\n");
  assert.equal(checkOffset(bare, [7]).passed, false);
  // Two answers to two RESETs (both sent by the server) are fine.
  assert.equal(checkOffset("OFFSET:3\nOFFSET:5", [3, 5]).passed, true);
  assert.match(checkOffset("", []).detail, /received no RESET:20/);
});

Deno.test("script check wants consecutive lines of the play, with or without the ID", () => {
  const script = [
    "ROMEO: But soft!",
    "",
    "JULIET: Ay me.",
    "ROMEO: She speaks.",
    "JULIET: O Romeo.",
  ];
  const out = [
    "swcmTVJULIET: Ay me.",
    "swcmTVROMEO: She speaks.",
    "swcmTVJULIET: O Romeo.",
    "swcmTVROMEO: But soft!",
  ];
  assert.equal(checkScriptLines(out, script, 4).passed, true, "wraps around the end");
  assert.equal(checkScriptLines(out.map((l) => l.slice(6)), script, 3).passed, true);
  assert.equal(
    checkScriptLines(out.map((l) => `(b'${l}', ('127.0.0.1', 10505))`), script, 3).passed,
    true,
  );
  assert.match(checkScriptLines([], script, 3).detail, /nothing was printed/);
  assert.match(checkScriptLines(["hello"], script, 3).detail, /none of the 1 printed lines/);
  const gap = checkScriptLines([out[0], out[2]], script, 2);
  assert.equal(gap.passed, false);
});

Deno.test("sender checks: exact format, and every line in order", () => {
  const exact = checkSenderFormat(["123456hello"], "123456", "hello");
  assert.deepEqual([exact.passed, exact.exact], [true, true]);
  for (const d of ["123456 hello", "123456: hello", "123456:hello"]) {
    const v = checkSenderFormat([d], "123456", "hello");
    assert.deepEqual([v.passed, v.exact], [true, false], d);
    assert.match(v.detail, /a separator after the sciper/);
  }
  assert.equal(checkSenderFormat(["123456 goodbye"], "123456", "hello").passed, false);
  assert.match(
    checkSenderFormat(["hello"], "123456", "hello").detail,
    /must start with the 6-digit sciper/,
  );
  assert.match(checkSenderFormat([], "123456", "hello").detail, /no datagram/);
  assert.equal(
    checkSenderAllLines(["123456a", "123456 b", "123456c"], ["a", "b", "c"]).passed,
    true,
  );
  const one = checkSenderAllLines(["123456a"], ["a", "b", "c"]);
  assert.match(one.detail, /1 of 3 stdin lines arrived; line 2 \("b"\) never did/);
});

Deno.test("script check counts only lines that were actually sent", () => {
  const script = ["ROMEO: But soft! [k3j9xa]", "JULIET: Ay me. [p2m4qq]", "ROMEO: Hark. [zz8r2c]"];
  const out = script.map((l) => "swcmTV" + l);
  assert.equal(checkScriptLines(out, script, 3).passed, true);
  const sent = new Set(script.slice(0, 1));
  assert.equal(checkScriptLines(out, script, 2, (t) => sent.has(t)).passed, false);
});

Deno.test("flood check says when the program's own lines are interleaved with the flood", () => {
  const flood = floodText(5000);
  const chunks = flood.match(/[^]{1,1024}/g)!;
  const withSizes = chunks.map((c) => `${c.length}\n${c}`).join("\n");
  const v = checkFlood(withSizes, flood);
  assert.equal(v.passed, false);
  assert.match(v.detail, /whole flood is there, but interleaved with 5 line\(s\).*"1024"/);
  // A line break after every 1,024-byte read is fine (the course accepted it).
  assert.equal(checkFlood(chunks.join("\n"), flood).passed, true);
});

Deno.test("report: advice is shown but never counted; student text is escaped", () => {
  const r = makeReport("part9", [
    { name: "a", passed: true, scored: true, detail: "ok" },
    { name: "b", passed: false, scored: false, detail: "evil\r\x1b[32mPASS" },
  ]);
  assert.deepEqual([r.score, r.max_grade, r.success], [1, 1, 1]);
  const text = formatReport(r).join("\n");
  assert.match(text, /^PASS {2}a/m);
  assert.match(text, /^advice .*do not change the score/m);
  assert.match(text, /TIP {2}b {2}evil\\r\\x1b\[32mPASS/);
  assert.ok(!text.includes("\r") && !text.includes("\x1b"));
  assert.equal(escapeControls("a\tb\x7f"), "a\\tb\\x7f");
  assert.equal(makeReport("p", []).success, 0);
});

Deno.test("report: --unbuffered marks the report, and the human form ends saying it is not the course's verdict", () => {
  const tests = [{ name: "a", passed: true, scored: true, detail: "ok" }];
  const plain = makeReport("part9", tests);
  assert.equal("unbuffered" in plain || "note" in plain, false, "the course's JSON shape");
  assert.equal(formatReport(plain).at(-1), "score: 1/1 (full marks)");
  const r = makeReport("part9", tests, { unbuffered: true });
  assert.deepEqual([r.score, r.success, r.unbuffered], [1, 1, true]);
  assert.equal(r.note, UNBUFFERED_NOTE);
  const lines = formatReport(r);
  assert.deepEqual(lines.slice(-2), ["score: 1/1 (full marks)", `note: ${UNBUFFERED_NOTE}`]);
  assert.match(lines.at(-1)!, /this verdict is not the course's/);
});

Deno.test("flood check: 400,000 lines of flood and counters are one pass, not lines x lines", () => {
  // The old check compared each line with the flood and with every other line: 480 s here.
  const flood = floodText();
  const lines = [...flood.replace(/\n/g, "")].flatMap((c, i) => [c, `n=${i}`]);
  while (lines.length < 400_000) lines.push(`pad ${lines.length}`);
  const v = checkFlood(lines.join("\n"), flood);
  assert.equal(v.passed, false);
  assert.match(v.detail, /whole flood is there, but interleaved with \d{6} line\(s\).*"n=0"/);
});

Deno.test("escapes: C0, C1, DEL, bidi controls, line separators and invalid UTF-8", () => {
  assert.equal(
    escapeControls("\x1b[2J\x9b1m\u202eA\u2066\u2028\u2029\ufffd\x7f\u200f é 🙂"),
    "\\x1b[2J\\x9b1m\\u202eA\\u2066\\u2028\\u2029\\ufffd\\x7f\\u200f é 🙂",
  );
  assert.equal(escapeControls("lone \ud800 \udc00"), "lone \\ud800 \\udc00");
  const json = safeJson({ d: "\x9b\u202e\u2028\x1b" });
  assert.equal(json, '{"d":"\\u009b\\u202e\\u2028\\u001b"}');
  assert.deepEqual(JSON.parse(json), { d: "\x9b\u202e\u2028\x1b" }, "lossless");
  // excerpt quotes and escapes what JSON.stringify leaves (C1, bidi, U+FFFD).
  assert.equal(excerpt("a\x9bb\u202e"), '"a\\x9bb\\u202e"');
});
