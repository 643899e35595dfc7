/**
 * Fair sharing of a server's connections: at most `max` at once in all, and at most
 * `perPeer` from any one address, so that one student's runaway script (or one attacker)
 * cannot take every slot from the rest of the class. pmu, secure-pmu and ws-pmu (and the
 * chaos storm's expectations) all count with this one class.
 *
 * @module
 */

/** Connections a server serves at once by default: the lab's 200 students, with room. */
export const DEFAULT_MAX_CONNECTIONS = 512;

/**
 * The per-address cap when none is given: an eighth of the total (64 of 512), at least 8
 * (and no more than the total). Students behind one address (one shared machine, one NAT)
 * share it: raise it with `--max-per-peer`.
 */
export function defaultPerPeer(max: number): number {
  return Math.min(max, Math.max(8, Math.ceil(max / 8)));
}

/**
 * Seconds a `CMD_short` session may last by default (pmu, secure-pmu, ws-pmu): 5 minutes
 * (`CMD_short:15` x 20 fits), so that one client cannot hold a slot for hours.
 */
export const DEFAULT_SESSION_LIMIT = 300;

/** A connection's place; release it once, when the connection is gone. */
export interface Slot {
  release(): void;
}

/** Counts open connections in all and per address; see the module doc. */
export class ConnectionLimits {
  readonly max: number;
  /** 0: no per-address cap. */
  readonly perPeer: number;
  #open = 0;
  #byPeer = new Map<string, number>();

  constructor(max: number, perPeer = defaultPerPeer(max)) {
    this.max = max;
    this.perPeer = perPeer;
  }

  /** Connections holding a slot now. */
  get open(): number {
    return this.#open;
  }

  /** Connections from `host` holding a slot now. */
  from(host: string): number {
    return this.#byPeer.get(host) ?? 0;
  }

  /**
   * A slot for a new connection from `host`, or why there is none (one line for the log:
   * `512 connections already open (--max-connections 512)`).
   */
  admit(host: string): Slot | string {
    if (this.#open >= this.max) {
      return `${this.max} connections already open (--max-connections ${this.max})`;
    }
    const mine = this.from(host);
    if (this.perPeer > 0 && mine >= this.perPeer) {
      return `${mine} connections already open from ${host} (--max-per-peer ${this.perPeer})`;
    }
    this.#open++;
    this.#byPeer.set(host, mine + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.#open--;
        const n = this.from(host) - 1;
        if (n > 0) this.#byPeer.set(host, n);
        else this.#byPeer.delete(host);
      },
    };
  }
}

/** The soft limit on open descriptors of this process (RLIMIT_NOFILE), or null if unknown. */
export function descriptorLimit(): number | null {
  try {
    const m = Deno.readTextFileSync("/proc/self/limits").match(/^Max open files\s+(\d+)/m);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}
