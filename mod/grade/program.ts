/**
 * The student's program as grade finds it on this machine, before any test:
 * the script it names checked (it exists, it can be read, it can run), the
 * files it is given (those its arguments name and their siblings), and
 * those files read safely: never through a symbolic link leading out of
 * their directory, never from /proc or /sys, and under `sudo` as the user
 * who ran it, so that grade's root reads nothing for a program that its
 * user could not read.
 *
 * @module
 */
import { basename, dirname, resolve } from "node:path";
import { errorMessage } from "../errors.ts";
import { escapeControls } from "../escape.ts";
import { findProgram, inJailSystem } from "../proc/sandbox.ts";

/**
 * The program cannot be graded for a reason of its own (its script is
 * missing, a file it names is refused): the student's to fix, so the
 * scoring service records it as the job's result and never retries it.
 */
export class ProgramFault extends Error {
  override name = "ProgramFault";
}

/** At most this many files (and bytes) of a directory go with a file named on the command line. */
const SIBLINGS = { files: 100, bytes: 10 * 2 ** 20 };

/** Interpreters whose first argument that is not an option is the script they run. */
const INTERPRETER = /^(python[\d.]*|pypy[\d.]*|node|ruby|perl|php|bash|sh|dash|zsh)$/;

/** A file name as grade prints it: the name the user gave, escaped. */
const shown = (name: string) => `'${escapeControls(name)}'`;

/** Where the kernel shows processes and devices: no program file is read from there. */
function inPseudoFs(path: string): boolean {
  return ["/proc", "/sys", "/dev"].some((p) => path === p || path.startsWith(p + "/"));
}

/**
 * Why the file the user named as `arg` (at `here`) cannot be given to the
 * program, or null: under /proc, /sys or /dev, or a symbolic link whose
 * target is not a file of the same directory.
 */
function refusal(arg: string, here: string): string | null {
  if (inPseudoFs(here)) return `${shown(arg)} is under ${here.split("/")[1]}: not a program file`;
  let real: string;
  try {
    if (!Deno.lstatSync(here).isSymlink) return null;
    real = Deno.realPathSync(here);
  } catch {
    return null; // no such file: not a file argument
  }
  const dir = Deno.realPathSync(dirname(here));
  if (dirname(real) !== dir || inPseudoFs(real)) {
    return `${shown(arg)} is a symbolic link to ${
      shown(real)
    }, outside its directory: grade follows no link out of a program's directory`;
  }
  return null;
}

/**
 * The files an isolated program gets (path it sees -> file here): every file
 * named by an argument, and the other regular files of its directory (a
 * student's script may import its own modules), within {@link SIBLINGS}.
 * A relative name stays relative (in the run's working directory); an absolute
 * one keeps its path. The system's own files (/usr...) are visible there anyway.
 * Siblings that are links are left out; a named file that is a link out of
 * its directory, or under /proc or /sys, is refused (thrown, in one line).
 */
export function programFiles(program: string[], cwd = Deno.cwd()): Record<string, string> {
  const files: Record<string, string> = {};
  let count = 0, bytes = 0;
  for (const arg of program) {
    const here = resolve(cwd, arg);
    if (inJailSystem(here)) continue; // e.g. /usr/bin/python3: the sandbox shows it anyway
    const why = refusal(arg, here);
    if (why) throw new ProgramFault(why);
    try {
      if (!Deno.statSync(here).isFile) continue;
    } catch {
      continue;
    }
    const seen = arg.startsWith("/") || arg.split("/").includes("..") ? here : arg;
    files[seen] = here;
    const dir = dirname(here);
    const seenDir = dirname(seen);
    for (const e of Deno.readDirSync(dir)) {
      if (!e.isFile || e.name.startsWith(".")) continue;
      const name = seenDir === "." ? e.name : `${seenDir}/${e.name}`;
      if (name in files) continue;
      const size = Deno.statSync(`${dir}/${e.name}`).size;
      if (count >= SIBLINGS.files || bytes + size > SIBLINGS.bytes) continue;
      count++;
      bytes += size;
      files[name] = `${dir}/${e.name}`;
    }
  }
  return files;
}

