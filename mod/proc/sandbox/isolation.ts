/**
 * Whether `grade` can isolate programs on this machine (root, the tools,
 * usable cgroups, namespaces), probed once and cached.
 *
 * @module
 */
import { errorMessage } from "../../errors.ts";
import { cgroupBase, cpuQuota, limitCgroup, makeCgroup, removeCgroup } from "./cgroup.ts";
import { JAIL_LIMITS, JAIL_PATH } from "./jail.ts";
import { findProgram } from "./processes.ts";

let problem: Promise<string | null> | undefined;
/** Why isolated runs get no CPU quota (found by isolationProblem's probe), or null. */
let cpuProblem: string | null = null;

/** Why `grade` cannot isolate programs on this machine, or null if it can. Cached. */
export function isolationProblem(): Promise<string | null> {
  return problem ??= (async () => {
    if (Deno.build.os !== "linux") return "not Linux";
    if (Deno.uid() !== 0) return "not root (the sandbox is bubblewrap run as root)";
    for (const tool of ["bwrap", "setpriv", "prlimit", "ip"]) {
      if (!findProgram(tool, JAIL_PATH + ":/usr/sbin:/sbin")) {
        return `no '${tool}' (Debian package ${
          tool === "bwrap" ? "bubblewrap" : tool === "ip" ? "iproute2" : "util-linux"
        })`;
      }
    }
    const base = cgroupBase();
    if (typeof base === "string") return `no usable cgroups: ${base}`;
    try {
      const probe = makeCgroup(base, `probe-${crypto.randomUUID().slice(0, 8)}`);
      try {
        limitCgroup(probe, JAIL_LIMITS);
        const quota = cpuQuota(probe);
        cpuProblem = probe.noCpu ??
          (quota === null || quota.startsWith("max") ? "the cgroup CPU quota cannot be set" : null);
      } finally {
        await removeCgroup(probe);
      }
    } catch (e) {
      return `cannot make a cgroup in ${base.dirs[0]}: ${errorMessage(e)}`;
    }
    const r = await new Deno.Command("bwrap", {
      args: ["--unshare-net", "--unshare-pid", "--dev-bind", "/", "/", "--", "/bin/true"],
      stdout: "null",
      stderr: "piped",
    }).output().catch((e) => ({ success: false, stderr: new TextEncoder().encode(String(e)) }));
    if (!r.success) {
      return `bubblewrap cannot make namespaces here: ${new TextDecoder().decode(r.stderr).trim()}`;
    }
    return null;
  })();
}

/**
 * Why isolated runs are not CPU-capped here (no cgroup cpu controller), or
 * null when each gets its quota (or when there is no isolation at all).
 */
export async function cpuQuotaProblem(): Promise<string | null> {
  return await isolationProblem() === null ? cpuProblem : null;
}
