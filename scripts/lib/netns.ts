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
 * `prefix` of spawnSocklab/runProc (scripts/lib/proc.ts). Creating one needs
 * root. The tests wrap it in `netnsTest` (tests/helpers/netns.ts); chaos runs
 * its multicast storms in one.
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
