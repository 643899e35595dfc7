import assert from "node:assert/strict";
import { unzipSync } from "fflate";
import { slug } from "../mod/grade/capture.ts";
import { pmuRuns } from "../mod/grade/pmu_runs.ts";
import { descendants } from "../mod/proc/sandbox.ts";
import { openStore } from "../mod/service/store/open.ts";
import {
  fixture,
  getJson,
  makeCourse,
  postSubmission,
  serveInProcess,
  waitGraded,
  waitStatus,
} from "./helpers/service.ts";
import { isRunFlood, serverBytes } from "./helpers/grade.ts";
import { requireTool } from "./helpers/requires.ts";

const BROKEN = "import sys\nsys.exit('no socket today')\n";

Deno.test("service api: tokens, roles and ownership (401, 403, 404)", async () => {
  await using course = await makeCourse(["alice", "bob"]);
  await using svc = await serveInProcess(course);
  const { alice, bob } = course.tokens;
  const made = await postSubmission(svc.url, alice, { kind: "part2", files: { script: BROKEN } });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const id = made.body.id as number;
  assert.equal(made.body.status, "queued");
  assert.equal(made.body.position, 1);

  const noToken = await fetch(`${svc.url}/api/submissions/${id}`);
  assert.equal(noToken.status, 401);
  assert.match((await noToken.json()).error, /Bearer/);
  const bad = await getJson(svc.url, "slk_not-a-real-token", "/api/me");
  assert.equal(bad.status, 401);
  assert.match(
    bad.body.error as string,
    /^this token is not valid: it was replaced by a newer one/,
  );

  const mine = await getJson(svc.url, alice, `/api/submissions/${id}`);
  assert.equal(mine.status, 200);
  assert.equal(mine.body.user, "alice");
  assert.deepEqual(mine.body.files, ["script.txt"]);
  for (const path of [`/api/submissions/${id}`, `/api/submissions/${id}/archive`]) {
    const other = await getJson(svc.url, bob, path);
    assert.equal(other.status, 404, path);
  }
  assert.equal((await getJson(svc.url, bob, "/api/submissions/99999")).status, 404);
  assert.deepEqual((await getJson(svc.url, bob, "/api/submissions")).body, { submissions: [] });

  for (const path of ["/api/course", "/api/course/queue", "/api/course/export"]) {
    const r = await getJson(svc.url, bob, path);
    assert.equal(r.status, 403, path);
    assert.match(r.body.error as string, /teaching assistant/);
  }
  const queue = await getJson(svc.url, course.ta, "/api/course/queue");
  assert.equal((queue.body.queued as unknown[]).length, 1);
  assert.equal((await getJson(svc.url, course.ta, `/api/submissions/${id}`)).status, 200);
  const me = await getJson(svc.url, bob, "/api/me");
  assert.equal(me.body.role, "student");
  assert.equal((me.body.policy as { keep: string }).keep, "best");
});

Deno.test("service api: bad uploads are refused with one sentence and nothing is queued", async () => {
  await using course = await makeCourse(["alice"]);
  await using svc = await serveInProcess(course);
  const t = course.tokens.alice;
  const pem = (label: string) => `-----BEGIN ${label}-----\nZ2FyYmFnZQ==\n-----END ${label}-----\n`;
  const cases: [string, Promise<{ status: number; body: Record<string, unknown> }>, RegExp][] = [
    [
      "binary script",
      postSubmission(svc.url, t, {
        kind: "part2",
        files: { script: { name: "PDC.py", data: new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0, 1]) } },
      }),
      /PDC\.py is not a text file/,
    ],
    [
      "10 MiB file",
      postSubmission(svc.url, t, {
        kind: "part2",
        files: { script: "#".repeat(10 * 1024 * 1024) },
      }),
      /larger than the limit of 1 MiB/,
    ],
    [
      "script over 256 KiB",
      postSubmission(svc.url, t, { kind: "part2", files: { script: "#".repeat(300 * 1024) } }),
      /is 300 KiB; the limit is 256 KiB/,
    ],
    [
      "garbage PEM certificate",
      postSubmission(svc.url, t, {
        kind: "part5",
        files: { script: BROKEN, cert: pem("CERTIFICATE"), key: pem("PRIVATE KEY") },
      }),
      /not a PEM certificate that openssl can read/,
    ],
    [
      "garbage CSR",
      postSubmission(svc.url, t, { kind: "ca-sign", files: { csr: "hello" } }),
      /not a PEM certificate request/,
    ],
    [
      "unknown kind",
      postSubmission(svc.url, t, { kind: "part9", files: { script: BROKEN } }),
      /'part9' is not a part/,
    ],
    [
      "missing file",
      postSubmission(svc.url, t, { kind: "part5", files: { script: BROKEN } }),
      /part5 needs the file 'cert'/,
    ],
    [
      "missing sciper",
      postSubmission(svc.url, t, { kind: "part4-sender", files: { script: BROKEN } }),
      /needs your sciper/,
    ],
    [
      "missing token",
      postSubmission(svc.url, null, { kind: "part2", files: { script: BROKEN } }),
      /Bearer/,
    ],
  ];
  for (const [what, p, re] of cases) {
    const r = await p;
    assert.ok(r.status >= 400 && r.status < 500, `${what}: ${r.status}`);
    assert.match(r.body.error as string, re, what);
    assert.doesNotMatch(r.body.error as string, /\n/, what);
  }
  // A request key below 2048 bits.
  const dir = await Deno.makeTempDir({ dir: course.dir });
  const gen = (args: string[]) =>
    new Deno.Command("openssl", { args, stdout: "null", stderr: "null" }).output();
  await gen(["genrsa", "-out", `${dir}/k`, "1024"]);
  await gen(["req", "-new", "-key", `${dir}/k`, "-out", `${dir}/r.csr`, "-subj", "/CN=x"]);
  const weak = await postSubmission(svc.url, t, {
    kind: "ca-sign",
    files: { csr: { name: "r.csr", data: await Deno.readTextFile(`${dir}/r.csr`) } },
  });
  assert.equal(weak.status, 400);
  assert.match(weak.body.error as string, /has 1024 bits; at least 2048/);

  const all = await getJson(svc.url, course.ta, "/api/course/submissions");
  assert.deepEqual(all.body.submissions, []);
  assert.deepEqual(await svc.store.listJobs("queued"), []);
});

