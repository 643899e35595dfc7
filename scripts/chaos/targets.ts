/**
 * The storms, one per server: which hostile kinds, how many of each, and the
 * good exchange checked against the server's own client code. `scale` 1 is
 * the full run of `deno task chaos`; the test suite runs a reduced storm.
 *
 * @module
 */
import { echoExchange } from "../../mod/tcp/echo.ts";
import {
  closeAfterConnect,
  connectAndStall,
  type Endpoint,
  mebibyteNoTerminator,
  neverRead,
  randomGarbage,
  resetMidStream,
  stallMidCommand,
} from "./peers.ts";
import type { Kind, StormSpec } from "./storm.ts";

export interface Scale {
  /** Multiplies every kind's count (at least 1 of each). */
  peers: number;
  /** How long stalling peers hold, ms. */
  holdMs: number;
  /** Storm time limit, ms. */
  stormMs: number;
  goodMax: number;
  goodMin: number;
}

export const FULL: Scale = { peers: 1, holdMs: 3_000, stormMs: 25_000, goodMax: 400, goodMin: 20 };
export const REDUCED: Scale = {
  peers: 0.15,
  holdMs: 1_000,
  stormMs: 6_000,
  goodMax: 60,
  goodMin: 5,
};

function kinds(scale: Scale, list: [string, number, Kind["peer"]][]): Kind[] {
  return list.map(([name, count, peer]) => ({
    name,
    count: Math.max(1, Math.round(count * scale.peers)),
    peer,
  }));
}

/** A printable message of random length for the echo check. */
function echoMessage(i: number): string {
  const n = 1 + ((i * 7919) % 3000);
  let s = "";
  for (let k = 0; s.length < n; k++) s += `msg${i}-${k} `;
  return s.slice(0, n);
}

/** Code D against echo-server: what comes back is what was sent. */
async function goodEcho(ep: Endpoint, i: number): Promise<string | null> {
  const conn = await Deno.connect(ep);
  try {
    const msg = echoMessage(Math.max(0, i));
    const got = await echoExchange(conn, msg, () => {}, 8);
    return got === msg ? null : `echo differs (${got.length} of ${msg.length} chars)`;
  } finally {
    conn.close();
  }
}

/** socklab echo-server (part 1.2): proves the harness on a server that exists on main. */
export function echoStorm(scale: Scale, seed = 1): StormSpec {
  return {
    name: "echo-server",
    argv: ["echo-server", "--host", "127.0.0.1"],
    hostname: "127.0.0.1",
    kinds: kinds(scale, [
      ["random bytes", 60, randomGarbage],
      ["1 MiB, no terminator", 8, mebibyteNoTerminator],
      ["connect and stall", 40, connectAndStall],
      ["stall mid-command", 40, stallMidCommand("Oh Rom")],
      ["close after connect", 80, closeAfterConnect],
      ["reset mid-stream", 40, resetMidStream("Oh Romeo, Romeo! wherefore art thou Romeo?", 8)],
      ["never read", 10, neverRead("", true)],
    ]),
    good: goodEcho,
    goodWorkers: 3,
    goodMax: scale.goodMax,
    goodMin: scale.goodMin,
    concurrency: 40,
    holdMs: scale.holdMs,
    stormMs: scale.stormMs,
    seed,
  };
}
