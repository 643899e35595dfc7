import assert from "node:assert/strict";
import { detail, failed, grade, py, socklab } from "./helpers/grade.ts";
import { netnsTest } from "./helpers/netns.ts";

// The secure PMU must listen on localhost:5003: inside a private namespace.

netnsTest("grade part5: full marks for socklab's secure-pmu and a correct script", async (ns) => {
  for (const program of [socklab("secure-pmu"), py("part5_good.py")]) {
    const r = await grade("part5", program, { prefix: ns.prefix });
    assert.deepEqual(failed(r), [], JSON.stringify(r.tests));
    assert.equal(r.max_grade, 3);
  }
});

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