Deno.test("service api: one queued-or-running job per student and part, then the cooldown", async () => {
  await using course = await makeCourse(["alice", "bob"], { cooldownSeconds: 30 });
  const { alice, bob } = course.tokens;
  const up = { kind: "part2", files: { script: BROKEN } };
  let first: number;
  {
    await using svc = await serveInProcess(course, { workers: 0 });
    const a = await postSubmission(svc.url, alice, up);
    assert.equal(a.status, 201);
    first = a.body.id as number;
    const again = await postSubmission(svc.url, alice, up);
    assert.equal(again.status, 429);
    assert.match(again.body.error as string, new RegExp(`submission ${first} is still queued`));
    assert.ok(Number(again.headers.get("retry-after")) > 0);
    // Another part, or another student, is not held up; bob is second in the queue.
    assert.equal((await postSubmission(svc.url, alice, { ...up, kind: "part6" })).status, 201);
    const b = await postSubmission(svc.url, bob, up);
    assert.equal(b.status, 201);
    assert.equal(b.body.position, 3);
    assert.equal(b.body.estimated_wait_s, null, "no worker: no estimate");
  }
  await using svc = await serveInProcess(course, { workers: 2 });
  const done = await waitGraded(svc.url, alice, first);
  assert.equal(done.status, "done");
  assert.equal(done.score, 0);
  const cool = await postSubmission(svc.url, alice, up);
  assert.equal(cool.status, 429);
  assert.match(cool.body.error as string, /one part2 submission every 30 s: try again in \d+ s/);
  const after = Number(cool.headers.get("retry-after"));
  assert.ok(after > 0 && after <= 30, String(after));
  assert.equal((await svc.store.listSubmissions({ userId: "alice" })).length, 2);
});

