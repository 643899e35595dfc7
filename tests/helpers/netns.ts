/**
 * `netnsTest`: a Deno.test whose body runs with a private network namespace
 * ({@link Netns}, scripts/lib/netns.ts), made when the test runs (never at
 * import). In CI (CI=true) a test that cannot have one fails; elsewhere it is
 * skipped, saying why.
 *
 * @module
 */
import { Netns } from "../../scripts/lib/netns.ts";

export type { Netns };

/**
 * Why namespaces cannot be made here, or null if they may be: a cheap look
 * (root, and `ip` on PATH) that creates nothing. Importing this module makes no
 * namespace; each netnsTest makes its own when it runs, and fails with the
 * reason if that is refused.
 */
export function netnsUnavailable(): string | null {
  if (Deno.uid() !== 0) return "network namespaces need root";
  const dirs = (Deno.env.get("PATH") ?? "").split(":").filter(Boolean);
  const hasIp = dirs.some((d) => {
    try {
      return Deno.statSync(`${d}/ip`).isFile;
    } catch {
      return false;
    }
  });
  return hasIp ? null : "no `ip` command on PATH (iproute2)";
}

const IN_CI = Deno.env.get("CI") === "true";

/**
 * Deno.test for a body that needs a private namespace. In CI a missing
 * namespace is a failure; elsewhere the test is ignored and says why.
 */
export function netnsTest(
  name: string,
  fn: (ns: Netns, t: Deno.TestContext) => Promise<void>,
  opts: { hosts?: string } = {},
): void {
  const why = netnsUnavailable();
  if (why && !IN_CI) {
    Deno.test({ name: `${name} (skipped: ${why})`, ignore: true, fn() {} });
    return;
  }
  Deno.test(name, async (t) => {
    if (why) throw new Error(`CI needs a private network namespace: ${why}`);
    await using ns = await Netns.create(opts);
    await fn(ns, t);
  });
}

/** The /etc/hosts the lab asks for: localhost on both loopbacks. */
export const DUAL_STACK_HOSTS = "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n";
