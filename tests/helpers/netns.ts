/**
 * `netnsTest`: a Deno.test whose body runs with a private network namespace
 * ({@link Netns}, scripts/lib/netns.ts). In CI (CI=true) a test that cannot
 * have one fails; elsewhere it is skipped, saying why.
 *
 * @module
 */
import { Netns } from "../../scripts/lib/netns.ts";

export type { Netns };

/** Why namespaces cannot be made here, or null if they can (probed once). */
export const NETNS_UNAVAILABLE: string | null = await (async () => {
  try {
    await using _ns = await Netns.create();
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
})();

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
  if (NETNS_UNAVAILABLE && !IN_CI) {
    Deno.test({ name: `${name} (skipped: ${NETNS_UNAVAILABLE})`, ignore: true, fn() {} });
    return;
  }
  Deno.test(name, async (t) => {
    if (NETNS_UNAVAILABLE) {
      throw new Error(`CI needs a private network namespace: ${NETNS_UNAVAILABLE}`);
    }
    await using ns = await Netns.create(opts);
    await fn(ns, t);
  });
}

/** The /etc/hosts the lab asks for: localhost on both loopbacks. */
export const DUAL_STACK_HOSTS = "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n";
