import assert from "node:assert/strict";
import { detail, failed, grade, py, socklab } from "./helpers/grade.ts";
import { netnsTest } from "./helpers/netns.ts";

netnsTest(
  "grade part4-receiver: full marks for socklab's receiver and a correct script",
  async (ns) => {
    for (const program of [socklab("receiver"), py("part4_receiver_good.py")]) {
      const r = await grade("part4-receiver", program, { prefix: ns.prefix });
      assert.deepEqual(failed(r), [], JSON.stringify(r.tests));
      assert.equal(r.score, r.max_grade);
    }
  },
);

netnsTest(
  "grade part4-receiver: a receiver that forgets to join the group fails with the reason",
  async (ns) => {
    const r = await grade("part4-receiver", py("part4_receiver_nojoin.py"), { prefix: ns.prefix });
    assert.equal(r.score, 0);
    assert.match(
      detail(r, "receives the broadcast"),
      /nothing was printed: did the program join the group/,
    );
  },
);

netnsTest(
  "grade part4-sender: full marks for socklab's sender and a correct script; broken ones lose the right test",
  async (ns) => {
    for (const program of [socklab("sender"), py("part4_sender_good.py")]) {
      const r = await grade("part4-sender", program, {
        prefix: ns.prefix,
        extra: ["--sciper", "654321"],
      });
      assert.deepEqual(failed(r), [], JSON.stringify(r.tests));
    }
    const sep = await grade("part4-sender", py("part4_sender_separator.py"), { prefix: ns.prefix });
    assert.deepEqual(failed(sep), ["datagram is <sciper><text>"]);
    assert.match(
      detail(sep, "datagram is <sciper><text>"),
      /no separator between the 6-byte ID and the text/,
    );
    const once = await grade("part4-sender", py("part4_sender_once.py"), { prefix: ns.prefix });
    assert.deepEqual(failed(once), ["one datagram per input line"]);
    assert.match(detail(once, "one datagram per input line"), /1 of 3 stdin lines arrived/);
  },
);
