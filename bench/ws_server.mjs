// Reference WebSocket PMU server for `deno task bench` on Node.js with the `ws` package (the
// one ws-pmu uses on Deno), as bench/ws_server.py: one binary message per PMU message, then
// close. The bench passes ws's folder (Deno's npm cache) in WS_MODULE: nothing is installed.
//   CMD_short:<d>  -> --count messages "This is PMU data <i>", d s apart
//   CMD_floodme    -> one message of --flood-bytes ASCII bytes
//   anything else  -> "Wrong command."
// Usage: WS_MODULE=<dir of ws> node ws_server.mjs [--host 127.0.0.1] [--port 0] [--count 15]
import { createRequire } from "node:module";
import { answer, floodText, listening, options } from "./args.mjs";

const o = options();
const count = Number(o.count);
const flood = floodText(Number(o["flood-bytes"]));
const { WebSocketServer } = createRequire(import.meta.url)(process.env.WS_MODULE);

const wss = new WebSocketServer(
  { host: o.host, port: Number(o.port), maxPayload: 0 },
  () => listening(o.host, wss.address().port),
);
wss.on("connection", (ws) => {
  ws.on("error", () => {});
  ws.once("message", (data) =>
    answer(data.toString(), {
      count,
      flood,
      send: (bytes) => ws.send(bytes),
      end: () => ws.close(),
    }));
});
