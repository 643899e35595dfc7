/**
 * The runtime's floor for `deno task bench`: the least a Deno UDP PMU server can do with the
 * same datagrams as `socklab pmu-udp --drop 0` (RESET:<n> -> OFFSET:<x>, x uniform in
 * 0..n; anything else -> "Wrong command."), one receive (into one reused buffer) and one send
 * each, nothing else: no log, no loss, no statistics. What pmu-udp costs above it is socklab's
 * own.
 *
 * Usage: deno run -A --unstable-net bench/floor_udp.ts [--host 127.0.0.1] [--port 0]
 * Prints "listening on <host>:<port>" to stderr once ready; SIGTERM stops it.
 *
 * @module
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "0" },
  },
});
const enc = new TextEncoder();
const dec = new TextDecoder();
const sock = Deno.listenDatagram({
  transport: "udp",
  hostname: values.host,
  port: Number(values.port),
});
for (const sig of ["SIGTERM", "SIGINT"] as const) Deno.addSignalListener(sig, () => Deno.exit(0));
console.error(`listening on ${values.host}:${(sock.addr as Deno.NetAddr).port}`);
// One buffer for every datagram: receive() without one allocates 64 KiB each time.
const buf = new Uint8Array(65_535);
for (;;) {
  const [data, from] = await sock.receive(buf);
  const text = dec.decode(data);
  const n = /^RESET:(\d+)$/.exec(text);
  const answer = n ? `OFFSET:${Math.floor(Math.random() * (Number(n[1]) + 1))}` : "Wrong command.";
  await sock.send(enc.encode(answer), from);
}
