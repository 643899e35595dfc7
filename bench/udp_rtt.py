#!/usr/bin/env python3
"""The Python PDC of part 3 as a student writes it, timed: per exchange a new
UDP socket, sendto RESET:20, recvfrom with a 1 s timeout (retransmit on
timeout), close. Runs --runs exchanges (bounded by --seconds) and prints the
round-trip times in milliseconds as one JSON line.

Usage: python3 udp_rtt.py <host> <port> [--runs 2000] [--seconds 5]
"""
import argparse
import json
import socket
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--runs", type=int, default=2000)
    p.add_argument("--seconds", type=float, default=5.0)
    a = p.parse_args()
    to = (a.host, a.port)
    times = []
    attempts = 0
    deadline = time.perf_counter() + a.seconds
    while len(times) < a.runs and time.perf_counter() < deadline:
        t0 = time.perf_counter()
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(1.0)
        while True:
            attempts += 1
            s.sendto(b"RESET:20", to)
            try:
                data, _ = s.recvfrom(1024)
            except socket.timeout:
                if time.perf_counter() > deadline + 3:
                    raise SystemExit("no answer from %s:%d" % to)
                continue
            if data.startswith(b"OFFSET"):
                break
        s.close()
        times.append((time.perf_counter() - t0) * 1000)
    print(json.dumps({"ms": times, "attempts": attempts}))


if __name__ == "__main__":
    main()
