#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""A misbehaving QMP peer for migtrace's bad-input tests.

fakeqmp.py SOCKET MODE LOG
  garbage  greet, then answer every command with non-JSON
  stuck    accept and never send anything
  close    greet, then close right after the first command
  huge     greet, then send an endless JSON string (past migtrace's 1 MiB limit)
  good:NAME  a well-behaved idle QEMU named NAME (no vCPU threads, no migration)
Every line received is appended to LOG, so tests can prove migtrace only
ever sent qmp_capabilities and query-* commands.
"""
import json
import os
import socket
import sys
import threading

GREETING = b'{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, "capabilities": []}}\r\n'


def answer(line, name):
    """The reply a QEMU with no vCPU thread and no migration would give."""
    try:
        req = json.loads(line)
    except ValueError:
        return b'{"error": {"class": "GenericError", "desc": "bad json"}}\r\n'
    ret = {"query-name": {"name": name},
           "query-status": {"status": "running", "running": True},
           "query-cpus-fast": []}.get(req.get("execute"), {})
    reply = {"return": ret}
    if "id" in req:
        reply["id"] = req["id"]
    return (json.dumps(reply) + "\r\n").encode()


def serve(conn, mode, log):
    try:
        talk(conn, mode, log)
    except OSError:
        pass  # migtrace hung up on us: that is the point of most modes


def talk(conn, mode, log):
    with conn:
        if mode == "stuck":
            while conn.recv(4096):
                pass
            return
        conn.sendall(GREETING)
        buf = b""
        while True:
            data = conn.recv(4096)
            if not data:
                return
            buf += data
            while b"\n" in buf or buf.strip().endswith(b"}"):
                line, _, buf = buf.partition(b"\n") if b"\n" in buf else (buf, b"", b"")
                if not line.strip():
                    continue
                with open(log, "ab") as f:
                    f.write(line.strip() + b"\n")
                if mode == "close":
                    return
                if mode == "garbage":
                    conn.sendall(b"this is not json at all }}}\r\n")
                if mode.startswith("good:"):
                    conn.sendall(answer(line, mode[5:]))
                if mode == "huge":
                    conn.sendall(b'{"return": "' + b"x" * (2 << 20) + b'"}\r\n')


def main():
    path, mode, log = sys.argv[1], sys.argv[2], sys.argv[3]
    if os.path.exists(path):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(4)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, mode, log), daemon=True).start()


if __name__ == "__main__":
    main()
