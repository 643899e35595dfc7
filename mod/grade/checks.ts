/**
 * What `grade` accepts from a student's program, as pure functions of its
 * output. They follow what real lab scripts printed (LAB-FACTS "What
 * students' scripts print") and explain every failure in one line: what was
 * expected and what came.
 *
 * @module
 */
import { escapeControls } from "../escape.ts";

/** The verdict of one check. */
export interface Verdict {
  passed: boolean;
  detail: string;
}

const MSG_RE = /This is PMU data (\d+)/g;

/** Shorten a line for a one-line report: quoted, every unsafe character escaped. */
export function excerpt(s: string, max = 60): string {
  const one = escapeControls(JSON.stringify(s.length > max ? s.slice(0, max) : s));
  return one.length > max ? one.slice(0, max - 4) + '..."' : one;
}

/**
 * Part 2 / 5 / 6: the output must hold `This is PMU data 0` .. `n-1`, one per
 * line, in order, none missing, none merged. Lines may carry a prefix or
 * suffix (`received: `, `b'...'`); lines without a message (status lines)
 * are ignored. With `n` undefined (part 5: the student's server chose n),
 * any n >= `minCount` passes.
 */
export function checkPmuMessages(lines: string[], n?: number, minCount = 1): Verdict {
  const seen: number[] = [];
  for (let i = 0; i < lines.length; i++) {
    const found = [...lines[i].matchAll(MSG_RE)].map((m) => Number(m[1]));
    if (found.length > 1) {
      return {
        passed: false,
        detail: `line ${i + 1} holds ${found.length} messages (${excerpt(lines[i])}): ` +
          `print each message on its own line (TCP does not keep message boundaries)`,
      };
    }
    if (found.length === 1) {
      const expected = seen.length;
      if (found[0] !== expected) {
        const where = `line ${i + 1} (${excerpt(lines[i])})`;
        const detail = found[0] > expected
          ? `message ${expected} is missing: ${where} came after ${
            expected === 0 ? "no message" : `message ${expected - 1}`
          }`
          : `${where} repeats or breaks the order: expected 'This is PMU data ${expected}'`;
        return { passed: false, detail };
      }
      seen.push(found[0]);
    }
  }
  const want = n === undefined ? `at least ${minCount}` : String(n);
  if (seen.length === 0) {
    return {
      passed: false,
      detail: `no 'This is PMU data i' line in the output (expected ${want})`,
    };
  }
  if (n !== undefined && seen.length !== n) {
    return {
      passed: false,
      detail: seen.length < n
        ? `got messages 0..${seen.length - 1} but the server sent ${n} (0..${n - 1}): ` +
          `read until the server closes the connection; do not assume the number of messages`
        : `got ${seen.length} messages but the server sent ${n}`,
    };
  }
  if (seen.length < minCount) {
    return { passed: false, detail: `got ${seen.length} message(s), expected ${want}` };
  }
  return { passed: true, detail: `messages 0..${seen.length - 1}, one per line, in order` };
}

/**
 * The flood is correct if the output with line breaks removed contains the
 * flood with line breaks removed (scripts print a line break after every
 * read; the course's scorer accepted that). Linear in the output: a program
 * printing the flood as 400,000 short lines is judged as fast as one line.
 */
