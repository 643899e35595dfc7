import assert from "node:assert/strict";
import { advice, detail, failed, failedAdvice, grade, py, socklab } from "./helpers/grade.ts";
import { netnsTest } from "./helpers/netns.ts";

// The secure PMU must listen on localhost:5003: inside a private namespace.

netnsTest("grade part5: full marks for socklab's secure-pmu and a correct script", async (ns) => {
  for (const program of [socklab("secure-pmu"), py("part5_good.py")]) {
    const r = await grade("part5", program, { prefix: ns.prefix });
    assert.deepEqual(failed(r), [], JSON.stringify(r.tests));
    assert.deepEqual(failedAdvice(r), []);
    assert.equal(r.max_grade, 2);
    assert.deepEqual(advice(r), ["serves a second connection"]);
  }
});

netnsTest(
  "grade part5: a server that serves one connection and exits passes, with advice",
  async (ns) => {
    const r = await grade("part5", py("part5_single.py"), { prefix: ns.prefix });
    assert.deepEqual(failed(r), [], JSON.stringify(r.tests));
    assert.equal(r.success, 1);
    assert.match(detail(r, "answers CMD_short:0"), /messages 0\.\.4/);
    assert.deepEqual(failedAdvice(r), ["serves a second connection"]);
    assert.match(
      detail(r, "serves a second connection"),
      /the program exited after the first connection: a server usually serves clients in a loop/,
    );
  },
);

netnsTest("grade part5: a server without TLS fails with the reason", async (ns) => {
  const r = await grade("part5", py("part5_plain.py"), { prefix: ns.prefix });
  assert.equal(r.score, 0);
  assert.match(
    detail(r, "TLS on localhost:5003, certificate of the lab CA"),
    /the server does not speak TLS/,
  );
});

netnsTest(
  "grade part5: a program that never listens is reported, not waited on forever",
  async (ns) => {
    const r = await grade("part5", ["python3", "-c", "import sys; print('oops', sys.argv[1:])"], {
      prefix: ns.prefix,
    });
    assert.equal(r.score, 0);
    assert.match(
      detail(r, "TLS on localhost:5003, certificate of the lab CA"),
      /exited before listening on localhost:5003/,
    );
  },
);
