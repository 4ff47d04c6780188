#!/usr/bin/python3
"""Stands for a fake compute host's network presence: listens on TCP ADDR:PORT for every address
given (the host's management and storage addresses) and accepts and closes every connection, as
an SSH or libvirt port would. freezer-dr's probe monitor connects to them; stopping this process
(lab/host.sh stop-service) makes them refuse connections, as a stopped service's ports do (a
crash, lab/host.sh kill, also drops every packet to the host's addresses).

usage: probe-listener.py PORT ADDR [ADDR...]     (loopback addresses only; runs until killed)
"""

import selectors
import socket
import sys


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        port = int(sys.argv[1])
    except ValueError:
        print(f"probe-listener: bad port {sys.argv[1]!r}", file=sys.stderr)
        return 2
    sel = selectors.DefaultSelector()
    for addr in sys.argv[2:]:
        if not addr.startswith("127."):
            print(f"probe-listener: {addr} is not a loopback address", file=sys.stderr)
            return 2
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((addr, port))
        except OSError as e:
            print(f"probe-listener: cannot bind {addr}:{port}: {e}", file=sys.stderr)
            return 1
        s.listen(64)
        sel.register(s, selectors.EVENT_READ)
        print(f"probe-listener: listening on {addr}:{port}", flush=True)
    while True:
        for key, _ in sel.select():
            try:
                conn, _peer = key.fileobj.accept()
                conn.close()
            except OSError as e:  # the peer gave up before accept: nothing to do but log it
                print(f"probe-listener: accept: {e}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