export function checkFlood(output: string, flood: string): Verdict {
  const strip = (s: string) => s.replace(/[\r\n]/g, "");
  const out = strip(output);
  const want = strip(flood);
  if (out.includes(want)) {
    return { passed: true, detail: `all ${flood.length} bytes of the flood, in order` };
  }
  const mixed = interleaved(output, want);
  if (mixed) {
    return {
      passed: false,
      detail: `the whole flood is there, but interleaved with ${mixed.count} line(s) of ` +
        `the program's own (first: ${excerpt(mixed.first)}): print only the data received`,
    };
  }
  // How far does it match? Find the flood's start, then the first difference.
  const head = want.slice(0, 64);
  const at = out.indexOf(head);
  if (at < 0) {
    return {
      passed: false,
      detail: `the flood's first bytes ${excerpt(flood.slice(0, 30), 40)} are not in the output ` +
        `(${output.length} bytes printed)`,
    };
  }
  let i = 0;
  while (i < want.length && at + i < out.length && out[at + i] === want[i]) i++;
  const reason = at + i >= out.length
    ? "then the output stops: receive until the server closes the connection"
    : `then ${excerpt(out.slice(at + i, at + i + 30), 40)} instead of ${
      excerpt(want.slice(i, i + 30), 40)
    }`;
  return {
    passed: false,
    detail: `only ${i} of ${want.length} flood bytes (line breaks ignored) were printed, ${reason}`,
  };
}

/**
 * Is the whole flood (`want`, line breaks removed) in the output once the
 * program's own lines (each recv size, a counter) are left out? Each line
 * either continues the flood where the previous piece ended, or is the
 * program's own: one pass, each line compared once. The count and first of
 * the program's own lines, or null.
 */
function interleaved(output: string, want: string): { count: number; first: string } | null {
  let at = 0, count = 0, first = "";
  for (const raw of output.split("\n")) {
    const line = raw.replace(/\r$/, "");
    if (at < want.length && line !== "" && want.startsWith(line, at)) at += line.length;
    else if (raw.trim() !== "") {
      if (count++ === 0) first = raw;
    }
  }
  return at === want.length && count > 0 ? { count, first } : null;
}

/** Every `OFFSET:<x>` / `OFFSET=<x>` in the output, wrapped or not (`b'OFFSET:7'`, `data4 = OFFSET:7`). */
export function offsetsIn(output: string): number[] {
  return [...output.matchAll(/OFFSET\s*[:=]\s*(\d+)/g)].map((m) => Number(m[1]));
}

/** Lines that hold nothing but a number (a script that prints just the offset, `7`). */
export function bareNumbersIn(output: string): number[] {
  return output.split("\n").map((l) => l.trim()).filter((l) => /^\d{1,3}$/.test(l)).map(Number);
}

/** The offsets a part 3 program printed: tagged ones if any, else bare numbers. */
export function printedOffsets(output: string): number[] {
  const tagged = offsetsIn(output);
  return tagged.length ? tagged : bareNumbersIn(output);
}

/**
 * Part 3: the program printed the offset the server sent it, and no other.
 * Offsets are read from `OFFSET:<x>` / `OFFSET=<x>` anywhere in a line; if
 * there is none, from lines holding just a number. Printing an offset the
 * server did not send (e.g. every offset 0..29) is not an acknowledgement.
 */
export function checkOffset(output: string, sent: number[]): Verdict {
  const tagged = offsetsIn(output);
  const printed = printedOffsets(output);
  const form = tagged.length ? (x: number) => `OFFSET ${x}` : (x: number) => `the number ${x}`;
  const sentText = sent.map((x) => `OFFSET:${x}`).join(", ");
  if (sent.length === 0) {
    return {
      passed: false,
      detail: printed.length
        ? `printed ${form(printed[0])} but the server never acknowledged a RESET from it`
        : "the server received no RESET:20 it could acknowledge, and nothing was printed",
    };
  }
  const wrong = [...new Set(printed.filter((x) => !sent.includes(x)))];
  if (wrong.length) {
    const shown = wrong.length > 5
      ? `${wrong.slice(0, 5).join(", ")} and ${wrong.length - 5} more`
      : wrong.join(", ");
    return {
      passed: false,
      detail: `printed offset(s) ${shown} that the server never sent (it sent ${sentText}): ` +
        `print only the offset of the acknowledgement you received`,
    };
  }
  if (printed.length) {
    return { passed: true, detail: `printed ${form(printed[0])}, which the server sent` };
  }
  return {
    passed: false,
    detail: `the server sent ${sentText} but the output holds no offset: print the acknowledgement`,
  };
}