Deno.test("service api: 20 submissions queued at once all complete once, with the right scores", async () => {
  requireTool("tcpdump", "tcpdump"); // the archive holds each run's capture
  const ids = Array.from({ length: 20 }, (_, i) => `s${String(i).padStart(2, "0")}`);
  await using course = await makeCourse(ids);
  await using svc = await serveInProcess(course, { workers: 4 });
  const good = fixture("part2_good.py");
  const posted = await Promise.all(ids.map((id, i) =>
    postSubmission(svc.url, course.tokens[id], {
      kind: "part2",
      files: { script: { name: "PDC.py", data: i % 4 ? BROKEN : good } },
    })
  ));
  assert.deepEqual(posted.map((p) => p.status), ids.map(() => 201));
  const waiting = posted.filter((p) => p.body.position !== null);
  assert.ok(waiting.some((p) => (p.body.position as number) > 4), "most wait in the queue");
  for (const p of waiting) assert.ok((p.body.estimated_wait_s as number) >= 1, "an estimate");
  const results = await Promise.all(
    posted.map((p, i) => waitGraded(svc.url, course.tokens[ids[i]], p.body.id as number, 120_000)),
  );
  for (const [i, r] of results.entries()) {
    assert.equal(r.status, "done", JSON.stringify(r));
    if (i % 4) assert.equal(r.score, 0, JSON.stringify(r.tests));
    else assert.equal(r.score, r.max_grade, JSON.stringify(r.tests));
  }
  const jobLines = svc.logs.filter((l) => /^job \d+ .*: score \d+\/\d+ in [\d.]+ s on /.test(l));
  assert.equal(jobLines.length, 20, svc.logs.join("\n"));
  const csv = await (await fetch(`${svc.url}/api/course/export`, {
    headers: { authorization: `Bearer ${course.ta}` },
  })).text();
  const rows = csv.trim().split("\n");
  assert.equal(rows[0], "id,name,part2,part3,part4-receiver,part4-sender,part5,part6,ca-sign");
  assert.equal(rows[1], `s00,Student s00,${results[0].max_grade},,,,,,`);
  assert.equal(rows[2], "s01,Student s01,0,,,,,,");

  // The archive: the files and output/ in the course's format.
  const zip = await fetch(`${svc.url}/api/submissions/${results[0].id}/archive`, {
    headers: { authorization: `Bearer ${course.tokens.s00}` },
  });
  assert.equal(zip.headers.get("content-type"), "application/zip");
  const files = unzipSync(new Uint8Array(await zip.arrayBuffer()));
  // Each run's packets too (the worker is root: grading is isolated, tcpdump in the job's lo).
  const pcaps = pmuRuns(7, true).map((run) => `output/${slug(run.name)}.pcap`);
  assert.deepEqual(
    Object.keys(files).sort(),
    [
      "PDC.py",
      "output/job.json",
      "output/result.json",
      "output/runs.json",
      "output/stderr.txt",
      "output/stdout.txt",
      ...pcaps,
    ].sort(),
  );
  // Each run's own output, the grader's words apart from what the program printed.
  const runs = JSON.parse(new TextDecoder().decode(files["output/runs.json"]));
  assert.deepEqual(runs.map((r: { test: string }) => r.test), pmuRuns(7, true).map((r) => r.name));
  assert.match(runs[0].stdout, /This is PMU data 0/);
  assert.match(runs[0].end, /^exited/);
  assert.ok(!runs[0].stdout.includes("==="), "no grader line in the program's output");
  const flood = serverBytes(files["output/cmd_floodme.pcap"]);
  assert.ok(isRunFlood(flood), "the run's own flood");
  const printed = new TextDecoder().decode(files["output/stdout.txt"]).replace(/\n/g, "");
  assert.ok(printed.includes(flood.replace(/\n/g, "")), "the program printed that flood");
  const jobJson = JSON.parse(new TextDecoder().decode(files["output/job.json"]));
  assert.deepEqual(jobJson, {
    status: "done",
    tries: 1,
    outcome: "graded: the result is what the program did",
  });
  const result = JSON.parse(new TextDecoder().decode(files["output/result.json"]));
  assert.equal(result.score, results[0].max_grade);
  assert.equal(result.success, 1);
  assert.match(new TextDecoder().decode(files["output/stdout.txt"]), /This is PMU data 0/);

  // The TA re-runs one student's part2: a new job, the same score, the grade book unchanged.
  const rerun = await fetch(`${svc.url}/api/course/rerun`, {
    method: "POST",
    body: JSON.stringify({ kind: "part2", user: "s01" }),
    headers: { authorization: `Bearer ${course.ta}` },
  });
  assert.deepEqual(await rerun.json(), { queued: 1 });
  const again = await waitGraded(svc.url, course.ta, results[1].id);
  assert.equal(again.score, 0);
  assert.equal(
    await (await fetch(`${svc.url}/api/course/export`, {
      headers: { authorization: `Bearer ${course.ta}` },
    })).text(),
    csv,
  );
});

