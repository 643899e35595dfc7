/**
 * Grading part 4: the multicast receiver (4.1) and sender (4.2).
 *
 * The grader's TV sends with TTL 0 and loopback on: its datagrams are
 * delivered on this host only, whatever the network. The student's sender
 * sends with whatever TTL it sets (run the grader in a lab VM or a private
 * namespace).
 *
 * @module
 */
import { freeUdpPort } from "../net/ports.ts";
import { joinedGroups } from "../net/sockets.ts";
import { parseDatagram } from "../multicast/datagram.ts";
import { startReceiver } from "../multicast/receiver.ts";
import { startTv } from "../multicast/tv.ts";
import { Sandbox } from "../proc/sandbox.ts";
import { checkScriptLines, checkSenderAllLines, checkSenderFormat, excerpt } from "./checks.ts";
import {
  captureRun,
  describeEnd,
  type GradablePart,
  type GradeContext,
  keep,
  KEPT,
  programRun,
  runTag,
  showOutput,
  uncheckable,
  unflushedReason,
  watchOutput,
} from "./part.ts";
import type { TestResult } from "./report.ts";

const GROUP = "224.1.1.1";

/**
 * Seconds between the grading TV's datagrams. The course's TV sent one every 3 s, so a
 * receiver that print()s without flush=True filled well under Python's 8 KiB pipe buffer
 * (measured: a Python 3.11 print() loop's first write to a pipe came at 8184 bytes) before the
 * scorer stopped it, and nothing reached the scorer. At 0.15 s, a 5 s run gets about 35
 * datagrams of about 70 bytes: under 3 KiB printed plainly, under 8 KiB even printed as a
 * repr with the sender's address, so the verdict is the course's, while a run still sees the
 * play's end and restart in under 2 s.
 */
const TV_INTERVAL = 0.15;

/** Short lines, so that a run sees the whole play and its restart. */
export const GRADE_SCRIPT = [
  "JULIET: Who knocks upon my port at this late hour?",
  "ROMEO: A datagram, with neither ack nor power.",
  "",
  "JULIET: Then say thy bytes, and say them only once.",
  "ROMEO: I cannot promise: I am UDP, my dear.",
];

/**
 * This run's script: every non-blank line of {@link GRADE_SCRIPT} ends with
 * a tag of its own ({@link runTag}), so a program cannot print the play from
 * memory: only what it received matches.
 */
export function runScript(): string[] {
  return GRADE_SCRIPT.map((l) => (l ? `${l} [${runTag()}]` : l));
}

async function receiverTest(
  ctx: GradeContext,
  name: string,
  need: number,
  timeMs: number,
  scored: boolean,
): Promise<TestResult> {
  const port = freeUdpPort("0.0.0.0");
  const script = runScript();
  const sent = new Set<string>();
  let datagrams = 0;
  const stopCapture = await captureRun(ctx, name, { proto: "udp", port, host: GROUP });
  const tv = await startTv({
    group: GROUP,
    port,
    id: "swcmTV",
    interval: TV_INTERVAL,
    ttl: 0,
    lines: script,
    log: (l) => {
      if (!l.startsWith("sent: swcmTV")) return;
      sent.add(l.slice("sent: swcmTV".length));
      datagrams++;
    },
  });
  const wasSent = (t: string) => sent.has(t);
  try {
    await using sb = new Sandbox(programRun(ctx, [GROUP, String(port)]));
    const end = await watchOutput(
      ctx,
      sb,
      (lines) => checkScriptLines(lines, script, need, wasSent).passed,
      Math.min(timeMs, ctx.timeLimitMs),
    );
    // Whether it received what it did not show: it joined the group (read while it runs).
    const joined = end !== "held" && (await joinedGroups(`/proc/${sb.pid}/net`)).includes(GROUP);
    const r = await sb.stop();
    showOutput(ctx, name, r);
    if (end === "budget") return { name, passed: false, scored, detail: uncheckable(ctx) };
    const ok = end === "held";
    const v = checkScriptLines(sb.stdout.lines, script, need, wasSent);
    if (ok || v.passed) return { name, passed: true, scored, detail: v.detail };
    const ended = r.exitedByItself ? `; the program ${describeEnd(r)}` : "";
    const untagged = sb.stdout.lines.some((l) => GRADE_SCRIPT.some((t) => t && l.includes(t)));
    if (untagged && !sb.stdout.lines.some((l) => script.some((t) => t && l.includes(t)))) {
      const example = script.find((t) => t && sent.has(t)) ?? script[0];
      return {
        name,
        passed: false,
        scored,
        detail: `the output holds the play's text, but none of the lines this run's TV sent ` +
          `(each carries a tag of this run, e.g. ${excerpt(example, 80)}): print the datagrams ` +
          `you receive${ended}`,
      };
    }
    const printed = sb.stdout.lines.filter((l) => l.trim()).length;
    const unflushed = joined && printed < need ? unflushedReason(ctx, r) : undefined;
    if (unflushed) {
      return {
        name,
        passed: false,
        scored,
        detail: `it joined the group ${GROUP}, where the TV sent ${datagrams} datagrams; ` +
          unflushed,
      };
    }
    return { name, passed: false, scored, detail: v.detail + ended };
  } finally {
    await tv.close();
    await stopCapture();
  }
}

