import assert from "node:assert/strict";
import { runProc, runSocklab, spawnSocklab } from "../scripts/lib/proc.ts";
import { DUAL_STACK_HOSTS, netnsTest } from "./helpers/netns.ts";
import { clientScript, makeCourse } from "./helpers/service.ts";

// `socklab serve` and the students' `socklab submit` run in a private
// namespace: part 4 multicasts, part 5 listens on the fixed localhost:5003.

netnsTest(
  "service e2e: every kind graded through socklab submit with socklab's own clients; a broken script; the grade book",
  async (ns) => {
    await using course = await makeCourse(["alice", "bob", "carol"]);
    const { alice, bob } = course.tokens;
    await using serve = spawnSocklab(
      // The graded scripts exec socklab's own clients from this checkout, which a sandbox does not
      // show: unisolated (tests/isolation_test.ts and service_api_test grade isolated).
      ["serve", "--data", course.data, "--port", "0", "--workers", "2", "--isolation", "off"],
      { prefix: ns.prefix, env: { SOCKLAB_GRADE_SEED: "7" } },
    );
    const url = (await serve.stderr.waitFor(/listening on (http:\/\/\S+)/, 20_000))[1];
    const d = course.dir;
    const script = async (client: string) => {
      await Deno.writeTextFile(`${d}/${client}.py`, clientScript(client));
      return `${d}/${client}.py`;
    };
    const submit = (token: string, args: string[]) =>
      runSocklab(["submit", "--server", url, "--token", token, ...args], {
        prefix: ns.prefix,
        timeoutMs: 120_000,
      });
    const json = (r: { code: number; stdout: string; stderr: string }) => {
      assert.ok(r.code === 0 || r.code === 1, r.stderr);
      const out = JSON.parse(r.stdout);
      assert.deepEqual(Object.keys(out), [
        "id",
        "kind",
        "status",
        "max_grade",
        "score",
        "success",
        "tests",
      ]);
      return out as { status: string; score: number; max_grade: number; success: number };
    };

    // ca-sign, then part5 with the certificate the course CA signed.
    const tls = (async () => {
      const req = await runSocklab([
        "ca",
        "request",
        "--key",
        `${d}/alice.key`,
        "--csr",
        `${d}/alice.csr`,
      ]);
      assert.equal(req.code, 0, req.stderr);
      const sign = await submit(alice, ["ca-sign", `${d}/alice.csr`]);
      assert.equal(sign.code, 0, sign.stderr + sign.stdout);
      assert.match(sign.stdout, new RegExp(`signed certificate written to ${d}/alice\\.crt`));
      const verify = await runProc([
        "openssl",
        "verify",
        "-CAfile",
        `${course.data}/ca.crt`,
        `${d}/alice.crt`,
      ]);
      assert.equal(verify.stdout.trim(), `${d}/alice.crt: OK`, verify.stderr);
      const p5 = json(
        await submit(alice, [
          "part5",
          "--json",
          await script("secure-pmu"),
          `${d}/alice.crt`,
          `${d}/alice.key`,
        ]),
      );
      return { "ca-sign": 1, part5: p5 };
    })();
    const clients: [string, string, string[]][] = [
      ["part2", "pdc", []],
      ["part3", "pdc-udp", []],
      ["part4-receiver", "receiver", []],
      ["part4-sender", "sender", ["--sciper", "654321"]],
      ["part6", "ws-pdc", []],
    ];
    const plain = Promise.all(clients.map(async ([kind, client, extra]) => {
      const r = await submit(alice, [kind, "--json", ...extra, await script(client)]);
      return [kind, json(r)] as const;
    }));
    // bob's broken script, printed like `grade`.
    await Deno.writeTextFile(`${d}/broken.py`, "import sys\nsys.exit('no socket today')\n");
    const broken = await submit(bob, ["part2", `${d}/broken.py`]);
    assert.equal(broken.code, 1, broken.stderr);
    assert.match(broken.stdout, /^FAIL {2}CMD_short:0 .*exited with code 1.*no socket today/m);
    assert.match(broken.stdout, /^score: 0\/\d+$/m);
    assert.match(broken.stderr, /submission \d+ \(part2\)/);

    const scores: Record<string, number> = {};
    for (const [kind, r] of await plain) {
      assert.equal(r.status, "done", kind);
      assert.equal(r.score, r.max_grade, `${kind}: ${JSON.stringify(r)}`);
      assert.equal(r.success, 1);
      scores[kind] = r.score;
    }
    const t = await tls;
    assert.equal(t.part5.score, t.part5.max_grade, JSON.stringify(t.part5));
    scores.part5 = t.part5.score;
    scores["ca-sign"] = 1;

    const book = await runSocklab(["course", "export", "--data", course.data]);
    assert.equal(book.code, 0, book.stderr);
    const kinds = ["part2", "part3", "part4-receiver", "part4-sender", "part5", "part6", "ca-sign"];
    assert.deepEqual(book.stdout.trim().split("\n"), [
      `id,name,${kinds.join(",")}`,
      `alice,Student alice,${kinds.map((k) => scores[k]).join(",")}`,
      "bob,Student bob,0,,,,,,",
      "carol,Student carol,,,,,,,",
    ]);
    // One log line per job: student, kind, score, duration, worker.
    const jobs = serve.stderr.text.split("\n").filter((l) => /^job \d+ /.test(l));
    assert.equal(jobs.length, 8, serve.stderr.text);
    assert.ok(jobs.some((l) => /bob part2\): score 0\/\d+ in [\d.]+ s on \S+\/[01]$/.test(l)));
    serve.kill("SIGTERM");
    assert.equal((await serve.exited(20_000)).code, 0, serve.stderr.text);
  },
  { hosts: DUAL_STACK_HOSTS },
);
