/**
 * Part 4's server, the "Swisscom TV" (the course's p4bot.py): every interval
 * it multicasts its ID followed by the next line of its script; after the
 * last line it sends `<id>RWND`, pauses 3 intervals and starts again.
 *
 * @module
 */
import { hostPort } from "../net/address.ts";
import { type Server, serverHandle } from "../net/server.ts";
import { type Emission, encodeDatagram, programme } from "./datagram.ts";
import { openMulticastSender } from "./sender.ts";
import { errorMessage } from "../errors.ts";

export interface TvOptions {
  group: string;
  port: number;
  /** The 6-character ID that starts every datagram. */
  id: string;
  /** Seconds between two datagrams (fractions allowed). */
  interval: number;
  ttl: number;
  /** The script's lines (blank lines go out as the bare ID). */
  lines: readonly string[];
  /** Local IPv4 address to send from; default: the routing table decides. */
  iface?: string;
  /** Called with every datagram sent (its text), and with send failures. */
  log?: (line: string) => void;
}

/**
 * Start broadcasting. The first datagram is sent before this resolves, so a
 * group that cannot be reached (no multicast route) is a RunError at start.
 */
export async function startTv(opts: TvOptions): Promise<Server> {
  const log = opts.log ?? (() => {});
  const sender = await openMulticastSender(opts);
  const loop: Emission[] = programme(opts.lines);
  const intervalMs = opts.interval * 1000;
  let sent = 0;
  let loops = 0;
  const stopping = new AbortController();
  let wake: (() => void) | undefined;

  const emit = async (e: Emission) => {
    await sender.send(encodeDatagram(opts.id, e.text));
    sent++;
    log(`sent: ${opts.id}${e.text}`);
  };
  const sleepUntil = (t: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        wake = undefined;
        resolve();
      }, Math.max(0, t - Date.now()));
      wake = () => {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      };
    });

  try {
    await emit(loop[0]);
  } catch (e) {
    sender.close();
    throw e;
  }

  const closed = (async () => {
    // Deadlines from the start, so the rhythm does not drift; after a stall
    // (a loaded machine) it starts counting again instead of bursting.
    let next = Date.now();
    let i = 0;
    while (!stopping.signal.aborted) {
      next += loop[i].wait * intervalMs;
      if (Date.now() > next + intervalMs) next = Date.now();
      await sleepUntil(next);
      if (stopping.signal.aborted) break;
      i = (i + 1) % loop.length;
      if (i === 0) loops++;
      try {
        await emit(loop[i]);
      } catch (e) {
        log(`${errorMessage(e)}; going on`);
      }
    }
    sender.close();
  })();

  return serverHandle({
    name: "tv",
    address: hostPort(opts.group, opts.port),
    port: opts.port,
    closed,
    stopping,
    stop: () => wake?.(),
    summary: () =>
      `sent ${sent} datagram(s), ${loops} complete loop(s) of ${opts.lines.length} line(s)`,
  });
}
