"""Reading the mail that test/mail_sink.py stores: one NNNNNN.eml file per message in a folder
($HG_MAILDIR under scripts/test), numbered in arrival order, each starting with the sink's own
X-Envelope-From / X-Envelope-To lines.

    box = Mailbox(maildir)              # or Mailbox() for $HG_MAILDIR
    msg = box.wait_for(address)         # the newest mail to address (polls; None on timeout)
    subject(msg), body_text(msg), code_in(msg)

Addresses are compared whole and case-insensitively (never as substrings), so a fresh random
address per test keeps tests apart. Only the standard library is used.
"""
import email
import email.header
import email.policy
import os
import re
import time

CODE_RE = re.compile(r"(?<![\w.+-])(\d{6})(?!\w)")
ADDRESS_RE = re.compile(r"[\w.+-]+@[\w.-]+")


def _addresses(value):
    """The bare addresses in an address header value, lower-case."""
    out = set()
    for part in (value or "").split(","):
        part = part.strip()
        if "<" in part and ">" in part:
            part = part[part.index("<") + 1:part.index(">")]
        part = part.strip().strip("<>").lower()
        if part:
            out.add(part)
    return out


def subject(msg):
    """The Subject header decoded (RFC 2047 encoded words joined) to text."""
    raw = msg.get("Subject")
    if raw is None:
        return None
    return str(email.header.make_header(email.header.decode_header(str(raw))))


def body_text(msg):
    """The text/plain body, transfer-decoded and charset-decoded."""
    part = msg
    if msg.is_multipart():
        for p in msg.walk():
            if p.get_content_type() == "text/plain":
                part = p
                break
        else:
            raise AssertionError("no text/plain part in %r" % msg)
    data = part.get_payload(decode=True) or b""
    return data.decode(part.get_content_charset() or "utf-8")


def code_in(msg):
    """The 6-digit code in the mail's body (the only 6-digit number there, e-mail addresses aside);
    None when there is none."""
    codes = set(CODE_RE.findall(ADDRESS_RE.sub(" ", body_text(msg))))
    if not codes:
        return None
    assert len(codes) == 1, "several 6-digit numbers in the mail: %r" % body_text(msg)
    return codes.pop()


class Mailbox:
    def __init__(self, maildir=None):
        self.maildir = maildir or os.environ.get("HG_MAILDIR")
        assert self.maildir, "no mail folder (HG_MAILDIR)"

    def _files(self):
        try:
            names = os.listdir(self.maildir)
        except FileNotFoundError:
            return []
        return sorted(n for n in names if n.endswith(".eml") and n[:6].isdigit())

    def all_to(self, address):
        """Every mail to address, oldest first, as email.message.Message objects."""
        want = address.lower()
        found = []
        for name in self._files():
            with open(os.path.join(self.maildir, name), "rb") as f:
                msg = email.message_from_bytes(f.read(), policy=email.policy.compat32)
            rcpts = _addresses(msg.get("X-Envelope-To")) or _addresses(msg.get("To"))
            if want in rcpts:
                msg.path = os.path.join(self.maildir, name)
                found.append(msg)
        return found

    def newest_to(self, address):
        got = self.all_to(address)
        return got[-1] if got else None

    def count_to(self, address):
        return len(self.all_to(address))

    def wait_for(self, address, count=1, timeout=5.0):
        """Poll until at least count mails to address arrived; the newest one, or None on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.all_to(address)
            if len(got) >= count:
                return got[-1]
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)

    def wait_code(self, address, count=1, timeout=5.0):
        """The 6-digit code of the count-th mail to address (fails when it does not arrive)."""
        msg = self.wait_for(address, count, timeout)
        assert msg is not None, "no mail #%d to %s within %ss (have %d)" % (
            count, address, timeout, self.count_to(address))
        code = code_in(msg)
        assert code, "no 6-digit code in the mail to %s: %r" % (address, body_text(msg))
        return code

    def stays(self, address, count, seconds):
        """True when exactly count mails to address are there now and still after seconds."""
        deadline = time.monotonic() + seconds
        while True:
            n = self.count_to(address)
            if n != count:
                return False
            if time.monotonic() >= deadline:
                return True
            time.sleep(0.1)
