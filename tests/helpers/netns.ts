/**
 * A private network namespace for tests whose traffic must not reach any
 * wire (multicast leaves the main namespace by the default route) or that
 * need fixed lab ports. The namespace has only `lo`, up, with multicast on
 * and a multicast route, so 224.0.0.0/4 stays inside it.
 *
 * With `hosts`, the namespace gets its own /etc/hosts (`ip netns exec`
 * bind-mounts /etc/netns/NAME/hosts over /etc/hosts), e.g. the lab's
 * `127.0.0.1 localhost` + `::1 localhost` where this machine lists only one.
 *
 * Processes run inside it through `ip netns exec`: pass `ns.prefix` as the
 * `prefix` of spawnSocklab/runProc. Creating one needs root (CI runs as
 * root): in CI (CI=true) a test that cannot have one fails; elsewhere it is
 * skipped, saying why.
 *
 * @module
 */

let counter = 0;

async function ip(args: string[]): Promise<{ ok: boolean; err: string }> {
  try {
    const out = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
    return { ok: out.success, err: new TextDecoder().decode(out.stderr).trim() };
  } catch (e) {
    return { ok: false, err: e instanceof Error ? e.message : String(e) };
  }
}

export class Netns {
  readonly name: string;
  readonly prefix: string[];
  #deleted = false;

  private constructor(name: string) {
    this.name = name;
    this.prefix = ["ip", "netns", "exec", name];
  }

  /** Create a namespace with lo up and multicast routed to lo. Throws with the reason. */
  static async create(opts: { hosts?: string } = {}): Promise<Netns> {
    const rnd = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
    const name = `sl-${Deno.pid}-${++counter}-${rnd}`;
    const steps = [
      ["netns", "add", name],
      ["-n", name, "link", "set", "lo", "up"],
      ["-n", name, "link", "set", "lo", "multicast", "on"],
      ["-n", name, "route", "add", "224.0.0.0/4", "dev", "lo"],
    ];
    for (const step of steps) {
      const r = await ip(step);
      if (!r.ok) {
        await ip(["netns", "del", name]);
        throw new Error(`cannot create a network namespace (ip ${step.join(" ")}): ${r.err}`);
      }
    }
    if (opts.hosts !== undefined) {
      await Deno.mkdir(`/etc/netns/${name}`, { recursive: true });
      await Deno.writeTextFile(`/etc/netns/${name}/hosts`, opts.hosts);
    }
    return new Netns(name);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#deleted) return;
    this.#deleted = true;
    await ip(["netns", "del", this.name]);
    await Deno.remove(`/etc/netns/${this.name}`, { recursive: true }).catch(() => {});
  }
}

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
