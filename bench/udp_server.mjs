// Reference UDP PMU server for `deno task bench` on Node.js (node:dgram): RESET:<n> ->
// OFFSET:<x>, x uniform in 0..n; anything else -> "Wrong command.". No loss, and no log line
// per datagram unless --log (then the course server's two lines, as bench/udp_server.py).
// Usage: node udp_server.mjs [--host 127.0.0.1] [--port 0] [--log]
import dgram from "node:dgram";
import { listening, options } from "./args.mjs";

const o = options({ log: { type: "boolean", default: false } });
const sock = dgram.createSocket("udp4");
sock.on("message", (msg, from) => {
  if (o.log) {
    process.stderr.write(
      `Received ${JSON.stringify(msg.toString())} from ${from.address}:${from.port}\n`,
    );
  }
  const m = /^RESET:(\d+)$/.exec(msg.toString());
  const answer = m ? `OFFSET:${Math.floor(Math.random() * (Number(m[1]) + 1))}` : "Wrong command.";
  sock.send(answer, from.port, from.address);
  if (o.log) process.stderr.write("Ack sent!\n");
});
sock.bind(Number(o.port), o.host, () => listening(o.host, sock.address().port));
