/**
 * Issue 27: students' programs that attacked the grader itself rather than
 * the sandbox (tests/fixtures/hostile/, each finding's program): they must
 * not stall it, grow it, read through it, run as root, pass by replaying a
 * flood, or steer the terminal that shows the report. Each test asserts the
 * report, a generous ceiling on the time, and, where the attack was on
 * memory, the peak (the engine's cgroup and VmHWM; the outer grade's through
 * getrusage of a wrapper).
 */
import assert from "node:assert/strict";
import { gradeProgram } from "../mod/grade/engine.ts";
import { runTag } from "../mod/grade/part.ts";
import { DEFAULT_FLOOD_BYTES, floodText } from "../mod/pmu/flood.ts";
import { cgroupBase, JAIL_UIDS } from "../mod/proc/sandbox.ts";
import { runSocklab, socklabArgv } from "../scripts/lib/proc.ts";
import {
  enginePeakDuring,
  HOSTILE,
  isolationTest,
  job,
  withEnginePeak,
} from "./helpers/isolation.ts";

const MiB = 2 ** 20;

/** `socklab grade ARGS` (cwd `cwd`), with the peak RSS (KiB) of it and its waited-for descendants. */
async function gradeCli(args: string[], cwd?: string, env?: Record<string, string>) {
  const dir = await Deno.makeTempDir({ prefix: "socklab-peak-" });
  try {
    const wrapper = "import resource, subprocess, sys\n" +
      "r = subprocess.run(sys.argv[2:])\n" +
      "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n" +
      "sys.exit(r.returncode)\n";
    const t0 = performance.now();
    const r = await new Deno.Command("/usr/bin/python3", {
      args: ["-c", wrapper, `${dir}/peak`, ...socklabArgv(["grade", ...args])],
      cwd,
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    return {
      code: r.code,
      stdout: new TextDecoder().decode(r.stdout),
      stderr: new TextDecoder().decode(r.stderr),
      seconds: (performance.now() - t0) / 1000,
      peakKiB: Number(await Deno.readTextFile(`${dir}/peak`)),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const detail = (o: { report: { tests: { name: string; detail: string }[] } }, name: string) =>
  o.report.tests.find((t) => t.name === name)?.detail ?? "";

isolationTest("hostile (27.1): a flood printed as 400,000 lines is judged at once", async () => {
  const t0 = performance.now();
  const [o, vmHwmKiB] = await withEnginePeak(
    job("part2", ["python3", HOSTILE + "floodlines.py"], { timeLimitMs: 10_000 }),
  );
  const seconds = (performance.now() - t0) / 1000;
  assert.match(
    detail(o, "CMD_floodme"),
    /the whole flood is there, but interleaved with \d{6} line\(s\) of the program's own \(first: "n=0"\)/,
  );
  assert.equal(o.report.score, 3, JSON.stringify(o.report));
  // Five runs of a 10 s limit: the ceiling is theirs, far below the 480 s the old check took.
  assert.ok(seconds < 5 * 10 + 20, `${seconds} s`);
  assert.ok(o.enginePeakBytes! < 400 * MiB, `engine cgroup peak ${o.enginePeakBytes}`);
  assert.ok(vmHwmKiB > 0 && vmHwmKiB < 400 * 1024, `engine VmHWM ${vmHwmKiB} KiB`);
});

isolationTest(
  "hostile (27.1): a check over its budget fails the program, not the engine",
  async () => {
    // Any cost exceeds a negative budget: the verdict path, without waiting for a slow check.
    const o = await gradeProgram(
      job("part2", ["python3", HOSTILE + "floodlines.py"], { checkBudgetMs: -1 }),
    );
    for (const t of o.report.tests) {
      assert.match(t.detail, /the output could not be checked in -0\.0 s/, t.name);
    }
    assert.equal(o.report.score, 0);
  },
);

isolationTest(
  "hostile (27.2): 8 MB of NUL and 0xFF bytes grow neither the engine nor grade",
  async () => {
    const [r, vmHwmKiB] = await enginePeakDuring(() =>
      gradeCli([
        "part2",
        "--json",
        "--verbose",
        "--time-limit",
        "10",
        "--",
        "python3",
        HOSTILE + "binary.py",
      ])
    );
    assert.equal(r.code, 1, r.stderr.slice(-2000));
    const report = JSON.parse(r.stdout);
    assert.equal(report.score, 0);
    assert.match(report.tests[0].detail, /no 'This is PMU data i' line in the output/);
    const engine = Number(r.stderr.match(/^engine: peak memory (\d+) MiB$/m)?.[1]);
    assert.ok(engine > 0 && engine < 400, `engine cgroup peak ${engine} MiB`);
    assert.ok(vmHwmKiB > 0 && vmHwmKiB < 400 * 1024, `engine VmHWM ${vmHwmKiB} KiB`);
    assert.ok(r.peakKiB > 0 && r.peakKiB < 400 * 1024, `grade's peak RSS ${r.peakKiB} KiB`);
    // --verbose shows each run's first lines, cut: never megabytes of one line.
    assert.ok(r.stderr.length < 200_000, `${r.stderr.length} characters of log`);
    assert.ok(r.seconds < 5 * 10 + 20, `${r.seconds} s`);
  },
);

isolationTest(
  "hostile (27.3): a link out of its directory or /proc is refused in one line",
  async () => {
    const dir = await Deno.makeTempDir();
    const secretDir = await Deno.makeTempDir();
    try {
      const secret = `secret-${crypto.randomUUID()}`;
      await Deno.writeTextFile(`${secretDir}/shadow`, `print("${secret}")\n`, { mode: 0o600 });
      await Deno.symlink(`${secretDir}/shadow`, `${dir}/evil.py`);
      await Deno.symlink("/proc/self/environ", `${dir}/env.py`);
      await Deno.writeTextFile(`${dir}/ok.py`, "print('x')\n");
      for (
        const [script, why] of [
          ["evil.py", /'evil\.py' is a symbolic link to '.*\/shadow', outside its directory/],
          [
            "env.py",
            /'env\.py' is a symbolic link to '\/proc\/\d+\/environ', outside its directory/,
          ],
          ["/proc/self/environ", /'\/proc\/self\/environ' is under proc: not a program file/],
        ] as const
      ) {
        const r = await runSocklab(["grade", "part2", "--", "python3", script], { cwd: dir });
        assert.equal(r.code, 1, r.stderr);
        const errors = r.stderr.split("\n").filter((l) => l.includes("error:"));
        assert.equal(errors.length, 1, r.stderr);
        assert.match(errors[0], why);
        assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret));
        assert.doesNotMatch(r.stderr, /CMD_short/, "no test ran");
      }
      // Under sudo, a file its user cannot read is not read for them (setpriv: uid 65534 here).
      await Deno.writeTextFile(`${dir}/mine.py`, `print("${secret}")\n`, { mode: 0o600 });
      const r = await runSocklab(["grade", "part2", "--", "python3", "mine.py"], {
        cwd: dir,
        env: { SUDO_UID: "65534", SUDO_GID: "65534" },
      });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /error: cannot read '.*\/mine\.py' as uid 65534: .*Permission denied/);
      assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret));
    } finally {
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(secretDir, { recursive: true });
    }
  },
);

