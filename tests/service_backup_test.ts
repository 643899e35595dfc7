/**
 * A course's backups (issue 32): `course backup` while `serve` takes a
 * burst of submissions, `course restore` into a new directory, `course
 * check`; what restore refuses; and a PostgreSQL course dumped with
 * pg_dump and restored with pg_restore, then checked.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { unzipSync } from "fflate";
import { within } from "../mod/deadline.ts";
import { makeRequest } from "../mod/tls/ca.ts";
import { initCourse } from "../mod/service/course.ts";
import { dbPath, openStore } from "../mod/service/store/open.ts";
import { isRefusal, type Kind, type Store } from "../mod/service/store/store.ts";
import { runProc, runSocklab } from "../scripts/lib/proc.ts";
import { pgBinDir } from "../scripts/lib/pg_cluster.ts";
import { pgUnavailable, startPgCluster } from "./helpers/pg.ts";
import { makeCourse, postSubmission, serveInProcess, type Upload } from "./helpers/service.ts";

interface Accepted {
  id: number;
  user: string;
  kind: string;
  script: string;
  /** When its 201 arrived. */
  at: number;
}

/**
 * Students submitting as fast as the service answers: each part once (they
 * stay queued: the worker grades ca-sign only), then ca-sign again and
 * again. Stops when `stop` aborts or after `rounds` each.
 */
async function burst(
  url: string,
  tokens: Record<string, string>,
  csr: Uint8Array,
  accepted: Accepted[],
  stop: AbortSignal,
  onAccepted: () => void,
  rounds = 60,
): Promise<void> {
  const kinds = ["part2", "part3", "part4-receiver", "part6"];
  await Promise.all(
    Object.entries(tokens).map(async ([user, token]) => {
      for (let i = 0; i < rounds && !stop.aborted; i++) {
        const kind = kinds[i] ?? "ca-sign";
        const script = `print("${user} ${i}")\n`;
        const files: Upload["files"] = kind === "ca-sign"
          ? { csr: { name: "x.csr", data: csr } }
          : { script: { name: "PDC.py", data: script } };
        const r = await postSubmission(url, token, { kind, files });
        if (r.status === 201) {
          accepted.push({ id: r.body.id as number, user, kind, script, at: Date.now() });
          onAccepted();
        } else assert.equal(r.status, 429, JSON.stringify(r.body)); // its ca-sign still runs
      }
    }),
  );
}