Deno.test("service api: a grader failure is retried, then failed, and is not an attempt", async () => {
  await using course = await makeCourse(["alice"], { cooldownSeconds: 600 });
  await using svc = await serveInProcess(course, { workers: 1 });
  const dir = await Deno.makeTempDir({ dir: course.dir });
  const ssl = await new Deno.Command("openssl", {
    args: [
      "req",
      "-new",
      "-newkey",
      "rsa:2048",
      "-noenc",
      "-keyout",
      `${dir}/k`,
      "-out",
      `${dir}/a.csr`,
      "-subj",
      "/CN=localhost",
    ],
    stdout: "null",
    stderr: "null",
  }).output();
  assert.ok(ssl.success);
  const csr = { csr: { name: "a.csr", data: await Deno.readTextFile(`${dir}/a.csr`) } };
  // The course CA's key disappears: signing fails, whatever the student sent.
  await Deno.rename(`${course.data}/ca.key`, `${dir}/ca.key`);
  const made = await postSubmission(svc.url, course.tokens.alice, { kind: "ca-sign", files: csr });
  assert.equal(made.status, 201);
  const failed = await waitGraded(svc.url, course.tokens.alice, made.body.id as number);
  assert.equal(failed.status, "failed");
  assert.match(failed.error!, /no CA in/);
  const tries = svc.logs.filter((l) => /ca-sign\): grader failed on .* \(try \d of 4/.test(l));
  assert.equal(tries.length, 4, svc.logs.join("\n"));
  assert.match(tries[3], /given up/);
  // Not an attempt: no cooldown, nothing in the grade book; with the key back it is signed.
  await Deno.rename(`${dir}/ca.key`, `${course.data}/ca.key`);
  const again = await postSubmission(svc.url, course.tokens.alice, { kind: "ca-sign", files: csr });
  assert.equal(again.status, 201, JSON.stringify(again.body));
  const signed = await waitGraded(svc.url, course.tokens.alice, again.body.id as number);
  assert.equal(signed.status, "done");
  assert.equal(signed.success, 1);
  const me = await getJson(svc.url, course.tokens.alice, "/api/me");
  assert.equal((me.body.scores as Record<string, number>)["ca-sign"], 1);
});

Deno.test("service api: closing with a job still running past the grace stops it and hands it back", async () => {
  await using course = await makeCourse(["alice"]);
  const svc = await serveInProcess(course, { workers: 1 });
  // A name of its own: other test files run in this process too.
  const name = `hang_${crypto.randomUUID().slice(0, 8)}.py`;
  let id: number;
  try {
    const made = await postSubmission(svc.url, course.tokens.alice, {
      kind: "part2",
      files: { script: { name, data: "import time\ntime.sleep(120)\n" } },
    });
    id = made.body.id as number;
    await waitStatus(svc.url, course.tokens.alice, id, ["running"], 20_000);
  } finally {
    await svc.close(300);
  }
  assert.ok(
    svc.logs.some((l) => /: handed back to the queue \(shutting down\)$/.test(l)),
    svc.logs.join("\n"),
  );
  const left = () =>
    descendants(Deno.pid).filter((pid) => {
      try {
        return Deno.readTextFileSync(`/proc/${pid}/cmdline`).includes(name);
      } catch {
        return false;
      }
    });
  // The kill is sent; wait (bounded) for the kernel to finish it.
  const deadline = Date.now() + 5_000;
  while (left().length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(left(), [], "the program was stopped");
  const store = await openStore({ data: course.data });
  try {
    const job = (await store.getSubmission(id))!.job;
    assert.deepEqual([job.status, job.tries], ["queued", 0]);
  } finally {
    await store.close();
  }
});

Deno.test("service api: unisolated, jobs are graded one at a time even with several workers", async () => {
  await using course = await makeCourse(["alice", "bob"]);
  await using svc = await serveInProcess(course, { workers: 2, isolation: "off" });
  const log = `${course.dir}/runs.log`;
  // Each run of the program notes when it starts and ends, tagged by its job's folder.
  const script = [
    "import os, sys, time",
    "tag = os.path.dirname(os.path.abspath(__file__))",
    `with open(${JSON.stringify(log)}, "a") as f: f.write(f"{tag} {time.time()}\\n")`,
    "time.sleep(0.3)",
    `with open(${JSON.stringify(log)}, "a") as f: f.write(f"{tag} {time.time()}\\n")`,
    "sys.exit(1)",
  ].join("\n") + "\n";
  const made = await Promise.all(
    ["alice", "bob"].map((s) =>
      postSubmission(svc.url, course.tokens[s], {
        kind: "part6",
        files: { script: { name: "PDC.py", data: script } },
      })
    ),
  );
  for (const [i, s] of ["alice", "bob"].entries()) {
    assert.equal(made[i].status, 201);
    assert.equal(
      (await waitGraded(svc.url, course.tokens[s], made[i].body.id as number)).status,
      "done",
    );
  }
  const spans = new Map<string, [number, number]>();
  for (const line of (await Deno.readTextFile(log)).trim().split("\n")) {
    const [tag, t] = line.split(" ");
    const [a, b] = spans.get(tag) ?? [Infinity, -Infinity];
    spans.set(tag, [Math.min(a, Number(t)), Math.max(b, Number(t))]);
  }
  const [x, y] = [...spans.values()];
  assert.equal(spans.size, 2, "two jobs, each in its own folder");
  assert.ok(x[1] <= y[0] || y[1] <= x[0], `the jobs overlapped: ${JSON.stringify([x, y])}`);
  assert.equal(svc.pool?.unisolated, "--isolation off");
});