isolationTest(
  "hostile (27.4): root without bubblewrap still never runs the program as root",
  async () => {
    const host = await Deno.makeTempDir(); // root's, 0700: like a checkout
    try {
      // bwrap hidden in a private mount namespace: `auto` falls back to the bare jail.
      const grade = socklabArgv([
        "grade",
        "part4-sender",
        "--verbose",
        "--time-limit",
        "5",
        "--",
        "python3",
        HOSTILE + "rootcheck.py",
        host,
      ]);
      const r = await new Deno.Command("unshare", {
        args: [
          "-m",
          "sh",
          "-c",
          'mount --bind /dev/null /usr/bin/bwrap && exec "$@"',
          "sh",
          ...grade,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const err = new TextDecoder().decode(r.stderr);
      assert.match(
        err,
        /note: grading without isolation \(no 'bwrap' .*\): the program runs as uid \d+ \(not root\) .*rlimits .*and a cgroup .*; it shares this machine's network/,
      );
      const uid = Number(err.match(/stdout\| uid (\d+) gid \1 groups \[\]/)?.[1]);
      assert.ok(uid >= JAIL_UIDS.first && uid < JAIL_UIDS.first + JAIL_UIDS.count, err);
      assert.match(err, /held read \/etc\/shadow PermissionError/);
      assert.match(err, /held write into .* PermissionError/);
      assert.doesNotMatch(err, /ESCAPE/);
      assert.deepEqual([...Deno.readDirSync(host)], []);
    } finally {
      await Deno.remove(host, { recursive: true });
    }
  },
);

isolationTest(
  "hostile (27.5): a flood captured in an earlier run does not pass (parts 2 and 6)",
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.copyFile(HOSTILE + "replay.py", `${dir}/replay.py`);
      // What an earlier run's server sent: a flood with that run's tags.
      await Deno.writeTextFile(`${dir}/flood.txt`, floodText(DEFAULT_FLOOD_BYTES, runTag));
      for (const part of ["part2", "part6"]) {
        const o = await gradeProgram(job(part, ["python3", `${dir}/replay.py`]));
        // Its first lines are the play's (untagged): the copy parts within the first speech's tag.
        assert.match(
          detail(o, "CMD_floodme"),
          /^only \d{2,3} of \d+ flood bytes \(line breaks ignored\) were printed, then "[a-z2-9]{1,6}\]/,
        );
        if (part === "part2") { // the fixture speaks plain TCP, not WebSocket
          assert.deepEqual(
            o.report.tests.filter((t) => t.scored && t.passed).map((t) => t.name),
            ["CMD_short:0", "CMD_short:0, few messages", "CMD_short:1"],
          );
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

/** Characters a terminal acts on, or that reorder or break what it shows. */
// deno-lint-ignore no-control-regex
const UNSAFE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029\ufffd]/;

isolationTest(
  "hostile (27.7): nothing a program prints or names reaches the terminal raw",
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      const name = "e\x1b[31mvil\u202e\n.py";
      await Deno.copyFile(HOSTILE + "escapes.py", `${dir}/${name}`);
      const plain = await runSocklab(["grade", "part2", "--verbose", "--", "python3", name], {
        cwd: dir,
      });
      assert.equal(plain.code, 1, plain.stderr);
      assert.doesNotMatch(plain.stdout + plain.stderr, UNSAFE);
      assert.match(plain.stderr, /grading part2: python3 e\\x1b\[31mvil\\u202e\\n\.py /);
      assert.match(plain.stderr, /stdout\| PASS \\x1b\[2J.*\\x9b2J \\u202eevil.*a\\u2028b\\u2029c/);
      assert.match(plain.stderr, /not utf-8: \\ufffd/);
      const json = await runSocklab(["grade", "part2", "--json", "--", "python3", name], {
        cwd: dir,
      });
      assert.doesNotMatch(json.stdout + json.stderr, UNSAFE);
      const report = JSON.parse(json.stdout);
      // The details quote the program's lines escaped (`\ufffd`), in --json too.
      assert.ok(report.tests.some((t: { detail: string }) => t.detail.includes("\\ufffd")));
      // A missing file with such a name: one error line, escaped.
      const missing = await runSocklab(["grade", "part2", "--", "python3", "x\x1b]0;pwned\x07.py"]);
      assert.doesNotMatch(missing.stderr, UNSAFE);
      assert.match(missing.stderr, /no file '.*x\\x1b\]0;pwned\\x07\.py'/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("hostile (27.8): a missing or unexecutable script is one line before any test", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/pdc.py`, "print(1)\n", { mode: 0o644 });
    for (
      const [program, why] of [
        [["python3", "nope.py"], `cannot run 'python3 nope.py': no file '${dir}/nope.py'`],
        [["./pdc.py"], `cannot run './pdc.py': '${dir}/pdc.py' is not executable (chmod +x it`],
        [["no-such-command-27"], "'no-such-command-27' is not found (is it on PATH"],
      ] as const
    ) {
      const t0 = performance.now();
      const r = await runSocklab(["grade", "part2", "--", ...program], { cwd: dir });
      assert.equal(r.code, 1, r.stderr);
      const errors = r.stderr.split("\n").filter((l) => l.includes("error:"));
      assert.equal(errors.length, 1, r.stderr);
      assert.ok(errors[0].includes(why), errors[0]);
      assert.doesNotMatch(r.stderr + r.stdout, /CMD_short|\/home\/student/, "no test ran");
      assert.ok(performance.now() - t0 < 30_000);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

isolationTest(
  "hostile (27.8): an engine error is said once; leftovers of every hierarchy go",
  async () => {
    // A file the engine refuses to place (at /): its error, once, in the rejection only.
    const logged: string[] = [];
    const err = await gradeProgram(
      job("part4-sender", ["python3", HOSTILE + "uring.py"], {
        files: { "/x.py": HOSTILE + "uring.py" },
        log: (l) => logged.push(l),
      }),
    ).then(() => null, (e) => e as Error);
    assert.match(
      err?.message ?? "",
      /^the grading engine failed: .*\/x\.py cannot be put in the sandbox's \/$/,
    );
    assert.deepEqual(logged.filter((l) => l.includes("cannot be put")), []);
    // A SIGKILLed grade's job cgroup left in the memory (and cpu) hierarchy only.
    const base = cgroupBase();
    assert.ok(typeof base !== "string");
    const dead = new Deno.Command("true").spawn();
    await dead.status;
    const stale = base.dirs.slice(1).map((d) => `${d}/job-${dead.pid}-stale27`);
    for (const d of stale) Deno.mkdirSync(`${d}/run-1`, { recursive: true });
    await gradeProgram(job("part4-sender", ["python3", HOSTILE + "uring.py"]));
    for (const d of stale) assert.throws(() => Deno.statSync(d), d);
  },
);

isolationTest("hostile (27.9): no io_uring; two jobs at once run as two uids", async () => {
  const [a, b] = await Promise.all(
    [1, 2].map(() => gradeProgram(job("part4-sender", ["python3", HOSTILE + "uring.py", "2"]))),
  );
  const uids = [a, b].map((o) => {
    const out = o.runs[0].result.stdout;
    assert.match(out, /^held io_uring_setup errno 1$/m, out);
    return Number(out.match(/^uid (\d+)$/m)?.[1]);
  });
  assert.notEqual(uids[0], uids[1]);
  for (const uid of uids) {
    assert.ok(uid >= JAIL_UIDS.first && uid < JAIL_UIDS.first + JAIL_UIDS.count);
  }
});
