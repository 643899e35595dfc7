import assert from "node:assert/strict";
import { descendants, Sandbox } from "../mod/proc/sandbox.ts";
import { LineReader } from "../mod/proc/lines.ts";

/** True while `pid` is a live (not zombie) process. */
function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

const py = (code: string) => ["python3", "-c", code];

Deno.test("sandbox: a program that exits by itself gives its code and output", async () => {
  await using sb = new Sandbox({
    argv: py("import sys; print('a', flush=True); print('b'); sys.exit(3)"),
    timeLimitMs: 10_000,
  });
  const r = await sb.finish();
  assert.equal(r.code, 3);
  assert.equal(r.exitedByItself, true);
  assert.equal(r.timedOut, false);
  assert.deepEqual(sb.stdout.lines, ["a", "b"]);
});

Deno.test("sandbox: stdin is fed and closed; output is read live", async () => {
  await using sb = new Sandbox({
    argv: py("import sys\nfor l in sys.stdin: print(l.strip().upper(), flush=True)"),
    timeLimitMs: 10_000,
    stdin: "piped",
  });
  await sb.writeStdin("one\n");
  assert.equal(await sb.stdout.until((l) => l.includes("ONE"), 5_000), true);
  await sb.writeStdin("two\n");
  await sb.closeStdin();
  const r = await sb.finish();
  assert.equal(r.code, 0);
  assert.deepEqual(sb.stdout.lines, ["ONE", "TWO"]);
});

Deno.test("sandbox: a program that never exits is stopped at its time limit", async () => {
  await using sb = new Sandbox({
    argv: py("import time\nwhile True: time.sleep(1)"),
    timeLimitMs: 300,
  });
  const r = await sb.finish();
  assert.equal(r.timedOut, true);
  assert.equal(r.exitedByItself, false);
  assert.equal(r.signal, "SIGTERM");
  assert.equal(alive(sb.pid), false);
});

Deno.test("sandbox: endless output is capped and the program stopped", async () => {
  await using sb = new Sandbox({
    argv: py("import sys\nwhile True: sys.stdout.write('x' * 4096)"),
    timeLimitMs: 20_000,
    outputCapBytes: 64 * 1024,
  });
  const r = await sb.finish();
  assert.equal(r.outputCapped, true);
  assert.equal(r.timedOut, false);
  assert.ok(r.stdout.length <= 64 * 1024, `kept ${r.stdout.length}`);
  assert.ok(sb.stdout.bytes >= 64 * 1024);
});

Deno.test("sandbox: a program ignoring SIGTERM is killed after the grace period", async () => {
  await using sb = new Sandbox({
    argv: py(
      "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\nwhile True: time.sleep(1)",
    ),
    timeLimitMs: 30_000,
    graceMs: 200,
  });
  assert.equal(await sb.stdout.until((l) => l.includes("ready"), 10_000), true);
  const r = await sb.stop();
  assert.equal(r.signal, "SIGKILL");
  assert.equal(alive(sb.pid), false);
});

Deno.test("sandbox: children and escaped grandchildren are stopped too", async () => {
  // The child sleeps in the group; the grandchild leaves it with setsid.
  await using sb = new Sandbox({
    argv: [
      "sh",
      "-c",
      "sleep 300 & echo child $!; setsid sh -c 'echo escaped $$; exec sleep 300' & wait",
    ],
    timeLimitMs: 30_000,
    graceMs: 200,
  });
  assert.equal(
    await sb.stdout.until(
      (l) => l.some((x) => x.startsWith("child")) && l.some((x) => x.startsWith("escaped")),
      10_000,
    ),
    true,
  );
  const pids = sb.stdout.lines.map((l) => Number(l.split(" ")[1]));
  assert.equal(pids.length, 2);
  assert.ok(pids.every(alive));
  assert.ok(descendants(sb.pid).length >= 2);
  await sb.stop();
  for (const p of pids) assert.equal(alive(p), false, `process ${p} still running`);
});

Deno.test("sandbox: a program that does not exist is a clear error", () => {
  assert.throws(
    () => new Sandbox({ argv: ["/nonexistent/prog"], timeLimitMs: 1000 }),
    /nonexistent\/prog/,
  );
});

/** Run `f` with `name` set in this process's environment, then put back what was there. */
async function withEnv(name: string, value: string, f: () => Promise<void>): Promise<void> {
  const before = Deno.env.get(name);
  Deno.env.set(name, value);
  try {
    await f();
  } finally {
    if (before === undefined) Deno.env.delete(name);
    else Deno.env.set(name, before);
  }
}

