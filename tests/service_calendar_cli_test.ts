/**
 * The calendar from the command line (issue 26): `course init` with the
 * handout's dates, `course calendar` (print, change, a part's own close,
 * refused local times), `course extend`, `course export --as-of`; and the
 * student's `submit --list`, `submit --show ID --archive F`, and a refused
 * upload's sentence and exit code. The service runs in this process;
 * socklab runs as the binary does.
 */
import assert from "node:assert/strict";
import { unzipSync } from "fflate";
import { runSocklab } from "../scripts/lib/proc.ts";
import {
  finishNext,
  makeCourse,
  postSubmission,
  serveInProcess,
  tempDir,
} from "./helpers/service.ts";

Deno.test("calendar cli: init with the handout's dates, calendar, extend, export --as-of", async () => {
  await using dir = await tempDir();
  const data = `${dir}/course`;
  const course = (...a: string[]) => runSocklab(["course", ...a, "--data", data]);
  const init = await course(
    "init",
    "--opens",
    "2021-11-04T23:55",
    "--closes",
    "2021-11-17T23:55",
    "--attempt-limit",
    "3",
  );
  assert.equal(init.code, 0, init.stderr);
  const shown = await course("calendar");
  assert.equal(shown.code, 0, shown.stderr);
  const lines = shown.stdout.trimEnd().split("\n");
  assert.equal(lines[0], "time zone Europe/Zurich");
  assert.match(
    lines[1],
    /^course +opens Thu 4 Nov 2021 23:55 CET, closes Wed 17 Nov 2021 23:55 CET, 3 attempts$/,
  );
  assert.equal(lines.length, 2 + 7, "a line per part");

  const part6 = await course("calendar", "--part", "part6", "--closes", "2021-11-19T23:55+01:00");
  assert.equal(part6.code, 0, part6.stderr);
  assert.match(
    part6.stdout,
    /^part6 +opens Thu 4 Nov 2021 23:55 CET, closes Fri 19 Nov 2021 23:55 CET, 3 attempts {2}\(its own\)$/m,
  );
  assert.match(part6.stdout, /^part2 +opens .*, closes Wed 17 Nov 2021 23:55 CET, 3 attempts$/m);
  for (
    const [args, why] of [
      [["--closes", "2021-10-31T02:30"], /happens twice in Europe\/Zurich.*\+02:00 or .*\+01:00/],
      [["--opens", "2021-03-28T02:30"], /does not exist in Europe\/Zurich/],
      [["--closes", "2021-11-01T00:00"], /would close before it opens/],
      [["--timezone", "Mars/Olympus"], /'Mars\/Olympus' is not a time zone/],
      [["--part", "part9", "--closes", "none"], /--part: 'part9' is not a part/],
    ] as const
  ) {
    const r = await course("calendar", ...args);
    assert.equal(r.code, 2, `${args}: ${r.stderr}`);
    assert.match(r.stderr, why);
  }

  await Deno.writeTextFile(`${dir}/roster.csv`, "id,name,email\nalice,Alice,a@x\n");
  assert.equal((await course("roster", `${dir}/roster.csv`)).code, 0);
  const ext = await course("extend", "alice", "--until", "2021-11-18T23:55", "--part", "part2");
  assert.equal(ext.code, 0, ext.stderr);
  assert.equal(ext.stdout, "alice part2: until 18 Nov 2021 23:55 CET, 0 more attempt(s)\n");
  const more = await course("extend", "alice", "--attempts", "2", "--part", "part2");
  assert.equal(more.stdout, "alice part2: until 18 Nov 2021 23:55 CET, 2 more attempt(s)\n");
  assert.equal((await course("extend", "nobody", "--attempts", "1")).code, 1);
  const bare = await course("extend", "alice");
  assert.equal(bare.code, 2);
  assert.match(bare.stderr, /give --until T, --attempts N or both/);

  const book = await course("export", "--as-of", "2021-11-17T23:55");
  assert.equal(book.code, 0, book.stderr);
  assert.match(book.stdout, /^id,name,part2,.*\nalice,Alice,,,,,,,\n$/);
  assert.match(book.stderr, /grade book as of 17 Nov 2021 23:55 CET/);
});

