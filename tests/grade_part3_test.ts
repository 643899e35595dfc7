import assert from "node:assert/strict";
import { advice, detail, failed, failedAdvice, grade, py, socklab } from "./helpers/grade.ts";
import { DUAL_STACK_HOSTS, netnsTest } from "./helpers/netns.ts";

netnsTest("grade part3: full marks for socklab's pdc-udp and a correct script", async (ns) => {
  const programs = [socklab("pdc-udp"), py("part3_good.py")];
  const reports = await Promise.all(programs.map((p) => grade("part3", p, { prefix: ns.prefix })));
  for (const r of reports) {
    assert.deepEqual(failed(r), [], JSON.stringify(r.tests));
    assert.equal(r.max_grade, 3);
    assert.deepEqual(advice(r), ["exits after the acknowledgement"]);
    assert.match(detail(r, "retransmits after a timeout"), /attempts [\d.]+, [\d.]+/);
  }
}, { hosts: DUAL_STACK_HOSTS });

netnsTest(
  "grade part3: 1 s per socket in turn passes; a bare number passes; 30 offsets fail",
  async (ns) => {
    const [turns, bare, many] = await Promise.all([
      grade("part3", py("part3_per_socket.py"), { prefix: ns.prefix, extra: ["--seed", "9"] }),
      grade("part3", py("part3_bare_number.py"), { prefix: ns.prefix, extra: ["--seed", "9"] }),
      grade("part3", py("part3_many_offsets.py"), { prefix: ns.prefix, extra: ["--seed", "9"] }),
    ]);
    assert.deepEqual(failed(turns), [], JSON.stringify(turns.tests));
    // About 2 s between two RESETs to one family: the handout's timeout, per socket.
    assert.match(detail(turns, "retransmits after a timeout"), /attempts (1\.[89]|2\.)/);
    assert.match(detail(turns, "IPv4-only server"), /printed OFFSET \d+, which the server sent/);
    assert.deepEqual(failed(bare), [], JSON.stringify(bare.tests));
    assert.match(detail(bare, "IPv6-only server"), /printed the number \d+, which the server sent/);
    assert.deepEqual(failed(many), ["IPv4-only server", "IPv6-only server"]);
    assert.match(
      detail(many, "IPv4-only server"),
      /printed offset\(s\) .* that the server never sent .*print only the offset/,
    );
    assert.deepEqual(failedAdvice(many), ["exits after the acknowledgement"]);
  },
  { hosts: DUAL_STACK_HOSTS },
);

netnsTest(
  "grade part3: IPv4 only loses the IPv6 test; no retransmission loses all, with reasons",
  async (ns) => {
    const [v4only, once] = await Promise.all([
      grade("part3", py("part3_ipv4_only.py"), { prefix: ns.prefix }),
      grade("part3", py("part3_no_retransmit.py"), { prefix: ns.prefix }),
    ]);
    assert.deepEqual(failed(v4only), ["IPv6-only server"]);
    assert.match(
      detail(v4only, "IPv6-only server"),
      /no RESET:20 reached the IPv6-only server.*IPv4 and IPv6/,
    );
    assert.equal(once.score, 0);
    assert.match(
      detail(once, "IPv4-only server"),
      /did not send again: retransmit after a 1 s timeout/,
    );
  },
  { hosts: DUAL_STACK_HOSTS },
);

netnsTest(
  "grade part3: where localhost has no IPv6 address, says how to fix /etc/hosts",
  async (ns) => {
    const r = await grade("part3", socklab("pdc-udp"), { prefix: ns.prefix });
    assert.deepEqual(failed(r), ["IPv6-only server"]);
    assert.match(detail(r, "IPv6-only server"), /add the line '::1 localhost' to \/etc\/hosts/);
  },
  { hosts: "127.0.0.1 localhost\n" },
);
