/**
 * The runtime's floor for `deno task bench`: the least a Deno PMU server can do with the
 * same bytes on the wire as `socklab pmu` (one write per message, then close), and nothing
 * else: no limits, no timeouts, no log, no graceful close. What socklab pmu costs above it
 * is socklab's own.
 *
 *   CMD_short:<d>  -> --count messages "This is PMU data <i>", one awaited write each
 *   CMD_floodme    -> the flood text in one write, then close
 *   anything else  -> "Wrong command."
 *
 * Usage: deno run -A bench/floor_pmu.ts [--host 127.0.0.1] [--port 0] [--count 15]
 *        [--flood-bytes 57344]
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
    count: { type: "string", default: "15" },
    "flood-bytes": { type: "string", default: "57344" },
  },
});
const enc = new TextEncoder();
const dec = new TextDecoder();
const messages = Array.from(
  { length: Number(values.count) },
  (_, i) => enc.encode(`This is PMU data ${i}`),
);
const line = "But soft! What light through yonder window breaks? It is the east.\n";
const floodBytes = Number(values["flood-bytes"]);
const flood = enc.encode(line.repeat(Math.ceil(floodBytes / line.length)).slice(0, floodBytes));
const wrong = enc.encode("Wrong command.");

async function writeAll(conn: Deno.Conn, data: Uint8Array) {
  for (let off = 0; off < data.length;) off += await conn.write(data.subarray(off));
}

async function session(conn: Deno.Conn) {
  const buf = new Uint8Array(1024);
  try {
    const n = await conn.read(buf);
    const cmd = dec.decode(buf.subarray(0, n ?? 0)).trim();
    if (cmd.startsWith("CMD_short:")) {
      const ms = Number(cmd.slice("CMD_short:".length)) * 1000;
      for (let i = 0; i < messages.length; i++) {
        if (i > 0 && ms > 0) await new Promise((r) => setTimeout(r, ms));
        await writeAll(conn, messages[i]);
      }
    } else if (cmd === "CMD_floodme") await writeAll(conn, flood);
    else await writeAll(conn, wrong);
  } catch {
    /* the client left */
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

const listener = Deno.listen({ hostname: values.host, port: Number(values.port) });
for (const sig of ["SIGTERM", "SIGINT"] as const) Deno.addSignalListener(sig, () => Deno.exit(0));
console.error(`listening on ${values.host}:${(listener.addr as Deno.NetAddr).port}`);
for await (const conn of listener) session(conn);
