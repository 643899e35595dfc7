// Reference PMU server for `deno task bench` on Node.js (node:net), written as a Node
// programmer would: one write() per message, end() after the last. Same protocol as
// `socklab pmu` and bench/pmu_server.py:
//   CMD_short:<d>  -> --count messages "This is PMU data <i>", one write each, d s apart
//   CMD_floodme    -> the flood text in one write, then close
//   anything else  -> "Wrong command."
// Usage: node pmu_server.mjs [--host 127.0.0.1] [--port 0] [--count 15] [--flood-bytes 57344]
import net from "node:net";
import { answer, floodText, listening, options } from "./args.mjs";

const o = options();
const count = Number(o.count);
const flood = floodText(Number(o["flood-bytes"]));

function serve(sock) {
  sock.on("error", () => {});
  sock.once("data", (data) =>
    answer(data.toString(), {
      count,
      flood,
      send: (bytes) => sock.write(bytes),
      end: () => sock.end(),
    }));
}

const server = net.createServer(serve);
server.listen(Number(o.port), o.host, 511, () => listening(o.host, server.address().port));
