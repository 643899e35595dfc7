import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { descendants } from "../mod/proc/sandbox.ts";
import { runSocklab, spawnSocklab } from "../scripts/lib/proc.ts";
import { freeTcpPort } from "../mod/net/ports.ts";
import { createdState } from "../mod/cli/commands/service.ts";
import {
  fixture,
  getJson,
  makeCourse,
  postSubmission,
  serveInProcess,
  tempDir,
  waitGraded,
  waitStatus,
} from "./helpers/service.ts";

/** `socklab serve` on port 0, its temporary files in `tmp`; returns the process and its URL. */
async function serve(data: string, extra: string[] = [], tmp?: string) {
  const proc = spawnSocklab(
    ["serve", "--data", data, "--port", "0", ...extra],
    tmp ? { env: { TMPDIR: tmp } } : {},
  );
  try {
    const url = (await proc.stderr.waitFor(/listening on (http:\/\/\S+)/, 20_000))[1];
    return { proc, url };
  } catch (e) {
    await proc.stop(1000);
    throw e;
  }
}

Deno.test("service cli: course init, roster, token, export, serve and its shutdown", async () => {
  await using dir = await tempDir();
  const data = `${dir}/course`;
  const init = await runSocklab(["course", "init", "--data", data, "--cooldown", "0"]);
  assert.equal(init.code, 0, init.stderr);
  assert.match(init.stdout, /^slk_[A-Za-z0-9_-]{43}\n$/);
  const ta = init.stdout.trim();
  assert.match(await Deno.readTextFile(`${data}/ca.crt`), /BEGIN CERTIFICATE/);
  assert.equal((await Deno.stat(`${data}/ca.key`)).mode! & 0o777, 0o600);
  const again = await runSocklab(["course", "init", "--data", data]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^socklab course: error: .* already holds a course/m);

  await Deno.writeTextFile(
    `${dir}/roster.csv`,
    'id,name,email\nalice,"Lovelace, Ada",ada@example.org\nbob,Bob,bob@example.org\n',
  );
  const roster = await runSocklab(["course", "roster", "--data", data, `${dir}/roster.csv`]);
  assert.equal(roster.code, 0, roster.stderr);
  const lines = roster.stdout.trim().split("\n");
  assert.equal(lines[0], "id,token");
  assert.match(lines[1], /^alice,slk_\S{43}$/);
  assert.match(lines[2], /^bob,slk_\S{43}$/);
  const aliceOld = lines[1].split(",")[1];
  await Deno.writeTextFile(
    `${dir}/roster.csv`,
    "id,name,email\nalice,Ada Lovelace,ada@example.org\ncarol,Carol,c@example.org\n",
  );
  const reimport = await runSocklab(["course", "roster", "--data", data, `${dir}/roster.csv`]);
  assert.match(reimport.stdout, /^id,token\ncarol,slk_\S{43}\n$/);
  assert.match(reimport.stderr, /1 student\(s\) added, 1 updated/);
  await Deno.writeTextFile(`${dir}/bad.csv`, "id,name\nx,y\n");
  const bad = await runSocklab(["course", "roster", "--data", data, `${dir}/bad.csv`]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /no 'email' column/);

  const tok = await runSocklab(["course", "token", "--data", data, "alice"]);
  assert.equal(tok.code, 0, tok.stderr);
  const aliceNew = tok.stdout.trim();
  assert.notEqual(aliceNew, aliceOld);
  assert.equal((await runSocklab(["course", "token", "--data", data, "nobody"])).code, 1);

  // Tokens are stored hashed: neither token appears in the database.
  const db = await Deno.readFile(`${data}/socklab.db`);
  const text = new TextDecoder("latin1").decode(db);
  assert.ok(!text.includes(aliceNew) && !text.includes(ta));

  const { proc, url } = await serve(data, ["--workers", "1"]);
  try {
    assert.equal((await getJson(url, aliceOld, "/api/me")).status, 401, "revoked");
    const me = await getJson(url, aliceNew, "/api/me");
    assert.equal(me.body.name, "Ada Lovelace");
    assert.equal((await getJson(url, ta, "/api/course")).body.students, 3);
    // Ctrl-C while a job runs: the job finishes, then serve exits 0.
    const made = await postSubmission(url, ta, {
      kind: "part2",
      files: { script: { name: "PDC.py", data: fixture("part2_good.py") } },
    });
    await waitStatus(url, ta, made.body.id as number, ["running"], 20_000);
    proc.kill("SIGINT");
    assert.equal((await proc.exited(30_000)).code, 0);
    assert.match(
      proc.stderr.text,
      /SIGINT: stopping.*\njob \d+ \(submission \d+, ta part2\): score (\d+)\/\1 in [\d.]+ s on \S+\nstopped\n$/s,
    );
  } finally {
    await proc.stop(1000);
  }
  const book = await runSocklab(["course", "export", "--data", data]);
  assert.equal(
    book.stdout,
    "id,name,part2,part3,part4-receiver,part4-sender,part5,part6,ca-sign\n" +
      "alice,Ada Lovelace,,,,,,,\nbob,Bob,,,,,,,\ncarol,Carol,,,,,,,\n",
  );
});

