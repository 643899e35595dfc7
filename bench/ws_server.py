#!/usr/bin/python3
"""Reference WebSocket PMU server for `deno task bench`, on the `websockets`
library (Debian's python3-websockets, hence /usr/bin/python3): one message
per PMU message, binary frames like the course's server, then close.

  CMD_short:<d>  -> --count messages "This is PMU data <i>", d s apart
  CMD_floodme    -> one message of --flood-bytes ASCII bytes
  anything else  -> "Wrong command."

Usage: /usr/bin/python3 ws_server.py [--host 127.0.0.1] [--port 0] [--count 15]
Prints "listening on <host>:<port>" to stderr once ready; SIGTERM stops it.
"""
import argparse
import asyncio
import signal
import sys

import websockets


def flood_text(size):
    line = b"But soft! What light through yonder window breaks? It is the east.\n"
    return (line * (size // len(line) + 1))[:size]


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--count", type=int, default=15)
    p.add_argument("--flood-bytes", type=int, default=57344)
    args = p.parse_args()
    flood = flood_text(args.flood_bytes)

    async def pmu(ws, path=None):
        try:
            cmd = await ws.recv()
            if isinstance(cmd, bytes):
                cmd = cmd.decode(errors="replace")
            cmd = cmd.strip()
            if cmd.startswith("CMD_short:"):
                d = float(cmd[len("CMD_short:"):])
                for i in range(args.count):
                    await ws.send(("This is PMU data %d" % i).encode())
                    if d:
                        await asyncio.sleep(d)
            elif cmd == "CMD_floodme":
                await ws.send(flood)
            else:
                await ws.send(b"Wrong command.")
        except (websockets.ConnectionClosed, ValueError):
            pass

    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with websockets.serve(pmu, args.host, args.port, max_size=None) as server:
        host, port = server.sockets[0].getsockname()[:2]
        print("listening on %s:%d" % (host, port), file=sys.stderr, flush=True)
        await stop
    print("stopped", file=sys.stderr, flush=True)


if __name__ == "__main__":
    asyncio.run(main())
