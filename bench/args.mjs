// The Node.js anchors' shared bits: `--name value` options with defaults, the PMU's answer, and
// the "listening on" line the bench waits for. Plain Node.js, no dependency.
import { parseArgs } from "node:util";

/** Options `--host`, `--port`, `--count`, `--flood-bytes` (and `extra`), as numbers where numeric. */
export function options(extra = {}) {
  const { values } = parseArgs({
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "0" },
      count: { type: "string", default: "15" },
      "flood-bytes": { type: "string", default: "57344" },
      ...extra,
    },
  });
  return values;
}

/** The flood text of the course's server, `size` bytes. */
export function floodText(size) {
  const line = Buffer.from("But soft! What light through yonder window breaks? It is the east.\n");
  return Buffer.alloc(size, line);
}

/** Tells the bench the port, and stops on SIGTERM/SIGINT. */
export function listening(host, port) {
  for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));
  process.stderr.write(`listening on ${host}:${port}\n`);
}

/**
 * Answers one PMU command: `send(bytes)` per message (then `end()`), the flood or
 * "Wrong command." as one send, then `end()`.
 */
export function answer(command, { count, flood, send, end }) {
  const cmd = command.trim();
  if (!cmd.startsWith("CMD_short:")) {
    send(cmd === "CMD_floodme" ? flood : Buffer.from("Wrong command."));
    return end();
  }
  const ms = Number(cmd.slice("CMD_short:".length)) * 1000;
  let i = 0;
  const next = () => {
    // Without a delay, every message now, in a loop (no recursion 20,000 deep).
    do send(Buffer.from(`This is PMU data ${i++}`)); while (i < count && ms === 0);
    if (i >= count) end();
    else setTimeout(next, ms);
  };
  next();
}