Deno.test("calendar cli: submit --list, --show with the archive, and a refusal after the close", async () => {
  await using dir = await tempDir();
  await using course = await makeCourse(["alice"]);
  await using svc = await serveInProcess(course);
  const alice = course.tokens.alice;
  const submit = (...a: string[]) =>
    runSocklab(["submit", "--server", svc.url, "--token", alice, ...a]);
  const empty = await submit("--list", "part3");
  assert.equal(empty.code, 0, empty.stderr);
  assert.match(empty.stdout, /^part3 +open; 0 of 100 attempts\n\nno submissions yet\n$/);

  const ids: number[] = [];
  for (const score of [2, "grader failure", 4] as const) {
    const made = await postSubmission(svc.url, alice, {
      kind: "part2",
      files: { script: { name: "PDC.py", data: "print('hello')\n" } },
    });
    ids.push(made.body.id as number);
    await finishNext(svc.store, score);
  }
  const list = await submit("--list");
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^part2 +open; 2 of 100 attempts; kept 4\/4$/m);
  assert.match(list.stdout, /^ca-sign +open; 0 of 100 attempts$/m);
  const table = list.stdout.split("\n\n")[1].trimEnd().split("\n");
  assert.match(table[0], /^id +part +accepted +status +score +attempt$/);
  assert.match(
    table[1],
    new RegExp(`^${ids[2]} +part2 +\\d+ \\w+ \\d{4} \\d\\d:\\d\\d CES?T +done +4/4 +2 +counts$`),
  );
  assert.match(table[2], new RegExp(`^${ids[1]} +part2 .* failed +- +-$`));
  assert.match(table[3], new RegExp(`^${ids[0]} +part2 .* done +2/4 +1$`));

  const show = await submit("--show", String(ids[0]), "--archive", `${dir}/past.zip`);
  assert.equal(show.code, 1, "not full marks: exit 1, like grade");
  assert.match(show.stdout, /scored 2/);
  assert.match(show.stdout, /2\/4/);
  assert.match(show.stderr, new RegExp(`submission ${ids[0]} \\(part2\\), accepted .*, attempt 1`));
  const zip = unzipSync(await Deno.readFile(`${dir}/past.zip`));
  assert.equal(new TextDecoder().decode(zip["PDC.py"]), "print('hello')\n");
  assert.equal(JSON.parse(new TextDecoder().decode(zip["output/result.json"])).score, 2);
  const best = await submit("--show", String(ids[2]));
  assert.equal(best.code, 0);
  assert.match(best.stderr, /attempt 2, the one that counts/);
  assert.equal((await submit("--show", "999999")).code, 1);
  assert.equal((await submit("--show", "x")).code, 2);
  assert.equal((await submit("--archive", "f.zip", "--list")).code, 2);

  // The course closed yesterday (the real clock): the upload is refused with its sentence.
  const yesterday = new Date(Date.now() - 86_400_000).toISOString();
  const closed = await runSocklab([
    "course",
    "calendar",
    "--data",
    course.data,
    "--closes",
    yesterday,
  ]);
  assert.equal(closed.code, 0, closed.stderr);
  await Deno.writeTextFile(`${dir}/PDC.py`, "print(1)\n");
  const late = await submit("part2", `${dir}/PDC.py`);
  assert.equal(late.code, 1);
  assert.match(
    late.stderr,
    /error: the submission system closed on \w{3} \d+ \w{3} \d{4} \d\d:\d\d CES?T$/m,
  );
  assert.match((await submit("--list", "part2")).stdout, /^part2 +closed on /);
});
