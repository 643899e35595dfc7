/**
 * A simulated machine for the service's workers: a private network namespace
 * joined to this one by a veth pair on a private /30 (10.231.X.Y), so that a
 * process inside reaches this namespace's address on the link (where
 * PostgreSQL listens) over a real, if virtual, link, and nothing else: the
 * namespace has no other route. Traffic stays inside namespaces this process
 * made. Needs root (CI runs as root).
 *
 * ```ts
 * await using m = await SimulatedMachine.create();
 * // PostgreSQL listens on m.hostAddr; run a worker with m.prefix
 * ```
 *
 * @module
 */
import { Netns } from "./netns.ts";

async function ip(args: string[]): Promise<void> {
  const out = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

let counter = 0;

export class SimulatedMachine {
  /** The namespace (lo up; the veth's inner end). */
  readonly ns: Netns;
  /** The address of this namespace's end of the link (listen here). */
  readonly hostAddr: string;
  /** The address of the machine's end. */
  readonly addr: string;
  /** The link's network, for pg_hba (`10.231.X.Y/30`). */
  readonly cidr: string;
  /**
   * argv prefix that runs a command on the machine: `nsenter --net=...`,
   * which enters the network namespace only (`ip netns exec` also mounts a
   * fresh /sys, hiding the cgroups a worker's sandbox needs).
   */
  readonly prefix: string[];
  readonly #hostIf: string;
  #gone = false;

  private constructor(ns: Netns, hostIf: string, base: number[]) {
    this.ns = ns;
    this.#hostIf = hostIf;
    this.prefix = ["nsenter", `--net=/run/netns/${ns.name}`, "--"];
    const [a, b, c, d] = base;
    this.cidr = `${a}.${b}.${c}.${d}/30`;
    this.hostAddr = `${a}.${b}.${c}.${d + 1}`;
    this.addr = `${a}.${b}.${c}.${d + 2}`;
  }

  /** Make the namespace and the link; throws with the reason (and leaves nothing). */
  static async create(): Promise<SimulatedMachine> {
    const ns = await Netns.create();
    const n = ++counter;
    const tag = `${Deno.pid % 100000}${n}`;
    const hostIf = `slh${tag}`.slice(0, 15);
    const nsIf = `slm${tag}`.slice(0, 15);
    // A random /30 in 10.231.0.0/16, avoiding one already on this host.
    const used = await Deno.readTextFile("/proc/net/fib_trie").catch(() => "");
    let base: number[] = [];
    for (let i = 0; i < 50; i++) {
      const r = crypto.getRandomValues(new Uint16Array(1))[0];
      base = [10, 231, r >> 8, r & 0xfc];
      if (!used.includes(`10.231.${base[2]}.${base[3] + 1}`)) break;
    }
    const m = new SimulatedMachine(ns, hostIf, base);
    try {
      await ip(["link", "add", hostIf, "type", "veth", "peer", "name", nsIf, "netns", ns.name]);
      await ip(["addr", "add", `${m.hostAddr}/30`, "dev", hostIf]);
      await ip(["link", "set", hostIf, "up"]);
      await ip(["-n", ns.name, "addr", "add", `${m.addr}/30`, "dev", nsIf]);
      await ip(["-n", ns.name, "link", "set", nsIf, "up"]);
    } catch (e) {
      await m[Symbol.asyncDispose]();
      throw e;
    }
    return m;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#gone) return;
    this.#gone = true;
    // Deleting the namespace deletes its veth end, and with it this one.
    await this.ns[Symbol.asyncDispose]();
    await ip(["link", "del", this.#hostIf]).catch(() => {});
  }
}