/**
 * Part 4 receiver: the output holds at least `need` consecutive lines of the
 * script (with or without the ID, or inside a repr). Blank script lines are
 * skipped (they go out as the bare ID). Only lines `wasSent` count: a
 * program cannot pass by printing the play from memory.
 */
export function checkScriptLines(
  output: string[],
  script: string[],
  need: number,
  wasSent: (text: string) => boolean = () => true,
): Verdict {
  const texts = script.map((l) => l.trimEnd());
  const indexOf = (line: string): number => {
    let best = -1;
    for (let i = 0; i < texts.length; i++) {
      const t = texts[i];
      if (
        t.length >= 3 && line.includes(t) && wasSent(t) &&
        (best < 0 || t.length > texts[best].length)
      ) {
        best = i;
      }
    }
    return best;
  };
  const nonBlank = texts.map((t, i) => (t.length >= 3 ? i : -1)).filter((i) => i >= 0);
  const nextOf = (i: number) => nonBlank[(nonBlank.indexOf(i) + 1) % nonBlank.length];
  let run = 0, bestRun = 0, prev = -1, matched = 0;
  for (const line of output) {
    const i = indexOf(line);
    if (i < 0) continue;
    matched++;
    run = prev >= 0 && nextOf(prev) === i ? run + 1 : 1;
    prev = i;
    bestRun = Math.max(bestRun, run);
  }
  if (bestRun >= need) {
    return { passed: true, detail: `${bestRun} consecutive lines of the play, one per line` };
  }
  if (matched === 0) {
    return {
      passed: false,
      detail: output.length
        ? `none of the ${output.length} printed lines is a line of the play (first: ${
          excerpt(output[0])
        })`
        : "nothing was printed: did the program join the group 224.x.x.x on the right port?",
    };
  }
  return {
    passed: false,
    detail:
      `only ${bestRun} consecutive lines of the play (need ${need}); ${matched} matched in all`,
  };
}

/**
 * Part 4 sender (scored): a datagram is `<sciper><text>` for the first input
 * line. As the course accepted, a space or a colon between the sciper and the
 * text passes too (`exact` says whether there was none, for the advice).
 */
export function checkSenderFormat(
  datagrams: string[],
  sciper: string,
  firstLine: string,
): Verdict & { exact: boolean } {
  const want = sciper + firstLine;
  if (datagrams.length === 0) {
    return { passed: false, exact: false, detail: "no datagram reached the group" };
  }
  const exact = datagrams.find((d) => d === want);
  if (exact !== undefined) {
    return { passed: true, exact: true, detail: `received ${excerpt(want)}` };
  }
  const separated = datagrams.find((d) =>
    d.length > want.length && d.startsWith(sciper) && d.endsWith(firstLine) &&
    /^\s*:?\s*$/.test(d.slice(6, d.length - firstLine.length))
  );
  if (separated !== undefined) {
    return {
      passed: true,
      exact: false,
      detail: `received ${excerpt(separated)} (a separator after the sciper: see the advice)`,
    };
  }
  const first = datagrams[0];
  const hint = first.includes(firstLine) && !first.startsWith(sciper)
    ? `: the datagram must start with the 6-digit sciper ${sciper}`
    : "";
  return {
    passed: false,
    exact: false,
    detail: `expected ${excerpt(want)}, received ${excerpt(first)}${hint}`,
  };
}

/** Part 4 sender: every stdin line reached the group, in order (format aside). */
export function checkSenderAllLines(datagrams: string[], lines: string[]): Verdict {
  let k = 0;
  for (const d of datagrams) if (k < lines.length && d.includes(lines[k])) k++;
  if (k === lines.length) {
    return { passed: true, detail: `all ${lines.length} lines arrived, in order` };
  }
  return {
    passed: false,
    detail: `${k} of ${lines.length} stdin lines arrived; line ${k + 1} (${
      excerpt(lines[k])
    }) never did: send one datagram per line until end of input`,
  };
}
