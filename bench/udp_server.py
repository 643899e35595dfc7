#!/usr/bin/env python3
"""Reference UDP PMU server for `deno task bench`, the course's loop
(run_dual_server's p3server, IPv4): RESET:<n> -> OFFSET:<x>, x uniform in 0..n,
anything else -> "Wrong command.", each answer dropped with probability --drop.
Logs each datagram on stderr like the course server ("Received <data> from
<addr>", then "Ack sent!" or "Ignoring message from <addr>"); --quiet does not.

Usage: python3 udp_server.py [--host 127.0.0.1] [--port 0] [--drop 0] [--quiet]
Prints "listening on <host>:<port>" to stderr once ready; SIGTERM stops it.
"""
import argparse
import random
import signal
import socket
import sys


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--drop", type=float, default=0.0)
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((args.host, args.port))
    print("listening on %s:%d" % s.getsockname(), file=sys.stderr, flush=True)
    answered = 0
    try:
        while True:
            data, addr = s.recvfrom(1024)
            if not args.quiet:
                print("Received %r from %s" % (data, addr), file=sys.stderr, flush=True)
            if random.random() < args.drop:
                if not args.quiet:
                    print("Ignoring message from %s" % (addr,), file=sys.stderr, flush=True)
                continue
            text = data.decode(errors="replace")
            if text.startswith("RESET:") and text[6:].isdigit():
                reply = "OFFSET:%d" % random.randint(0, int(text[6:]))
            else:
                reply = "Wrong command."
            s.sendto(reply.encode(), addr)
            answered += 1
            if not args.quiet:
                print("Ack sent!", file=sys.stderr, flush=True)
    finally:
        print("answered %d requests" % answered, file=sys.stderr, flush=True)
        s.close()


if __name__ == "__main__":
    main()