export const part4Receiver: GradablePart = {
  name: "part4-receiver",
  prototype: "<group> <port>",
  summary: "the multicast receiver prints the TV's datagrams, one per line",
  async run(ctx) {
    return [
      await receiverTest(ctx, "receives the broadcast", 3, 5_000, true),
      // 5 lines, RWND, a pause, then the first lines again: a full loop.
      await receiverTest(ctx, "keeps receiving across the end of the play", 7, 5_000, false),
    ];
  },
};

export const part4Sender: GradablePart = {
  name: "part4-sender",
  prototype: "<group> <port> <sciper>",
  summary: "the multicast sender sends <sciper><line> for each line of input",
  async run(ctx) {
    const sciper = ctx.options.sciper ?? "123456";
    const lines = [
      "What light through yonder socket breaks?",
      "It is the east, and Juliet is the sun.",
      "Arise, fair sun!",
    ];
    const port = freeUdpPort("0.0.0.0");
    const got: string[] = [];
    const stopCapture = await captureRun(ctx, "sender", { proto: "udp", port, host: GROUP });
    const receiver = await startReceiver({
      group: GROUP,
      port,
      onDatagram: (data) =>
        keep(got, () => {
          const d = parseDatagram(data.subarray(0, KEPT.bytes));
          return d.id + d.text;
        }),
    });
    let end = "";
    try {
      await using sb = new Sandbox(
        programRun(ctx, [GROUP, String(port), sciper], { stdin: "piped" }),
      );
      for (const l of lines) await sb.writeStdin(l + "\n");
      await sb.closeStdin();
      // Wait until every line arrived, or the program ended (then a moment for stragglers).
      const all = () => checkSenderAllLines(got, lines).passed && got.length >= lines.length;
      const deadline = Date.now() + Math.min(ctx.timeLimitMs, 8_000);
      let exitedAt: number | undefined;
      void sb.result.then(() => exitedAt = Date.now());
      while (
        !all() && Date.now() < deadline && (exitedAt === undefined || Date.now() - exitedAt < 500)
      ) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const r = await sb.stop();
      showOutput(ctx, "sender", r);
      if (!r.exitedByItself) end = " (the program did not exit at the end of its input)";
    } finally {
      await receiver.close();
      await stopCapture();
    }
    const format = checkSenderFormat(got, sciper, lines[0]);
    const every = checkSenderAllLines(got, lines);
    return [
      {
        name: "datagram is <sciper><text>",
        passed: format.passed,
        scored: true,
        detail: format.detail,
      },
      {
        name: "no separator after the sciper",
        passed: format.exact,
        scored: false,
        detail: format.exact
          ? "the text follows the 6-digit sciper directly"
          : format.passed
          ? "the lab's format is <sciper><text> with nothing between: the receiver takes " +
            "the first 6 bytes as the ID and the rest as the text"
          : "no datagram in the lab's format",
      },
      {
        name: "one datagram per input line",
        passed: every.passed,
        scored: false,
        detail: every.detail + (every.passed ? "" : end),
      },
    ];
  },
};