Deno.test("sandbox: no PYTHON* variable of ours reaches the program; env adds to its environment", async () => {
  const show = "import os\nprint(sorted(k for k in os.environ if k.startswith('PYTHON')), " +
    "os.environ.get('SOCKLAB_ADDED'))";
  await withEnv("PYTHONUNBUFFERED", "1", async () => {
    await using plain = new Sandbox({ argv: py(show), timeLimitMs: 10_000 });
    await using added = new Sandbox({
      argv: py(show),
      timeLimitMs: 10_000,
      env: { PYTHONUNBUFFERED: "1", SOCKLAB_ADDED: "yes" },
    });
    const [p, a] = await Promise.all([plain.finish(), added.finish()]);
    assert.equal(p.stdout.trim(), "[] None");
    assert.equal(a.stdout.trim(), "['PYTHONUNBUFFERED'] yes");
  });
});

Deno.test("sandbox: a Python program stopped before it flushes loses its output, as with the course's scorer; exiting flushes", async () => {
  // Ready is said on stderr (line-buffered in Python 3.9+); stdout stays in Python's buffer.
  const held = "import sys, time\nprint('held')\nprint('ready', file=sys.stderr)\n" +
    "time.sleep(float(sys.argv[1]))";
  await withEnv("PYTHONUNBUFFERED", "1", async () => {
    await using stopped = new Sandbox({ argv: [...py(held), "60"], timeLimitMs: 30_000 });
    await using unbuffered = new Sandbox({
      argv: [...py(held), "60"],
      timeLimitMs: 30_000,
      env: { PYTHONUNBUFFERED: "1" },
    });
    await using exits = new Sandbox({ argv: [...py(held), "0"], timeLimitMs: 30_000 });
    for (const sb of [stopped, unbuffered]) {
      assert.equal(await sb.stderr.until((l) => l.includes("ready"), 10_000), true);
    }
    const [s, u, e] = await Promise.all([stopped.stop(), unbuffered.stop(), exits.finish()]);
    assert.equal(s.signal, "SIGTERM");
    assert.equal(s.exitedByItself, false);
    assert.equal(s.stdout, "", "SIGTERM ends Python without flushing");
    assert.equal(u.stdout, "held\n");
    assert.equal(e.exitedByItself, true);
    assert.equal(e.stdout, "held\n");
  });
});

/** A LineReader over bytes written by the test (a stream it controls). */
function reader() {
  let ctl!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({ start: (c) => void (ctl = c) });
  const r = new LineReader(stream);
  return {
    r,
    write: (s: string | Uint8Array) =>
      ctl.enqueue(typeof s === "string" ? new TextEncoder().encode(s) : s),
    end: () => ctl.close(),
  };
}

Deno.test("LineReader: one endless line and a UTF-8 character cut between reads, decoded once", async () => {
  const { r, write, end } = reader();
  for (let i = 0; i < 1000; i++) write(new Uint8Array(1000)); // 1 MB of NUL, no line break
  write(new Uint8Array([0x0a, 0xc3]));
  write(new Uint8Array([0xa9, 0x0a, 0xff]));
  end();
  await r.done;
  assert.deepEqual(r.lines.map((l) => l.length), [1_000_000, 1, 1]);
  assert.equal(r.lines[1], "é");
  assert.equal(r.lines[2], "\ufffd", "an incomplete last sequence is flushed as U+FFFD");
});

Deno.test("LineReader.watch: judged at a bounded cost, over budget by the injected clock", async () => {
  const { r, write, end } = reader();
  let calls = 0;
  let clock = 0;
  // Each judgement "costs" 30 ms of the injected clock: the fourth exceeds a 100 ms budget.
  const watching = r.watch(() => {
    calls++;
    clock += 30;
    return false;
  }, { timeoutMs: 10_000, budgetMs: 100, now: () => clock });
  for (let i = 0; i < 10_000; i++) write("x\n"); // 10,000 chunks: not 10,000 judgements
  const out = await watching;
  assert.equal(out.end, "budget");
  assert.equal(out.spentMs, 120);
  assert.equal(calls, 4);
  end();
  // Held as soon as it holds; "ended" when the stream ends first.
  const two = reader();
  const held = two.r.watch((l) => l.includes("ok"), { timeoutMs: 10_000 });
  two.write("no\nok\n");
  assert.equal((await held).end, "held");
  const ended = two.r.watch((l) => l.includes("never"), { timeoutMs: 10_000 });
  two.end();
  assert.equal((await ended).end, "ended");
});
