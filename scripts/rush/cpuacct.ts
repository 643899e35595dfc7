/**
 * CPU time of a process and everything it ever started, exited or not, by
 * cgroup accounting: an isolated job's program runs under bubblewrap, whose
 * outer process does not reap the sandbox's init, so its CPU never reaches
 * the worker's `cutime` (/proc/PID/stat). A process started through
 * {@link CpuGroup.wrap} joins a cgroup of its own first; its descendants
 * inherit it. The sandbox moves programs in the pids, memory and cpu
 * hierarchies; where cpu and cpuacct share one (Debian's cpu,cpuacct), it
 * makes their cgroups under the worker's own (mod/proc/sandbox.ts
 * `cgroupBase`), whose cpuacct.usage counts its descendants', so they
 * still count here; {@link CpuGroup.remove} removes those it left.
 *
 * cgroup v1's cpuacct hierarchy (`cpuacct.usage`) or cgroup v2 (`cpu.stat`
 * usage_usec; there the sandbox's own cgroups take the programs away, so
 * their CPU is not counted). Null where neither can be made (not root):
 * the caller falls back to `cutime`.
 *
 * @module
 */
import { cgroupSubtree } from "../../mod/proc/sandbox.ts";

const V1 = "/sys/fs/cgroup/cpuacct";
const V2 = "/sys/fs/cgroup";

export class CpuGroup {
  readonly dir: string;
  readonly v2: boolean;

  private constructor(dir: string, v2: boolean) {
    this.dir = dir;
    this.v2 = v2;
  }

  /** A new cgroup named `name` (unique), or null if none can be made here. */
  static make(name: string): CpuGroup | null {
    const candidates: [string, boolean][] = [];
    try {
      if (Deno.statSync(`${V1}/cpuacct.usage`).isFile) candidates.push([V1, false]);
    } catch { /* no v1 cpuacct */ }
    try {
      if (Deno.statSync(`${V2}/cgroup.controllers`).isFile) candidates.push([V2, true]);
    } catch { /* no v2 */ }
    for (const [base, v2] of candidates) {
      const dir = `${base}/${name}`;
      try {
        Deno.mkdirSync(dir);
        return new CpuGroup(dir, v2);
      } catch { /* try the next */ }
    }
    return null;
  }

  /** `argv` run so that it joins this cgroup before it starts (exec keeps the pid). */
  wrap(argv: string[]): string[] {
    return ["sh", "-c", `echo $$ > '${this.dir}/cgroup.procs' && exec "$@"`, "sh", ...argv];
  }

  /** CPU seconds used in the cgroup so far, by every process that was ever in it. */
  seconds(): number {
    if (!this.v2) return Number(Deno.readTextFileSync(`${this.dir}/cpuacct.usage`)) / 1e9;
    const stat = Deno.readTextFileSync(`${this.dir}/cpu.stat`);
    return Number(/^usage_usec (\d+)/m.exec(stat)?.[1] ?? NaN) / 1e6;
  }

  /**
   * Remove the cgroup and the empty ones left under it (the sandbox's base
   * where cpu and cpuacct share a hierarchy), once their processes are gone;
   * retried a little.
   */
  async remove(): Promise<void> {
    for (const dir of cgroupSubtree(this.dir)) {
      for (let i = 0; i < 50; i++) {
        try {
          Deno.removeSync(dir);
          break;
        } catch (e) {
          if (e instanceof Deno.errors.NotFound) break;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
  }
}
