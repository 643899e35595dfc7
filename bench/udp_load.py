#!/usr/bin/env python3
"""UDP load client for `deno task bench` (lighter per datagram than a Deno
one, so that the server is what is measured): keeps --window requests
RESET:20 in flight to <host>:<port>, checks every answer is OFFSET:<0..20>,
stops after --seconds or --max answers. Prints one JSON line.

Usage: python3 udp_load.py <host> <port> [--window 32] [--seconds 3] [--max 1000000]
"""
import argparse
import json
import re
import socket
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--window", type=int, default=32)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--max", type=int, default=1000000)
    a = p.parse_args()
    ok = re.compile(rb"^OFFSET[:=](\d+)$")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.2)
    to = (a.host, a.port)
    req = b"RESET:20"
    answered = bad = timeouts = sent = 0
    problem = None
    start = time.perf_counter()
    deadline = start + a.seconds
    for _ in range(a.window):
        s.sendto(req, to)
        sent += 1
    n = 0
    while answered + bad < a.max:
        n += 1
        if n & 255 == 0 and time.perf_counter() >= deadline:
            break
        try:
            data = s.recv(64)
        except socket.timeout:
            timeouts += 1
            if time.perf_counter() >= deadline:
                break
            for _ in range(a.window):
                s.sendto(req, to)
                sent += 1
            continue
        m = ok.match(data)
        if m and int(m.group(1)) <= 20:
            answered += 1
        else:
            bad += 1
            problem = problem or repr(data[:40])
        s.sendto(req, to)
        sent += 1
    elapsed = time.perf_counter() - start
    s.close()
    print(json.dumps({"answered": answered, "bad": bad, "timeouts": timeouts,
                      "elapsedMs": elapsed * 1000, "rate": answered / elapsed,
                      "firstProblem": problem}))


if __name__ == "__main__":
    main()
