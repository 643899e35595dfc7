#!/usr/bin/python3
"""The Python WebSocket PDC for `deno task bench` (`websockets` library):
connect, send the command, print each message on its own line until the
server closes.

Usage: /usr/bin/python3 ws_client.py <host> <port> <command>
"""
import asyncio
import sys

import websockets


async def main():
    host, port, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    out = sys.stdout.buffer
    async with websockets.connect("ws://%s:%d/" % (host, port), max_size=None) as ws:
        await ws.send(cmd)
        try:
            async for msg in ws:
                out.write(msg if isinstance(msg, bytes) else msg.encode())
                out.write(b"\n")
        except websockets.ConnectionClosed:
            pass
    out.flush()


if __name__ == "__main__":
    asyncio.run(main())