/** The user who ran `sudo socklab grade` (uid, gid), or null when not under sudo as root. */
export function invokingUser(): { uid: number; gid: number } | null {
  const uid = Number(Deno.env.get("SUDO_UID"));
  const gid = Number(Deno.env.get("SUDO_GID"));
  if (Deno.uid() !== 0 || !(uid > 0) || !(gid >= 0)) return null;
  return { uid, gid };
}

/**
 * Read `path` as `user` (setpriv, with that user's groups): what that user
 * could not read, grade does not read for it either.
 */
async function readAs(user: { uid: number; gid: number }, path: string): Promise<Uint8Array> {
  const r = await new Deno.Command("setpriv", {
    args: [`--reuid=${user.uid}`, `--regid=${user.gid}`, "--init-groups", "--", "cat", "--", path],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!r.success) {
    const why = new TextDecoder().decode(r.stderr).trim().split("\n").at(-1) ?? "";
    throw new ProgramFault(
      `cannot read ${shown(path)} as uid ${user.uid}: ${why.replace(/^cat: /, "")}`,
    );
  }
  return r.stdout;
}

/**
 * Copy the program's files (path it sees -> file here) into `into` (a
 * directory of grade's own), read as {@link invokingUser} under sudo, and
 * return the same map pointing at the copies: what the runs get is what was
 * there now, whatever the user's directory becomes meanwhile.
 */
export async function stageFiles(
  files: Record<string, string>,
  into: string,
): Promise<Record<string, string>> {
  const user = invokingUser();
  const staged: Record<string, string> = {};
  let n = 0;
  for (const [seen, src] of Object.entries(files)) {
    const why = refusal(src, src);
    if (why) throw new ProgramFault(why);
    const bytes = user ? await readAs(user, src) : await Deno.readFile(src).catch((e) => {
      throw new Error(`cannot read ${shown(src)}: ${errorMessage(e)}`);
    });
    const copy = `${into}/${++n}-${basename(src).replace(/[^\w.-]/g, "_")}`;
    const exec = ((Deno.statSync(src).mode ?? 0) & 0o100) !== 0;
    await Deno.writeFile(copy, bytes, { mode: exec ? 0o700 : 0o600 });
    staged[seen] = copy;
  }
  return staged;
}

/**
 * Throw, in one line naming the user's own path, when `program` cannot run
 * from `cwd`: its command is not found or not executable, or the script an
 * interpreter is given (`python3 PDC.py`) is missing or not a file. Checked
 * before any test: a typo costs one line, not five failed tests.
 */
export function checkProgram(program: string[], cwd = Deno.cwd()): void {
  const [cmd, ...args] = program;
  if (cmd === undefined) throw new ProgramFault("no program to grade (give it after --)");
  const what = `cannot run ${shown(program.join(" "))}`;
  if (cmd.includes("/")) {
    const here = resolve(cwd, cmd);
    const st = (() => {
      try {
        return Deno.statSync(here);
      } catch {
        return null;
      }
    })();
    if (!st?.isFile) throw new ProgramFault(`${what}: no file ${shown(here)}`);
    if (((st.mode ?? 0o111) & 0o111) === 0) {
      throw new ProgramFault(
        `${what}: ${shown(here)} is not executable (chmod +x it, or name its interpreter: ` +
          `python3 ${escapeControls(cmd)})`,
      );
    }
  } else if (!findProgram(cmd)) {
    throw new ProgramFault(`${what}: ${shown(cmd)} is not found (is it on PATH, or give its path)`);
  }
  if (!INTERPRETER.test(basename(cmd))) return;
  const script = args.find((a) => !a.startsWith("-"));
  if (script === undefined || args.some((a) => a === "-m" || a === "-c" || a === "-e")) return;
  const here = resolve(cwd, script);
  try {
    if (!Deno.statSync(here).isFile) throw new Deno.errors.NotFound();
  } catch {
    throw new ProgramFault(`${what}: no file ${shown(here)}`);
  }
  try {
    Deno.openSync(here).close();
  } catch (e) {
    throw new ProgramFault(`${what}: ${shown(here)} cannot be read (${errorMessage(e)})`);
  }
}
