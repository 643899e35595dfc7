/**
 * "This test requires X": find a system tool or a Python with a module, or
 * fail the test with one line that says what to install (no stack trace).
 * scripts/setup.sh installs all of them (`deno task test` runs it first; as
 * root it installs what is missing).
 *
 * @module
 */

/** A missing peer: its message is the whole report (the stack is not shown). */
export class Missing extends Error {
  constructor(what: string, pkg: string) {
    super(
      `requires ${what}: install the Debian package ${pkg} ` +
        `(as root: scripts/setup.sh, or apt-get install ${pkg})`,
    );
    this.name = "Missing";
    this.stack = `${this.name}: ${this.message}`;
  }
}

function isExecutable(path: string): boolean {
  try {
    const st = Deno.statSync(path);
    return st.isFile && ((st.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** The absolute path of `name` on PATH (then /usr/sbin and /sbin), or null. */
export function which(name: string): string | null {
  const dirs = [...(Deno.env.get("PATH") ?? "").split(":"), "/usr/sbin", "/sbin"];
  for (const dir of dirs) {
    if (dir.startsWith("/") && isExecutable(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return null;
}

/** The path of system tool `name`, or throws {@link Missing} naming its package. */
export function requireTool(name: string, pkg: string): string {
  const path = which(name);
  if (!path) throw new Missing(`'${name}'`, pkg);
  return path;
}

const pythons = new Map<string, Promise<string | null>>();

/**
 * A Python 3 that can `import module`: Debian's /usr/bin/python3 first (where
 * Debian's python3-* packages install), then `python3` on PATH. Never depends
 * on which python3 comes first on PATH. Throws {@link Missing} naming `pkg`.
 */
export async function requirePython(module: string, pkg: string): Promise<string> {
  let found = pythons.get(module);
  if (!found) {
    found = (async () => {
      const candidates = ["/usr/bin/python3", which("python3")].filter((p): p is string => !!p);
      for (const python of new Set(candidates)) {
        const r = await new Deno.Command(python, {
          args: ["-c", `import ${module}`],
          stdout: "null",
          stderr: "null",
        }).output().catch(() => null);
        if (r?.success) return python;
      }
      return null;
    })();
    pythons.set(module, found);
  }
  const python = await found;
  if (!python) throw new Missing(`a python3 with the module '${module}'`, pkg);
  return python;
}
