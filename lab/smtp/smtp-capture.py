#!/usr/bin/python3
"""A capturing SMTP server for freezer-dr's notifier tests and the lab (python3-aiosmtpd).

Each accepted message is stored in --dir as two files:
  NNNNNN.eml   the DATA exactly as received (headers and body, CRLF line ends)
  NNNNNN.json  the envelope: {"mail_from", "rcpt_tos": [...], "peer", "auth_user", "tls",
               "time", "size"}, and "parsed": the message as Python's email package reads it
               (policy=default): {"headers": {name: [decoded values]}, "content_type", "text",
               "html", "defects": [...]}, so that tests check the MIME with a parser that is not
               theirs. Written last (atomic rename): its presence means complete.

Modes:
  --auth USER:PASS      AUTH required (PLAIN/LOGIN); with --tls only after STARTTLS
  --tls CERT KEY        offer STARTTLS (--require-tls: refuse MAIL before STARTTLS)
  --smtps               implicit TLS on the port (needs --tls)
  --refuse "CODE TEXT"  answer every DATA with this reply, store nothing ("451 4.3.0 busy")
  --reject-rcpt ADDR    refuse RCPT TO for ADDR with 550 (repeatable)
  <dir>/.reply          a file whose first line is a reply: the same as --refuse, read per message
  <dir>/.tempfail-rcpt  addresses, one per line, answered 451 at RCPT TO (read per recipient)

The server binds --listen HOST:PORT (port 0 = any free port), writes the port it got to
--port-file and its PID to --pidfile once it accepts connections, and runs until SIGTERM.
Loopback only: the host must be 127.0.0.1 or ::1.
"""

import argparse
import asyncio
import email
import email.policy
import json
import logging
import os
import signal
import ssl
import sys
import time
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as out:
        out.write(data)
    os.rename(tmp, path)


def parse(content):
    """The message as a mail client would read it, with the parser's complaints."""
    try:
        msg = email.message_from_bytes(content, policy=email.policy.default)
        headers = {}
        for name, value in msg.items():
            headers.setdefault(name, []).append(str(value))
        defects = [repr(d) for d in msg.defects]
        text = html = None
        for part in msg.walk():
            defects.extend(repr(d) for d in part.defects)
            if part.is_multipart():
                continue
            if part.get_content_type() == "text/plain" and text is None:
                text = part.get_content()
            elif part.get_content_type() == "text/html" and html is None:
                html = part.get_content()
        return {"headers": headers, "content_type": msg.get_content_type(), "text": text,
                "html": html, "defects": defects}
    except Exception as error:  # reported to the test, which fails on it
        return {"error": "%s: %s" % (type(error).__name__, error)}


class Capture:
    def __init__(self, directory, refuse, reject_rcpt):
        self.directory = directory
        self.refuse = refuse
        self.reject_rcpt = {a.lower() for a in reject_rcpt}
        # Numbering goes on after the messages already stored: a restarted server must neither
        # overwrite them nor store new ones under numbers a reader has already seen.
        self.count = max((int(name[:-5]) for name in os.listdir(directory)
                          if name.endswith(".json") and name[:-5].isdigit()), default=0)

    def _reply(self):
        if self.refuse:
            return self.refuse
        try:
            with open(os.path.join(self.directory, ".reply"), encoding="utf-8") as f:
                line = f.readline().strip()
                return line or None
        except FileNotFoundError:
            return None

    def _tempfail(self):
        try:
            with open(os.path.join(self.directory, ".tempfail-rcpt"), encoding="utf-8") as f:
                return {line.strip().lower() for line in f if line.strip()}
        except FileNotFoundError:
            return set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.reject_rcpt:
            return "550 5.1.1 <%s>: recipient refused by the test server" % address
        if address.lower() in self._tempfail():
            return "451 4.2.0 <%s>: try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        reply = self._reply()
        if reply:
            return reply
        self.count += 1
        base = os.path.join(self.directory, "%06d" % self.count)
        content = envelope.original_content or envelope.content
        write_atomic(base + ".eml", content)
        auth_user = None
        if isinstance(session.auth_data, LoginPassword):
            auth_user = session.auth_data.login.decode("utf-8", "replace")
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "peer": list(session.peer) if session.peer else None,
            "auth_user": auth_user,
            "tls": session.ssl is not None or server.transport.get_extra_info("sslcontext") is not None,
            "time": time.time(),
            "size": len(content),
            "parsed": parse(content),
        }
        write_atomic(base + ".json", json.dumps(meta).encode("utf-8"))
        return "250 2.0.0 OK stored as %06d" % self.count


def make_authenticator(user, password):
    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode("utf-8", "replace") == user
              and auth_data.password.decode("utf-8", "replace") == password)
        if ok:
            return AuthResult(success=True, handled=True, auth_data=auth_data)
        # handled=False: aiosmtpd answers "535 5.7.8 Authentication credentials invalid".
        return AuthResult(success=False, handled=False)
    return authenticate


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--listen", default="127.0.0.1:0")
    p.add_argument("--dir", required=True)
    p.add_argument("--pidfile")
    p.add_argument("--port-file")
    p.add_argument("--auth", metavar="USER:PASS")
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--require-tls", action="store_true")
    p.add_argument("--smtps", action="store_true")
    p.add_argument("--refuse", metavar="REPLY")
    p.add_argument("--reject-rcpt", action="append", default=[])
    args = p.parse_args()
    # aiosmtpd's own deprecation chatter is noise in the tests' logs.
    warnings.simplefilter("ignore")
    logging.getLogger("mail.log").setLevel(logging.ERROR)

    host, _, port = args.listen.rpartition(":")
    host = host.strip("[]")
    if host not in ("127.0.0.1", "::1", "localhost"):
        sys.exit("smtp-capture: loopback addresses only, got %r" % host)
    if args.smtps and not args.tls:
        sys.exit("smtp-capture: --smtps needs --tls CERT KEY")
    os.makedirs(args.dir, exist_ok=True)

    tls_context = None
    if args.tls:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(args.tls[0], args.tls[1])

    kwargs = {"hostname": "smtp-capture.test", "data_size_limit": 10 * 1024 * 1024,
              "enable_SMTPUTF8": True}
    if tls_context and not args.smtps:
        kwargs["tls_context"] = tls_context
        kwargs["require_starttls"] = args.require_tls
    if args.auth:
        user, _, password = args.auth.partition(":")
        kwargs["authenticator"] = make_authenticator(user, password)
        kwargs["auth_required"] = True
        # With implicit TLS the whole session is encrypted: aiosmtpd only knows about STARTTLS.
        kwargs["auth_require_tls"] = bool(tls_context) and not args.smtps
    else:
        kwargs["auth_require_tls"] = False

    handler = Capture(args.dir, args.refuse, args.reject_rcpt)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(loop.create_server(
        lambda: SMTP(handler, loop=loop, **kwargs), host=host, port=int(port or 0),
        ssl=tls_context if args.smtps else None))
    bound = server.sockets[0].getsockname()[1]
    if args.pidfile:
        write_atomic(args.pidfile, ("%d\n" % os.getpid()).encode())
    if args.port_file:
        write_atomic(args.port_file, ("%d\n" % bound).encode())
    print("smtp-capture: listening on %s:%d, storing in %s" % (host, bound, args.dir), flush=True)

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.run_until_complete(stop.wait())
    server.close()
    loop.run_until_complete(server.wait_closed())
    loop.close()


if __name__ == "__main__":
    main()