Deno.test("service cli: usage and run-time errors of serve, course and submit", async () => {
  await using dir = await tempDir();
  const cases: [string[], number, RegExp][] = [
    [["course", "init"], 2, /--data DIR is required/],
    [["course", "frobnicate", "--data", dir], 2, /'frobnicate' is not a course action/],
    [
      ["course", "init", "--data", `${dir}/c`, "--keep", "worst"],
      2,
      /--keep: 'worst' is not one of best, last/,
    ],
    [["course", "token", "--data", dir], 2, /missing <id>/],
    [["course", "export", "--data", `${dir}/none`], 1, /no course in .*course init/],
    [["serve", "--data", `${dir}/none`, "--port", "0"], 1, /no course in/],
    [
      ["submit", "--server", "http://127.0.0.1:1", "--token", "t", "part9", "x"],
      2,
      /'part9' is not a part/,
    ],
    [
      ["submit", "--server", "http://127.0.0.1:1", "--token", "t", "part5", "x"],
      2,
      /part5 takes 3 file\(s\)/,
    ],
    [["submit", "--token", "t", "part2", "x"], 2, /--server URL is required/],
    [["submit", "--server", "ftp://x", "--token", "t", "part2", "x"], 2, /not an http/],
    [
      ["submit", "--server", "http://127.0.0.1:1", "--token", "t", "part2", `${dir}/nofile.py`],
      1,
      /cannot read/,
    ],
  ];
  await Deno.writeTextFile(`${dir}/x.py`, "print(1)\n");
  // A port nothing listens on (Deno's fetch refuses some low ports outright).
  const closed = freeTcpPort();
  cases.push(
    [
      ["submit", "--server", `http://127.0.0.1:${closed}`, "--token", "t", "part2", `${dir}/x.py`],
      1,
      new RegExp(
        `^socklab submit: error: cannot reach http://127\\.0\\.0\\.1:${closed} \\(connection ` +
          `refused\\): is \`socklab serve\` running at http://127\\.0\\.0\\.1:${closed}\\?\n$`,
      ),
    ],
    // The cause once, in words (it was Deno's message, then the path again).
    [
      ["course", "roster", "--data", dir, `${dir}/none.csv`],
      1,
      new RegExp(`^socklab course: error: cannot read roster ${dir}/none\\.csv: no such file\n$`),
    ],
  );
  for (const [args, code, re] of cases) {
    const r = await runSocklab(args);
    assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(" "));
    assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
  }
});

