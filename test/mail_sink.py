#!/usr/bin/python3
"""SMTP sink for the black-box tests: accepts every message and stores it in a folder.

    mail_sink.py MAILDIR [--port N] [--host 127.0.0.1]

Each message becomes MAILDIR/NNNNNN.eml (numbered in arrival order, written to a temporary
name and renamed, so a reader never sees half a file): the raw message as received, preceded
by two header lines the sink adds, `X-Envelope-From:` and `X-Envelope-To:` (recipients joined
by ", "), so a test can find the mail for an address with the email package alone.
AUTH PLAIN/LOGIN is offered without TLS and accepts any credentials, so a server configured
with MAIL_USERNAME works against it too. Prints `mail_sink listening on HOST:PORT` when ready;
stops on SIGTERM/SIGINT.

Tests may also import it: `start(maildir, port)` returns a running aiosmtpd Controller.
"""
import argparse
import itertools
import logging
import os
import signal
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

# aiosmtpd 1.4 logs a deprecation warning about its own internals on every AUTH
logging.getLogger("mail.log").addFilter(lambda r: "login_data" not in r.getMessage())


class FolderHandler:
    def __init__(self, maildir):
        self.maildir = maildir
        os.makedirs(maildir, exist_ok=True)
        # continue the numbering when the folder already holds mail
        existing = [int(n[:6]) for n in os.listdir(maildir) if n[:6].isdigit()]
        self.counter = itertools.count(max(existing, default=0) + 1)
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        # A test makes the server refuse mail for a while by creating MAILDIR/.refuse:
        # a temporary failure, as a real server under trouble would answer.
        if os.path.exists(os.path.join(self.maildir, ".refuse")):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            n = next(self.counter)
        head = ("X-Envelope-From: %s\r\nX-Envelope-To: %s\r\n"
                % (envelope.mail_from, ", ".join(envelope.rcpt_tos))).encode("utf-8")
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        final = os.path.join(self.maildir, "%06d.eml" % n)
        tmp = os.path.join(self.maildir, ".%06d.tmp" % n)
        with open(tmp, "wb") as f:
            f.write(head + content)
        os.rename(tmp, final)
        return "250 Message accepted for delivery"


def accept_any(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=True)


def start(maildir, port, host="127.0.0.1"):
    controller = Controller(FolderHandler(maildir), hostname=host, port=port,
                            enable_SMTPUTF8=True, authenticator=accept_any,
                            auth_require_tls=False)
    controller.start()
    return controller


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("maildir")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=int(os.environ.get("HG_SMTP_PORT", "2525")))
    args = ap.parse_args()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    controller = start(args.maildir, args.port, args.host)
    print("mail_sink listening on %s:%d, storing in %s" % (args.host, args.port, args.maildir),
          flush=True)
    try:
        while not stop.wait(3600):
            pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
