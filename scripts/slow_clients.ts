/**
 * `deno task slow-clients`: the scoring service against slow clients,
 * measured. It starts `socklab serve` (no workers) on a fresh course,
 * reads the server's memory (VmRSS) and descriptors from /proc, then opens
 * N connections that never finish: half send a request head a line every
 * 8 s, half a whole head then a body a byte every 8 s. Spread over
 * 127.0.0.2... (at most 50 an address, under the cap per address), every
 * one is admitted and must be cut by the service's clocks; from 127.0.0.1
 * alone, all but the cap are refused at once. A well-behaved request is
 * timed during each storm; memory is read before, at the storm's height
 * and once the service let go of every slow client. Loopback only; every
 * connection and process it opens is closed at the end.
 *
 *   deno task slow-clients [--clients 1500] [--per-address 50]
 *
 * @module
 */
import { connect, type Socket } from "node:net";
import { parseArgs } from "node:util";
import { fdCount, sample } from "./chaos/measure.ts";
import { Proc, runSocklab, socklabArgv } from "./lib/proc.ts";
import { markdownTable } from "./lib/markdown.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    clients: { type: "string", default: "1500" },
    "per-address": { type: "string", default: "50" },
    kind: { type: "string", default: "both" },
  },
});
const CLIENTS = Number(values.clients);
const PER_ADDRESS = Number(values["per-address"]);
/** A slow client's pace, ms (the issue's: a byte every 8 s). */
const PACE_MS = 8_000;
/** How long the service idles before memory is read again, ms. */
const IDLE_MS = 30_000;
/** The longest a storm may take before it is ended, ms. */
const STORM_LIMIT_MS = 90_000;

const mib = (kib: number) => (kib / 1024).toFixed(0);

/** One slow client from `from`: a head line (or a body byte) every {@link PACE_MS}. */
function slowClient(port: number, from: string, body: boolean): Promise<Socket> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port, localAddress: from }, () => {
      s.resume(); // read what the server says, to see it close
      s.write(
        body
          ? "POST /login HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\n" +
            "content-length: 100000\r\n\r\nt"
          : "GET / HTTP/1.1\r\nhost: x\r\n",
      );
      const timer = setInterval(() => s.write(body ? "o" : "x-slow: 1\r\n"), PACE_MS);
      s.on("close", () => clearInterval(timer));
      resolve(s);
    });
    s.on("error", () => {});
    s.setTimeout(STORM_LIMIT_MS, () => s.destroy());
  });
}

/** A well-behaved request from `from` (an address no storm uses): its status and time. */
function goodRequest(port: number, from = "127.0.0.250"): Promise<string> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let text = "";
    const s = connect({ host: "127.0.0.1", port, localAddress: from }, () => {
      s.write("GET /login HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n");
    });
    s.setTimeout(30_000, () => s.destroy());
    s.on("data", (d) => text += d.toString());
    s.on("error", () => {});
    s.on("close", () => {
      const status = text.match(/^HTTP\/1\.1 (\d+)/)?.[1] ?? "no answer";
      resolve(`${status} in ${(performance.now() - t0).toFixed(0)} ms`);
    });
  });
}

/** Wait (bounded) until the server's descriptors are back to `target` or below. */
async function settled(pid: number, target: number, limitMs: number): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < limitMs && fdCount(pid) > target) {
    await new Promise((r) => setTimeout(r, 250));
  }
  return performance.now() - t0;
}

async function storm(
  name: string,
  port: number,
  pid: number,
  addresses: (i: number) => string,
): Promise<string[]> {
  const before = sample(pid)!;
  const sockets: Socket[] = [];
  const t0 = performance.now();
  for (let i = 0; i < CLIENTS; i++) {
    const body = values.kind === "both" ? i % 2 === 1 : values.kind === "bodies";
    sockets.push(await slowClient(port, addresses(i), body));
  }
  const opened = performance.now() - t0;
  const good = await goodRequest(port);
  const during = sample(pid)!;
  const ms = await settled(pid, before.fds + 5, STORM_LIMIT_MS);
  const closedByServer = sockets.filter((s) => s.destroyed || s.readableEnded).length;
  // Memory once the slow clients are gone: a few well-behaved requests, then read.
  for (let i = 0; i < 5; i++) await goodRequest(port);
  const after = sample(pid)!;
  for (const s of sockets) s.destroy();
  // Garbage is collected when the process idles (V8's memory reducer): read again later.
  await new Promise((r) => setTimeout(r, IDLE_MS));
  await goodRequest(port);
  const idle = sample(pid)!;
  return [
    name,
    `${mib(before.rssKiB)} MiB, ${before.fds} fds`,
    `${mib(during.rssKiB)} MiB, ${during.fds} fds (peak ${mib(during.hwmKiB)} MiB)`,
    `${mib(after.rssKiB)} MiB, ${after.fds} fds`,
    `${mib(idle.rssKiB)} MiB`,
    `${(ms / 1000).toFixed(1)} s (${closedByServer} of ${CLIENTS} closed by the server)`,
    `${good} (storm opened in ${(opened / 1000).toFixed(1)} s)`,
  ];
}

const dir = await Deno.makeTempDir({ prefix: "socklab-slow-" });
let proc: Proc | undefined;
try {
  const data = `${dir}/course`;
  const init = await runSocklab(["course", "init", "--data", data]);
  if (init.code !== 0) throw new Error(init.stderr);
  proc = new Proc(socklabArgv(["serve", "--data", data, "--port", "0", "--workers", "0"]));
  const m = await proc.stderr.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)/, 30_000);
  const port = Number(m[1]);
  const pid = proc.child.pid;
  for (let i = 0; i < 20; i++) await goodRequest(port); // warm up
  const rows = [
    await storm(
      `${CLIENTS} from ${Math.ceil(CLIENTS / PER_ADDRESS)} addresses`,
      port,
      pid,
      (i) => `127.0.0.${2 + Math.floor(i / PER_ADDRESS)}`,
    ),
    await storm(`${CLIENTS} from 127.0.0.1`, port, pid, () => "127.0.0.1"),
  ];
  console.log(markdownTable(
    [
      "storm",
      "before",
      "during",
      "after",
      `${IDLE_MS / 1000} s later`,
      "all cut within",
      "a good request during",
    ],
    rows,
  ));
  console.log(`\n(Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores)`);
} finally {
  await proc?.stop(10_000);
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
