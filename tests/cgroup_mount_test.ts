/**
 * grade under `ip netns exec` (issue 30): that command mounts a fresh sysfs on /sys, so
 * /sys/fs/cgroup holds no cgroup there, and grade used to refuse to isolate. It now mounts
 * the controllers in that private mount namespace (v1 or v2, as /proc/cgroups places them)
 * and grades; where its mounts would reach the machine's, the refusal names the fix.
 */
import assert from "node:assert/strict";
import { controllerMounts } from "../mod/proc/sandbox/cgroup.ts";
import { isolationProblem } from "../mod/proc/sandbox.ts";
import { netnsTest } from "./helpers/netns.ts";
import { grade, py } from "./helpers/grade.ts";
import { runSocklab } from "../scripts/lib/proc.ts";

/** This machine's cgroup mounts, to prove a namespace's mounts never reach them. */
const machineCgroups = () =>
  Deno.readTextFileSync("/proc/self/mountinfo").split("\n")
    .filter((l) => / - cgroup2? /.test(l)).sort().join("\n");

/** What the namespace tests need beyond the namespace: grade's isolation on this machine. */
async function needsIsolation(): Promise<void> {
  const why = await isolationProblem();
  if (why !== null) throw new Error(`requires grade's isolation: ${why}`);
}

Deno.test("controllerMounts: v1 hierarchies as /proc/cgroups places them, or cgroup v2", () => {
  const row = (name: string, h: number, enabled = 1) => `${name}\t${h}\t1\t${enabled}`;
  const header = "#subsys_name\thierarchy\tnum_cgroups\tenabled";
  // This build machine: cpu and cpuacct apart.
  const apart = [header, row("cpu", 1), row("cpuacct", 2), row("memory", 4), row("pids", 8)];
  assert.deepEqual(controllerMounts(apart.join("\n")), [
    ["-t", "tmpfs", "-o", "mode=755,size=1m", "cgroup", "/sys/fs/cgroup"],
    "/sys/fs/cgroup/pids",
    ["-t", "cgroup", "-o", "pids", "cgroup", "/sys/fs/cgroup/pids"],
    "/sys/fs/cgroup/memory",
    ["-t", "cgroup", "-o", "memory", "cgroup", "/sys/fs/cgroup/memory"],
    "/sys/fs/cgroup/cpu",
    ["-t", "cgroup", "-o", "cpu", "cgroup", "/sys/fs/cgroup/cpu"],
  ]);
  // Debian's v1: cpu and cpuacct in one hierarchy, mounted together (one alone is EBUSY).
  const together = [header, row("cpu", 3), row("cpuacct", 3), row("memory", 5), row("pids", 2)];
  const steps = controllerMounts(together.join("\n"));
  assert.ok(Array.isArray(steps));
  assert.deepEqual(steps.slice(5), [
    "/sys/fs/cgroup/cpu,cpuacct",
    ["-t", "cgroup", "-o", "cpu,cpuacct", "cgroup", "/sys/fs/cgroup/cpu,cpuacct"],
    "/sys/fs/cgroup/cpu -> cpu,cpuacct",
    "/sys/fs/cgroup/cpuacct -> cpu,cpuacct",
  ]);
  // cgroup v2 (every controller in hierarchy 0), or a kernel without /proc/cgroups.
  const unified = [header, row("cpu", 0), row("memory", 0), row("pids", 0)];
  for (const text of [unified.join("\n"), ""]) {
    assert.deepEqual(controllerMounts(text), [["-t", "cgroup2", "cgroup2", "/sys/fs/cgroup"]]);
  }
  // A disabled controller does not count; pids on v1 and memory on v2 cannot be mounted as one.
  const mixed = [header, row("memory", 0), row("pids", 8)];
  assert.match(String(controllerMounts(mixed.join("\n"))), /different cgroup versions/);
  assert.match(
    String(controllerMounts([header, row("memory", 4, 0), row("pids", 8)].join("\n"))),
    /different cgroup versions/,
  );
});

netnsTest(
  "grade under ip netns exec mounts the cgroups it hides and isolates a good script",
  async (ns) => {
    await needsIsolation();
    const before = machineCgroups();
    const report = await grade("part2", py("part2_good.py"), {
      prefix: ns.prefix,
      extra: ["--isolation", "required"],
    });
    assert.equal(report.score, report.max_grade, JSON.stringify(report));
    assert.equal(report.success, 1);
    assert.equal(machineCgroups(), before, "the namespace's mounts stayed in it");
  },
);

netnsTest(
  "where its mounts would be shared, grade refuses to mount and names the fix",
  async (ns) => {
    await needsIsolation();
    // The namespace's fresh /sys made shared: a mount under it would propagate to its peers.
    const shared = [...ns.prefix, "sh", "-c", 'mount --make-shared /sys && exec "$@"', "sh"];
    const r = await runSocklab(
      ["grade", "part2", "--isolation", "required", "--", ...py("part2_good.py")],
      { prefix: shared, timeoutMs: 60_000 },
    );
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, "");
    const last = r.stderr.trim().split("\n").at(-1)!;
    assert.match(last, /^socklab grade: error: isolation is required but not available: /);
    assert.match(last, /no cgroup pids and memory controllers under \/sys\/fs\/cgroup/);
    assert.match(last, /shares its mounts\): mount them on \/sys\/fs\/cgroup, or start socklab/);
    assert.match(last, /unshare --mount socklab/);
  },
);
