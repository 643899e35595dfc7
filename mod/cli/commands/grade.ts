/**
 * `socklab grade <part> [options] -- <program...>`: the lab's scoring system,
 * offline. Starts the servers the part needs, runs the program with the
 * lab's prototype arguments appended, and says what passed and why.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { defineCommand, flag, numOpt, optionalNum, parseChoice, str } from "../command.ts";
import { errorMessage, RunError, UsageError } from "../../errors.ts";
import { escapeControls, safeJson } from "../../escape.ts";
import { gradeProgram, ISOLATIONS } from "../../grade/engine.ts";
import { programFiles } from "../../grade/program.ts";
import { PARTS } from "../../grade/parts.ts";
import { formatReport } from "../../grade/report.ts";

export const grade = defineCommand({
  name: "grade",
  summary: "score a lab script against socklab's servers, saying what failed and why",
  part: "scoring",
  positionals: [{
    name: "part",
    help: "which part: part2, part3, part4-receiver, part4-sender, part5, part6",
  }],
  rest: "program...",
  options: {
    json: {
      type: "boolean",
      help: 'print {"part", "max_grade", "score", "success", "tests"} instead of lines ' +
        '(each test: name, passed, scored, detail; with --unbuffered also "unbuffered", "note")',
    },
    verbose: { type: "boolean", short: "v", help: "show the program's stdout and stderr" },
    "time-limit": {
      type: "string",
      default: "20",
      arg: "SECONDS",
      help: "wall-clock limit of each run of the program",
    },
    "output-limit": {
      type: "string",
      default: "4194304",
      arg: "BYTES",
      help: "output kept per run (at most 16 MiB); a program printing more is stopped",
    },
    seed: { type: "string", arg: "N", help: "random seed (default: a new one each run)" },
    sciper: {
      type: "string",
      default: "123456",
      arg: "SCIPER",
      help: "part4-sender: the 6-digit sciper given to the program",
    },
    cert: {
      type: "string",
      arg: "FILE",
      help: "part5: the program's certificate (default: made on the fly)",
    },
    key: { type: "string", arg: "FILE", help: "part5: the program's private key" },
    ca: { type: "string", arg: "FILE", help: "part5: the CA certificate that signed --cert" },
    isolation: {
      type: "string",
      default: "auto",
      arg: "MODE",
      help: "required, auto or off: run the program in a sandbox of its own (root and " +
        "bubblewrap); auto falls back to running it as you, saying so",
    },
    unbuffered: {
      type: "boolean",
      help: "run Python unbuffered (PYTHONUNBUFFERED=1), unlike the course's scorer, to see " +
        "whether the logic is right before adding flush=True; the verdict is then not the course's",
    },
    capture: {
      type: "string",
      arg: "DIR",
      help: "record each run's packets into DIR/<test>.pcap for 'socklab packets' or " +
        "Wireshark (tcpdump; needs root or CAP_NET_RAW)",
    },
  },
  description: `The program gets the lab's prototype arguments appended, e.g.
  socklab grade part2 -- python3 PDC.py
runs 'python3 PDC.py 127.0.0.1 <port> CMD_short:0' and the other tests.
Scored tests are what the course's scoring system checked and make the
score; advice tests (socklab's extra robustness checks) are shown after
them and never change it. Every run has a time limit and an output limit;
the program and all its children are stopped at the end. Exit 0 on full
scored marks, 1 otherwise.

The program runs as the course's scorer ran it: stdout a pipe, Python's
own buffering (no PYTHON* variable is passed on), and a program still
running at the end of a test is stopped (SIGTERM, then SIGKILL), which
loses what print() left in Python's buffer. So print with flush=True, as
the handout asks; a test that fails that way says so. --unbuffered runs
Python unbuffered to check the rest first; its report says the verdict is
not the course's.

Isolated (root with bubblewrap; --isolation auto or required), every run
is a fresh sandbox: its own processes, a user of the job's own (not
root, not shared with another job at once), the system read-only, 64
processes, 512 MiB. The runs of one job share one private network with
loopback only (the grader's servers live there): a port a run leaves in
TIME_WAIT is still so in the next run, as on a lab machine. The program
sees the system's programs only (python3 is /usr/bin/python3, not
pyenv's), and its files: each file named on its command line, with the
other files of that file's directory (not subdirectories, nor links), at
the same path, or in its working directory for a relative name. They are
read once, before the first run (under sudo, as the user who ran it); a
link out of their directory, or a file under /proc or /sys, is refused.
As root without bubblewrap, auto still never runs the program as root:
it gets the job's user, its limits and a directory of its own with its
files, and a note says what it shares with this machine. Off runs it as
you, in this directory.

With --capture DIR, each run's packets (its port, on the interface it uses:
isolated, the job's own loopback) go to DIR/<test>.pcap, e.g.
DIR/cmd_short-0.pcap; at most 2000 packets and 4 MiB per run, 16 MiB in all.
Without tcpdump or the privilege to capture, one line says so and grading
goes on.`,
  example: "socklab grade part2 -- python3 PDC.py",
  async run(args, io) {
    const partName = args.positionals[0];
    const part = PARTS.find((p) => p.name === partName);
    if (!part) {
      throw new UsageError(
        `'${partName}' is not a gradable part (${PARTS.map((p) => p.name).join(", ")})`,
      );
    }
    const timeLimit = numOpt(args, "time-limit", { min: 0.1, max: 3600 });
    const outputCap = numOpt(args, "output-limit", { min: 1024, max: 16 * 2 ** 20, integer: true });
    const seed = optionalNum(args, "seed", { integer: true, min: 0 }) ??
      Math.floor(Math.random() * 2 ** 31);
    const sciper = str(args, "sciper");
    if (!/^\d{6}$/.test(sciper)) throw new UsageError(`--sciper: '${sciper}' is not 6 digits`);
    const tlsFiles = (["cert", "key", "ca"] as const).filter((o) => str(args, o) !== undefined);
    if (tlsFiles.length > 0 && tlsFiles.length < 3) {
      throw new UsageError(
        "--cert, --key and --ca go together (or give none: they are made on the fly)",
      );
    }
    const isolation = parseChoice(str(args, "isolation"), "--isolation", ISOLATIONS);
    const json = flag(args, "json");
    const captureDir = str(args, "capture");
    if (captureDir !== undefined) {
      try {
        await Deno.mkdir(captureDir, { recursive: true });
      } catch (e) {
        throw new RunError(
          `--capture: cannot make '${captureDir}': ${errorMessage(e)}`,
        );
      }
    }
    const program = escapeControls(args.rest.join(" "));
    io.log(`grading ${part.name}: ${program} ${part.prototype} (seed ${seed})`);
    const abs = (o: "cert" | "key" | "ca") => {
      const v = str(args, o);
      return v === undefined ? undefined : resolve(v);
    };
    const stop = new AbortController();
    void io.stopped.then((sig) => stop.abort(new RunError(`interrupted by ${sig}`)));
    let report, captures;
    try {
      ({ report, captures } = await gradeProgram({
        keptOutput: 0,
        part: part.name,
        program: args.rest,
        timeLimitMs: timeLimit * 1000,
        outputCapBytes: outputCap,
        log: io.log,
        verbose: flag(args, "verbose"),
        seed,
        options: { sciper, cert: abs("cert"), key: abs("key"), ca: abs("ca") },
        isolation,
        files: programFiles(args.rest),
        signal: stop.signal,
        capture: captureDir !== undefined,
        unbuffered: flag(args, "unbuffered"),
      }));
    } catch (e) {
      if (e instanceof RunError) throw e;
      throw new RunError(errorMessage(e));
    }
    if (captureDir !== undefined && captures.length > 0) {
      for (const c of captures) {
        await Deno.writeFile(join(captureDir, c.name), c.bytes).catch((e) => {
          throw new RunError(`--capture: cannot write ${c.name}: ${e.message ?? e}`);
        });
      }
      io.log(
        `capture: ${captures.length} pcap file(s) in ${captureDir}: ` +
          captures.map((c) => c.name).join(", "),
      );
    }
    if (json) io.out(safeJson(report));
    else {
      const color = Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR");
      for (const line of formatReport(report, color)) io.out(line);
    }
    return report.success ? 0 : 1;
  },
});
