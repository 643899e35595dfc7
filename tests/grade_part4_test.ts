import assert from "node:assert/strict";
import { advice, detail, failed, failedAdvice, grade, py, socklab } from "./helpers/grade.ts";
import { netnsTest } from "./helpers/netns.ts";

/** Programs that fail: no need to wait the whole 5 s per test. */
const LIMIT = ["--time-limit", "2.5"];

netnsTest(
  "grade part4-receiver: full marks for socklab's receiver and a correct script",
  async (ns) => {
    for (const program of [socklab("receiver"), py("part4_receiver_good.py")]) {
      const r = await grade("part4-receiver", program, { prefix: ns.prefix });
      assert.deepEqual(failed(r), [], JSON.stringify(r.tests));
      assert.deepEqual(failedAdvice(r), []);
      assert.equal(r.score, r.max_grade);
      assert.deepEqual(advice(r), ["keeps receiving across the end of the play"]);
    }
  },
);

netnsTest(
  "grade part4-receiver: no join, or the play printed from memory, fails with the reason",
  async (ns) => {
    const [nojoin, memory] = await Promise.all([
      grade("part4-receiver", py("part4_receiver_nojoin.py"), { prefix: ns.prefix, extra: LIMIT }),
      grade("part4-receiver", py("part4_receiver_memory.py"), { prefix: ns.prefix, extra: LIMIT }),
    ]);
    assert.equal(nojoin.score, 0);
    assert.match(
      detail(nojoin, "receives the broadcast"),
      /nothing was printed: did the program join the group/,
    );
    // The TV tags every line per run: lines it did not send this run never count.
    assert.equal(memory.score, 0);
    assert.match(
      detail(memory, "receives the broadcast"),
      /holds the play's text, but none of the lines this run's TV sent .*\[[a-z2-9]{6}\]/,
    );
  },
);

netnsTest(
  "grade part4-sender: full marks for socklab's sender and a correct script; the rest is advice",
  async (ns) => {
    for (const program of [socklab("sender"), py("part4_sender_good.py")]) {
      const r = await grade("part4-sender", program, {
        prefix: ns.prefix,
        extra: ["--sciper", "654321"],
      });
      assert.deepEqual(failed(r), [], JSON.stringify(r.tests));
      assert.deepEqual(failedAdvice(r), []);
      assert.equal(r.max_grade, 1);
    }
    const [sep, once, first] = await Promise.all([
      grade("part4-sender", py("part4_sender_separator.py"), { prefix: ns.prefix }),
      grade("part4-sender", py("part4_sender_one_line.py"), { prefix: ns.prefix }),
      grade("part4-sender", py("part4_sender_once.py"), { prefix: ns.prefix }),
    ]);
    // One line, in the lab's format: full scored marks; looping to EOF is advice.
    assert.equal(first.success, 1);
    assert.deepEqual(failedAdvice(first), ["one datagram per input line"]);
    // `<sciper> <text>` passes the scored test, with advice about the separator.
    assert.deepEqual(failed(sep), []);
    assert.equal(sep.success, 1);
    assert.deepEqual(failedAdvice(sep), ["no separator after the sciper"]);
    assert.match(detail(sep, "no separator after the sciper"), /first 6 bytes as the ID/);
    // One line read and sent, then exit (and a space): full scored marks, two pieces of advice.
    assert.deepEqual(failed(once), []);
    assert.deepEqual(failedAdvice(once), [
      "no separator after the sciper",
      "one datagram per input line",
    ]);
    assert.match(detail(once, "one datagram per input line"), /1 of 3 stdin lines arrived/);
  },
);
