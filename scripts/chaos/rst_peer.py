#!/usr/bin/env python3
"""Reset peers for the chaos storm: Deno cannot set SO_LINGER, Python can.

usage: rst_peer.py HOST PORT COUNT PAYLOAD_HEX [READ_BYTES [tls]]

COUNT times: connect (with `tls`: then a TLS handshake that trusts anything,
as a hostile client would), send the payload, read up to READ_BYTES (default
1), then close with SO_LINGER {on, 0 s}: the kernel sends a TCP RST instead
of a FIN, in the middle of the server's stream. Every socket has a 5 s
timeout. Prints one line per attempt as it ends (`reset`, or `error
<reason>`), so a caller that has to kill it early still knows what happened.
"""
import socket
import ssl
import struct
import sys


def main() -> int:
    host, port, count, payload = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), bytes.fromhex(sys.argv[4])
    want = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    tls = len(sys.argv) > 6 and sys.argv[6] == "tls"
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    for _ in range(min(count, 10_000)):
        raw = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        raw.settimeout(5)
        s = raw
        try:
            raw.connect((host, port))
            if tls:
                s = ctx.wrap_socket(raw, server_hostname="localhost")
            if payload:
                s.sendall(payload)
            got = 0
            while got < want:
                chunk = s.recv(want - got)
                if not chunk:
                    break
                got += len(chunk)
            # (wrap_socket moved the descriptor from `raw` to `s`)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            print("reset", flush=True)
        except (OSError, ssl.SSLError) as e:
            print(f"error {e!r}", flush=True)
        finally:
            s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
