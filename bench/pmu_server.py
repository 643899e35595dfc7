#!/usr/bin/env python3
"""Reference PMU server for `deno task bench`, written the way the course's
students and TAs write it: one thread per connection, blocking sockets, one
send() per message, no framework. Same protocol as `socklab pmu`:

  CMD_short:<d>  -> n messages "This is PMU data <i>", one send() each, d s apart
  CMD_floodme    -> one large ASCII text in one sendall(), then close
  anything else  -> "Wrong command."

Usage: python3 pmu_server.py [--host 127.0.0.1] [--port 0] [--count 15]
                             [--flood-bytes 57344] [--backlog 128]
Prints "listening on <host>:<port>" to stderr once ready; SIGTERM stops it.
"""
import argparse
import signal
import socket
import sys
import threading
import time


def flood_text(size):
    line = b"But soft! What light through yonder window breaks? It is the east.\n"
    reps = size // len(line) + 1
    return (line * reps)[:size]


def handle(conn, count, flood):
    try:
        data = conn.recv(1024)
        cmd = data.decode(errors="replace").strip()
        if cmd.startswith("CMD_short:"):
            d = float(cmd[len("CMD_short:"):])
            for i in range(count):
                conn.send(("This is PMU data %d" % i).encode())
                if d:
                    time.sleep(d)
        elif cmd == "CMD_floodme":
            conn.sendall(flood)
        else:
            conn.send(b"Wrong command.")
    except (OSError, ValueError):
        pass
    finally:
        conn.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--count", type=int, default=15)
    p.add_argument("--flood-bytes", type=int, default=57344)
    p.add_argument("--backlog", type=int, default=128)
    args = p.parse_args()
    flood = flood_text(args.flood_bytes)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((args.host, args.port))
    s.listen(args.backlog)
    print("listening on %s:%d" % s.getsockname(), file=sys.stderr, flush=True)
    served = 0
    try:
        while True:
            conn, _ = s.accept()
            served += 1
            threading.Thread(target=handle, args=(conn, args.count, flood), daemon=True).start()
    finally:
        print("served %d connections" % served, file=sys.stderr, flush=True)
        s.close()


if __name__ == "__main__":
    main()
