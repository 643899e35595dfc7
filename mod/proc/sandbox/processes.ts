/**
 * Processes as the sandbox sees them: a process's parent and the tree of its
 * descendants (from /proc), a signal that never throws, a program found on a PATH, and
 * the descriptors this process inherited, closed before spawning a jail.
 *
 * @module
 */

/** The parent of `pid` (from /proc/PID/stat), or null where it is gone or unreadable. */
export function parentPid(pid: number): number | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // After the command name, which may hold spaces and parentheses: " S PPID ...".
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return null;
  }
}

/** Children of every process, from /proc (empty where /proc is unreadable). */
function childrenMap(): Map<number, number[]> {
  const map = new Map<number, number[]>();
  try {
    for (const e of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      const ppid = parentPid(Number(e.name));
      if (ppid === null) continue; // gone meanwhile
      const list = map.get(ppid) ?? [];
      list.push(Number(e.name));
      map.set(ppid, list);
    }
  } catch { /* no /proc */ }
  return map;
}

/** Every descendant of `pid` (children, grandchildren...). */
export function descendants(pid: number): number[] {
  const map = childrenMap();
  const out: number[] = [];
  const todo = [pid];
  while (todo.length && out.length < 10_000) {
    for (const c of map.get(todo.pop()!) ?? []) {
      out.push(c);
      todo.push(c);
    }
  }
  return out;
}

/** Where `prog` is (a path, or found on PATH), or null. */
export function findProgram(prog: string, path = Deno.env.get("PATH") ?? ""): string | null {
  const isExe = (p: string) => {
    try {
      const st = Deno.statSync(p);
      return st.isFile && ((st.mode ?? 0o111) & 0o111) !== 0;
    } catch {
      return false;
    }
  };
  if (prog.includes("/")) return isExe(prog) ? prog : null;
  for (const dir of path.split(":")) {
    if (dir && isExe(`${dir}/${prog}`)) return `${dir}/${prog}`;
  }
  return null;
}

/** Send `sig` to `pid` (negative: a process group); a process already gone is no error. */
export function signal(pid: number, sig: Deno.Signal): void {
  try {
    Deno.kill(pid, sig);
  } catch { /* already gone */ }
}

/** O_CLOEXEC in /proc/self/fdinfo's octal `flags`. */
const O_CLOEXEC = 0o2000000;

/**
 * Close the descriptors this process inherited without close-on-exec (fds 0-2
 * aside): spawned children (bubblewrap, and through it a jailed program)
 * would inherit them, whatever their namespaces. Deno's own descriptors are
 * all close-on-exec, so only the parent's leftovers (a shell's, a CI runner's
 * log pipe) are closed. Through libc's close() (Deno has no API to close a
 * descriptor it did not open).
 */
export function closeInheritedFds(): void {
  const stray: number[] = [];
  for (const e of Deno.readDirSync("/proc/self/fdinfo")) {
    const fd = Number(e.name);
    if (!(fd > 2)) continue;
    try {
      const flags = Deno.readTextFileSync(`/proc/self/fdinfo/${fd}`).match(/^flags:\s*([0-7]+)/m);
      if (flags && (parseInt(flags[1], 8) & O_CLOEXEC) === 0) stray.push(fd);
    } catch { /* the listing's own descriptor, closed meanwhile */ }
  }
  if (stray.length === 0) return;
  const libc = Deno.dlopen("libc.so.6", { close: { parameters: ["i32"], result: "i32" } });
  try {
    for (const fd of stray) libc.symbols.close(fd);
  } finally {
    libc.close();
  }
}
