#!/usr/bin/python3
"""A webhook receiver for the webhook notifier's tests (Python's http.server, loopback only).

Each request is stored in --dir as NNNNNN.json: {"method", "path", "headers": {lower-case name:
value}, "body" (text), "signature_valid" (with --secret: whether X-Freezer-Signature is the
HMAC-SHA256 of the body; null without one)}, written (atomic rename) before the response goes
out. The response status is --status, or the first line of <dir>/.status when that file exists.
--tls CERT KEY serves HTTPS. Prints "listening on 127.0.0.1:PORT" once it accepts connections
(port 0 = any free port) and runs until SIGTERM.
"""

import argparse
import hashlib
import hmac
import http.server
import json
import os
import signal
import ssl
import sys


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", default="127.0.0.1:0")
    p.add_argument("--dir", required=True)
    p.add_argument("--status", type=int, default=200)
    p.add_argument("--secret")
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    args = p.parse_args()
    host, _, port = args.listen.rpartition(":")
    if host not in ("127.0.0.1", "localhost"):
        sys.exit("webhook_receiver: loopback only")
    os.makedirs(args.dir, exist_ok=True)
    count = [0]

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, fmt, *a):
            sys.stderr.write("webhook_receiver: " + (fmt % a) + "\n")

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            valid = None
            if args.secret is not None:
                expected = "sha256=" + hmac.new(args.secret.encode(), body,
                                                hashlib.sha256).hexdigest()
                valid = hmac.compare_digest(expected, self.headers.get("X-Freezer-Signature", ""))
            count[0] += 1
            path = os.path.join(args.dir, "%06d.json" % count[0])
            record = {"method": self.command, "path": self.path,
                      "headers": {k.lower(): v for k, v in self.headers.items()},
                      "body": body.decode("utf-8", "replace"), "signature_valid": valid}
            with open(path + ".tmp", "w", encoding="utf-8") as out:
                json.dump(record, out)
            os.rename(path + ".tmp", path)
            status = args.status
            try:
                with open(os.path.join(args.dir, ".status"), encoding="utf-8") as f:
                    status = int(f.readline().strip() or status)
            except FileNotFoundError:
                pass
            reply = b'{"ok": true}' if status < 300 else b'{"message": "refused by the test"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

    server = http.server.HTTPServer((host, int(port or 0)), Handler)
    if args.tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls[0], args.tls[1])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("listening on %s:%d" % (host, server.server_address[1]), flush=True)
    try:
        server.serve_forever()
    except SystemExit:
        pass


if __name__ == "__main__":
    main()
