#!/usr/bin/env python3
"""The plain Python client a student writes for CMD_floodme: connect, send the
command, recv() until the server closes, write what came to stdout.

Usage: python3 recv_loop.py <host> <port> <command> [--bufsize 65536]
"""
import socket
import sys


def main():
    host, port, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    bufsize = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == "--bufsize" else 65536
    out = sys.stdout.buffer
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.connect((host, port))
    s.sendall(cmd.encode())
    while True:
        data = s.recv(bufsize)
        if not data:
            break
        out.write(data)
    out.flush()
    s.close()


if __name__ == "__main__":
    main()