Deno.test("a backup under a burst of submissions restores everything accepted before it began", async () => {
  const students = Array.from({ length: 12 }, (_, i) => `s${i}`);
  await using course = await makeCourse(students);
  await makeRequest({ key: `${course.dir}/x.key`, csr: `${course.dir}/x.csr` });
  const csr = await Deno.readFile(`${course.dir}/x.csr`);
  const service = await serveInProcess(course, {
    workers: 1,
    kinds: ["ca-sign"],
    isolation: "off",
  });
  const accepted: Accepted[] = [];
  const stop = new AbortController();
  let began = 0, ended = 0;
  try {
    // The backup begins once the service has accepted a good part of the burst.
    const forty = Promise.withResolvers<void>();
    const load = burst(service.url, course.tokens, csr, accepted, stop.signal, () => {
      if (accepted.length >= 40) forty.resolve();
    });
    const early = load.then(() => Promise.reject(new Error("the burst ended before 40")));
    await within(Promise.race([forty.promise, early]), 60_000, "40 submissions accepted");
    began = Date.now();
    const backup = await runSocklab(
      ["course", "backup", "--data", course.data, "--out", `${course.dir}/b.tar.gz`],
      { timeoutMs: 60_000 },
    );
    ended = Date.now();
    assert.equal(backup.code, 0, backup.stderr);
    assert.match(backup.stderr, /backup .*b\.tar\.gz: \d+ submissions/);
    stop.abort();
    await load;
  } finally {
    stop.abort();
    await service.close(5_000);
  }
  const before = accepted.filter((a) => a.at < began);
  const during = accepted.filter((a) => a.at >= began && a.at < ended);
  assert.ok(during.length > 0, "the burst went on while the backup ran");
  assert.equal((await Deno.stat(`${course.dir}/b.tar.gz`)).mode! & 0o777, 0o600);

  const restored = `${course.dir}/restored`;
  const r = await runSocklab([
    "course",
    "restore",
    "--from",
    `${course.dir}/b.tar.gz`,
    "--data",
    restored,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const check = await runSocklab(["course", "check", "--data", restored]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.doesNotMatch(check.stdout, /PROBLEM/);

  const store = await openStore({ data: restored });
  try {
    for (const a of before) {
      const sub = await store.getSubmission(a.id);
      assert.ok(
        sub,
        `submission ${a.id} (${a.user} ${a.kind}) accepted before the backup is missing`,
      );
      assert.deepEqual([sub.userId, sub.kind], [a.user, a.kind]);
      if (a.kind !== "ca-sign") {
        const [file] = await store.submissionFiles(a.id);
        assert.equal(new TextDecoder().decode(file.bytes), a.script);
      }
    }
  } finally {
    await store.close();
  }

  // The restored course serves: the TA's token, a student's archive with their file.
  const again = await serveInProcess({ data: restored });
  try {
    const one = before.find((a) => a.kind === "part2")!;
    const res = await fetch(`${again.url}/api/submissions/${one.id}/archive`, {
      headers: { authorization: `Bearer ${course.tokens[one.user]}` },
    });
    assert.equal(res.status, 200);
    const zip = unzipSync(new Uint8Array(await res.arrayBuffer()));
    assert.equal(new TextDecoder().decode(zip["PDC.py"]), one.script);
    const ta = await fetch(`${again.url}/api/course`, {
      headers: { authorization: `Bearer ${course.ta}` },
    });
    assert.equal((await ta.json()).students, students.length);
  } finally {
    await again.close(2_000);
  }
});

const RESULT = {
  score: 1,
  maxGrade: 1,
  success: 1 as const,
  tests: [],
  stdout: "",
  stderr: "",
  files: [{ name: "x.crt", bytes: new TextEncoder().encode("-----BEGIN CERTIFICATE-----") }],
  durationMs: 1500,
};

/** `n` graded ca-sign submissions, one per student id `u<i>`. */
async function graded(store: Store, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await store.upsertUser({ id: `u${i}`, name: `U${i}`, email: "", role: "student" });
    const files = [{ name: "x.csr", bytes: new TextEncoder().encode("csr") }];
    const sub = await store.createSubmission(
      { userId: `u${i}`, kind: "ca-sign" as Kind, files },
      { now: i, cooldownMs: 0 },
    );
    assert.ok(!isRefusal(sub));
    const job = (await store.lease("w", 10_000, i))!;
    assert.ok(await store.complete(job.id, job.leaseId, RESULT, i + 1));
  }
}

Deno.test("restore refuses a damaged backup, a foreign file and an existing folder; check finds a lost result", async () => {
  await using course = await makeCourse([]);
  const store = await openStore({ data: course.data });
  await graded(store, 3);
  await store.close();
  const tarFile = `${course.dir}/b.tar`;
  assert.equal(
    (await runSocklab(["course", "backup", "--data", course.data, "--out", tarFile])).code,
    0,
  );
  const exists = await runSocklab(["course", "backup", "--data", course.data, "--out", tarFile]);
  assert.match(exists.stderr, /exists: choose a new name/);

  const restore = (from: string, data: string) =>
    runSocklab(["course", "restore", "--from", from, "--data", data]);
  const into = await restore(tarFile, course.data);
  assert.equal(into.code, 1);
  assert.match(into.stderr, /exists: restore into a new directory/);

  // Another ca.key appended: tar unpacks the last one, whose digest differs.
  const other = `${course.dir}/other`;
  await Deno.mkdir(other);
  await Deno.writeTextFile(`${other}/ca.key`, "not the key");
  const damaged = `${course.dir}/damaged.tar`;
  await Deno.copyFile(tarFile, damaged);
  assert.equal((await runProc(["tar", "-r", "-f", damaged, "-C", other, "ca.key"])).code, 0);
  const bad = await restore(damaged, `${course.dir}/r1`);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /ca\.key is damaged or missing/);
  assert.ok(!(await Deno.stat(`${course.dir}/r1`).catch(() => null)), "nothing left behind");

  const foreign = `${course.dir}/foreign.tar`;
  await Deno.writeTextFile(`${other}/notes.txt`, "x");
  assert.equal((await runProc(["tar", "-c", "-f", foreign, "-C", other, "notes.txt"])).code, 0);
  assert.match(
    (await restore(foreign, `${course.dir}/r2`)).stderr,
    /unexpected member 'notes.txt'/,
  );

  const good = `${course.dir}/r3`;
  assert.equal((await restore(tarFile, good)).code, 0);
  assert.equal((await runSocklab(["course", "check", "--data", good])).code, 0);
  const db = new DatabaseSync(dbPath(good));
  db.exec(
    "PRAGMA foreign_keys = ON; DELETE FROM result_files WHERE job_id = 2; DELETE FROM results WHERE job_id = 2",
  );
  db.close();
  const check = await runSocklab(["course", "check", "--data", good]);
  assert.equal(check.code, 1);
  assert.match(check.stdout, /^PROBLEM: done jobs without a result: 2$/m);
  assert.match(check.stdout, /^ok: every submission has all its files$/m);
});

const PG = pgUnavailable();
Deno.test({
  name: `a PostgreSQL course: pg_dump, pg_restore into a new database, course check${
    PG ? ` (skipped: ${PG})` : ""
  }`,
  ignore: PG !== null && Deno.env.get("CI") !== "true",
  async fn() {
    await using pg = await startPgCluster();
    const dir = await Deno.makeTempDir({ prefix: "socklab-pgdump-" });
    try {
      const data = `${dir}/course`;
      await initCourse(data, { db: pg.url });
      const store = await openStore({ db: pg.url });
      await graded(store, 4);
      await store.close();

      const keys = await runSocklab([
        "course",
        "backup",
        "--data",
        data,
        "--db",
        pg.url,
        "--out",
        `${dir}/keys.tar`,
      ]);
      assert.equal(keys.code, 0, keys.stderr);
      assert.match(keys.stderr, /pg_dump --format=custom .*postgres:\/\/socklab:\*\*\*@/);
      assert.ok(!keys.stderr.includes(pg.password), "the password is not printed");

      const bin = pgBinDir();
      const dump = await runProc([
        `${bin}/pg_dump`,
        "--format=custom",
        "--file",
        `${dir}/c.pgdump`,
        "--dbname",
        pg.url,
      ]);
      assert.equal(dump.code, 0, dump.stderr);
      const copy = await pg.createDatabase("restored");
      const restore = await runProc([
        `${bin}/pg_restore`,
        "--no-owner",
        "--dbname",
        copy,
        `${dir}/c.pgdump`,
      ]);
      assert.equal(restore.code, 0, restore.stderr);
      const keysBack = await runSocklab([
        "course",
        "restore",
        "--from",
        `${dir}/keys.tar`,
        "--data",
        `${dir}/back`,
      ]);
      assert.equal(keysBack.code, 0, keysBack.stderr);

      const check = await runSocklab(["course", "check", "--db", copy, "--data", `${dir}/back`]);
      assert.equal(check.code, 0, check.stdout + check.stderr);
      assert.match(check.stdout, /sound \(5 users, 4 submissions, 4 jobs, 4 results\)/);
      const restored = await openStore({ db: copy });
      try {
        assert.equal((await restored.keptScores("best")).length, 4);
      } finally {
        await restored.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