Deno.test("service cli: a serve killed -9 mid-job gives the job back; after a restart it completes once", async () => {
  await using dir = await tempDir();
  const data = `${dir}/course`;
  const init = await runSocklab(["course", "init", "--data", data, "--cooldown", "0"]);
  const ta = init.stdout.trim();
  // The script hangs the first time (its marker does not exist yet), then behaves.
  const marker = `${dir}/started`;
  const script = `import os, sys, time
if not os.path.exists(${JSON.stringify(marker)}):
    open(${JSON.stringify(marker)}, "w").close()
    time.sleep(60)
${fixture("part2_good.py")}`;
  // The script keeps state in the test's directory between the two runs: a sandbox would (rightly)
  // hide it, so this test of the queue grades unisolated (tests/isolation_test.ts covers isolation).
  const unisolated = ["--isolation", "off"];
  // The killed serve leaves its job's folder in `tmp`; the next one removes it.
  const tmp = `${dir}/tmp`;
  await Deno.mkdir(tmp);
  const first = await serve(data, ["--workers", "1", "--lease", "1", ...unisolated], tmp);
  let id: number;
  try {
    const made = await postSubmission(first.url, ta, {
      kind: "part2",
      files: { script: { name: "PDC.py", data: script } },
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    id = made.body.id as number;
    await waitStatus(first.url, ta, id, ["running"], 20_000);
    // Wait until the program runs, then kill serve and (as init would) what it started.
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && !(await Deno.stat(marker).catch(() => null))) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const orphans = descendants(first.proc.child.pid);
    first.proc.kill("SIGKILL");
    await first.proc.status;
    for (const pid of orphans) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
  } finally {
    await first.proc.stop(1000);
  }
  assert.equal(
    [...Deno.readDirSync(tmp)].filter((e) => e.name.startsWith("socklab-job-")).length,
    1,
  );
  const second = await serve(data, ["--workers", "1", "--lease", "1", ...unisolated], tmp);
  try {
    const done = await waitGraded(second.url, ta, id, 60_000);
    assert.equal(done.status, "done");
    assert.equal(done.score, done.max_grade, JSON.stringify(done.tests));
    assert.match(second.proc.stderr.text, /1 job\(s\) of a stopped worker back in the queue/);
    assert.match(second.proc.stderr.text, /removed 1 job folder\(s\) of stopped workers/);
    second.proc.kill("SIGTERM");
    assert.equal((await second.proc.exited(20_000)).code, 0);
  } finally {
    await second.proc.stop(1000);
  }
  const db = new DatabaseSync(`${data}/socklab.db`);
  try {
    const rows = db.prepare("SELECT COUNT(*) AS n FROM results WHERE submission_id = ?").get(id);
    assert.equal(rows?.n, 1);
    const job = db.prepare("SELECT status, tries FROM jobs WHERE submission_id = ?").all(id);
    assert.deepEqual(job.map((j) => [j.status, j.tries]), [["done", 2]]);
  } finally {
    db.close();
  }
});

Deno.test("service cli: submit --no-wait prints where the submission is; a bad token says so", async () => {
  await using course = await makeCourse(["alice", "bob"]);
  await using svc = await serveInProcess(course); // no workers: they stay queued
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir}/PDC.py`, "print(1)\n");
  const submit = (token: string) =>
    runSocklab([
      "submit",
      "--server",
      svc.url,
      "--token",
      token,
      "--no-wait",
      "part2",
      `${dir}/PDC.py`,
    ]);
  const first = await submit(course.tokens.alice);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^submission \d+: queued, position 1\n$/);
  const second = await submit(course.tokens.bob);
  assert.match(second.stdout, /^submission \d+: queued, position 2\n$/);
  const bad = await submit("slk_replaced-or-mistyped");
  assert.equal(bad.code, 1);
  assert.match(
    bad.stderr,
    /^socklab submit: error: this token is not valid: it was replaced by a newer one, or mistyped/m,
  );
});

Deno.test("service cli: a new submission's state in words", () => {
  const c = { id: 1, status: "queued" as const, position: 3, estimated_wait_s: 40 };
  assert.equal(createdState(c), "queued, position 3 (result in about 40 s)");
  assert.equal(createdState({ ...c, estimated_wait_s: null }), "queued, position 3");
  assert.equal(
    createdState({ ...c, status: "running", position: null }),
    "running (result in about 40 s)",
  );
  assert.equal(createdState({ ...c, status: "done", position: null }), "done");
});
