"""Real IMAP and SMTP servers for tests: a pytest plugin, loaded with pytest_plugins in conftest.py.

Fixtures:
    mail_servers (session)  MailServers: ports, hosts and helpers; starts scripts/mailserver if nothing
                            answers yet and stops at the end only what it started itself.
    clean_mail (function)   CleanMail: the same helpers plus ``address()``, which hands out addresses
                            no other test (in this run or an earlier one) has used.
    mailbox_factory         ``clean_mail.address``, as a fixture of its own:
                            ``mailbox_factory("cld")`` -> "cld-3fa9c17-1@office.example".
    faulty_smtp (function)  FaultySMTPServer relaying to Dovecot's LMTP, with ``.mode`` for fault injection,
                            reset to mode "ok", stage "rcpt" and zero counters for every test.

Isolation: every test gets its own addresses (a random per-run tag plus a counter in the local part),
so no test ever sees another test's mail and nothing has to be wiped while Dovecot runs. Plus
addressing works on them: ``cld-3fa9c17-1+TOKEN@office.example`` lands in ``cld-3fa9c17-1``'s INBOX. When
the test ends, the Maildirs of its addresses are removed (best effort): Dovecot copes, and a later
delivery to the same address simply creates a new one. Wiping the whole store between tests would
also work but races with deliveries still queued in Postfix from the test before.

Set CLD_TEST_KEEP_MAILSERVERS=1 to leave servers that the session started running afterwards.

Measured on the 2-core dev machine (Dovecot 2.3.19, Postfix 3.7; noisy, +-30 %):
    scripts/mailserver start: 0.2-0.3 s cold (0.01 s when already running); stop 0.1 s.
    One message SMTP -> Postfix -> LMTP -> Dovecot -> readable over IMAP: ~0.02 s median, 0.05 s max.
    500 messages of 3.3 KB: Postfix accepts 420-510/s on one connection, all readable at 270-420/s;
    IMAP APPEND 600/s on one connection (1,100-1,700/s for 200), bulk FETCH 12-13k/s; so seed
    mailboxes with ``append`` and send through SMTP only what the test is about.
    faulty_smtp starts, or comes back from "refuse", in a few milliseconds.
    Re-run: CLD_BENCH_MESSAGES=500 pytest tests/integration/test_mailservers.py -k throughput -s
Trap: in a long IMAP session Dovecot's STATUS on an unselected folder can keep an old count after a
burst of concurrent LMTP deliveries (seen stuck at 107 of 200); SELECT/EXAMINE resyncs, so
``wait_for_messages`` re-EXAMINEs and production pollers should not trust STATUS alone either.
"""

from __future__ import annotations

import email.message
import email.policy
import itertools
import os
import re
import secrets
import shutil
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from imap_tools import MailBoxUnencrypted, MailMessage
from imap_tools.utils import encode_folder

from tests.support.faulty_smtp import FaultySMTPServer

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "mailserver"
INSTALL_SCRIPT = "scripts/install-mailservers"
PASSWORD = "test"
DEFAULT_SENDER = "tester@example.test"

Raw = bytes | str | email.message.Message


def _crlf(raw: Raw) -> bytes:
    if isinstance(raw, email.message.Message):
        return raw.as_bytes(policy=email.policy.SMTP)
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    # smtplib sends bytes as they are; bare LFs would reach the store as they were written.
    return re.sub(rb"\r?\n", b"\r\n", raw)


def _answers(host: str, port: int, expect: bytes) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as s:
            s.settimeout(0.5)
            return s.recv(64).startswith(expect)
    except OSError:
        return False


def refresh_capabilities(mailbox: MailBoxUnencrypted) -> None:
    """Re-read CAPABILITY after login; imaplib keeps the pre-login list, which lacks MOVE."""
    typ, data = mailbox.client.capability()
    if typ == "OK" and data and data[-1]:
        mailbox.client.capabilities = tuple(data[-1].decode().upper().split())


@dataclass
class MailServers:
    """Where the test mail servers listen, with helpers to deliver, seed and read mail."""

    imap_host: str = "127.0.0.1"
    imap_port: int = 10143
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 10025
    lmtp_port: int = 10024
    domain: str = "office.example"
    domains: tuple[str, ...] = ("office.example", "example.test")
    mail_dir: Path = Path("/tmp/cld-mailserver")
    password: str = PASSWORD

    @classmethod
    def from_env(cls) -> "MailServers":
        """Settings as scripts/mailserver reads them."""
        env = os.environ
        extra = env.get("CLD_TEST_MAIL_DOMAINS", "").replace(",", " ").split()
        return cls(
            imap_host=env.get("CLD_TEST_IMAP_HOST", "127.0.0.1"),
            imap_port=int(env.get("CLD_TEST_IMAP_PORT", "10143")),
            smtp_host=env.get("CLD_TEST_SMTP_HOST", "127.0.0.1"),
            smtp_port=int(env.get("CLD_TEST_SMTP_PORT", "10025")),
            lmtp_port=int(env.get("CLD_TEST_LMTP_PORT", "10024")),
            domains=tuple(dict.fromkeys(["office.example", "example.test", *extra])),
            mail_dir=Path(env.get("CLD_TEST_MAIL_DIR", "/tmp/cld-mailserver")),
        )

    @property
    def lmtp_host(self) -> str:
        return self.imap_host

    def answering(self) -> bool:
        """True when IMAP, LMTP and SMTP all greet."""
        return (_answers(self.imap_host, self.imap_port, b"* OK")
                and _answers(self.imap_host, self.lmtp_port, b"220")
                and _answers(self.smtp_host, self.smtp_port, b"220"))

    def mailbox(self, address: str) -> MailBoxUnencrypted:
        """A logged-in IMAP connection for the address; use it in a ``with`` block to log out."""
        mailbox = MailBoxUnencrypted(self.imap_host, self.imap_port, timeout=30)
        mailbox.login(address, self.password)
        refresh_capabilities(mailbox)
        return mailbox

    def smtp(self) -> smtplib.SMTP:
        """A connected SMTP client for Postfix; use it in a ``with`` block."""
        return smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=30)

    def deliver(self, raw: Raw, to: str | Iterable[str], sender: str = DEFAULT_SENDER) -> None:
        """Send one message through Postfix to the given recipients (not taken from the headers)."""
        recipients = [to] if isinstance(to, str) else list(to)
        with self.smtp() as smtp:
            smtp.sendmail(sender, recipients, _crlf(raw))

    def append(self, address: str, raw: Raw, folder: str = "INBOX",
               flags: Iterable[str] = (), dt=None) -> None:
        """Put a message straight into a folder with IMAP APPEND, creating the folder if needed."""
        with self.mailbox(address) as mailbox:
            if folder.upper() != "INBOX" and not mailbox.folder.exists(folder):
                mailbox.folder.create(folder)
            mailbox.append(_crlf(raw), folder, dt=dt, flag_set=list(flags) or None)

    def folders(self, address: str) -> list[str]:
        """Names of the address's folders, with "/" between levels."""
        with self.mailbox(address) as mailbox:
            return [f.name for f in mailbox.folder.list()]

    def read_messages(self, address: str, folder: str = "INBOX") -> list[MailMessage]:
        """Every message in the folder, oldest first, without marking them seen."""
        with self.mailbox(address) as mailbox:
            mailbox.folder.set(folder)
            return list(mailbox.fetch(mark_seen=False, bulk=True))

    def wait_for_messages(self, address: str, count: int, timeout: float = 10,
                          folder: str = "INBOX") -> list[MailMessage]:
        """Poll until the folder holds at least ``count`` messages, then return them all."""
        deadline = time.monotonic() + timeout
        delay = 0.01
        found = 0
        with self.mailbox(address) as mailbox:
            while True:
                # EXAMINE, not STATUS: in a long session Dovecot's STATUS can keep reporting a count
                # from before a burst of concurrent LMTP deliveries; (re)selecting resyncs the Maildir.
                typ, data = mailbox.client.select(encode_folder(folder), readonly=True)
                found = int(data[0]) if typ == "OK" else 0
                if found >= count:
                    mailbox.folder.set(folder, readonly=True)
                    return list(mailbox.fetch(mark_seen=False, bulk=True))
                if time.monotonic() > deadline:
                    break
                time.sleep(delay)
                delay = min(delay * 1.5, 0.1)
        raise AssertionError(
            f"{address} {folder}: expected {count} message(s) within {timeout} s, found {found}.\n"
            + self.log_lines(address.split("+")[0].split("@")[0]))

    def log_lines(self, about: str, limit: int = 6) -> str:
        """The last server log lines that mention a string (an address, a queue id), for failures."""
        lines: list[str] = []
        for name in ("postfix.log", "dovecot.log"):
            try:
                text = (self.mail_dir / "log" / name).read_text(errors="replace")
            except OSError:
                continue
            lines += [f"{name}: {line}" for line in text.splitlines() if about in line][-limit:]
        return "\n".join(lines) or f"(nothing about {about!r} in {self.mail_dir}/log)"


@dataclass
class CleanMail(MailServers):
    """The servers' helpers for one test, handing out addresses that no other test uses."""

    run_tag: str = ""
    made: list[str] = field(default_factory=list)
    _counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def address(self, local: str = "user", domain: str | None = None) -> str:
        """A fresh address such as ``cld-3fa9c17-1@office.example``; ``+detail`` may be added to it."""
        domain = (domain or self.domain).lower()
        if domain not in self.domains:
            raise ValueError(f"{domain} is not a test domain ({', '.join(self.domains)}); "
                             "add it to CLD_TEST_MAIL_DOMAINS")
        address = f"{local.lower()}-{self.run_tag}-{next(self._counter)}@{domain}"
        self.made.append(address)
        return address

    def home(self, address: str) -> Path:
        """Where Dovecot keeps the address's mail (detail and case do not matter)."""
        local, domain = address.lower().split("@")
        return self.mail_dir / "mail" / domain / local.split("+")[0]

    def remove_mailboxes(self) -> None:
        # Removing a Maildir while Dovecot delivers into it can leave it without new/: every later delivery
        # then fails and sits in Postfix's deferred queue. Let what is in flight land first (briefly).
        self.wait_for_delivery(timeout=5)
        for address in self.made:
            shutil.rmtree(self.home(address), ignore_errors=True)

    def wait_for_delivery(self, timeout: float) -> None:
        """Wait until Postfix has handed everything it accepted to Dovecot, or `timeout` seconds."""
        spool = self.mail_dir / "postfix" / "spool"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(
                files for name in ("maildrop", "incoming", "active") for _r, _d, files in os.walk(spool / name)):
            time.sleep(0.05)


def _find(tool: str) -> str | None:
    return shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin")


def _run_script(command: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), command], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60)


@pytest.fixture(scope="session")
def mail_servers() -> Iterator[MailServers]:
    """The loopback Dovecot and Postfix, started here if nothing answers yet."""
    servers = MailServers.from_env()
    started = False
    if not servers.answering():
        missing = [tool for tool in ("dovecot", "postfix") if _find(tool) is None]
        if missing:
            pytest.fail(f"{' and '.join(missing)} not installed: run {INSTALL_SCRIPT} "
                        "(then scripts/mailserver start, or let the tests start it)", pytrace=False)
        result = _run_script("start")
        if result.returncode != 0 or not servers.answering():
            pytest.fail(f"scripts/mailserver start failed ({result.returncode}):\n"
                        f"{result.stdout}{result.stderr}", pytrace=False)
        started = True
    yield servers
    if started and not os.environ.get("CLD_TEST_KEEP_MAILSERVERS"):
        _run_script("stop")


@pytest.fixture(scope="session")
def _mail_tags() -> Iterator[str]:
    # Random per run, because the mail store outlives the run; then one number per test.
    run = secrets.token_hex(3)
    return (f"{run}{n}" for n in itertools.count(1))


@pytest.fixture
def clean_mail(mail_servers: MailServers, _mail_tags: Iterator[str]) -> Iterator[CleanMail]:
    """Helpers for this test, whose addresses are its own; their Maildirs are removed afterwards."""
    fields = {name: getattr(mail_servers, name) for name in MailServers.__dataclass_fields__}
    mail = CleanMail(**fields, run_tag=next(_mail_tags))
    yield mail
    mail.remove_mailboxes()


@pytest.fixture
def mailbox_factory(clean_mail: CleanMail):
    """``mailbox_factory(local="user", domain=None) -> str``: a fresh address for this test."""
    return clean_mail.address


@pytest.fixture(scope="session")
def _faulty_smtp_server(mail_servers: MailServers) -> Iterator[FaultySMTPServer]:
    server = FaultySMTPServer(mail_servers.lmtp_host, mail_servers.lmtp_port).start()
    yield server
    server.stop()


@pytest.fixture
def faulty_smtp(_faulty_smtp_server: FaultySMTPServer) -> Iterator[FaultySMTPServer]:
    """An SMTP server whose ``mode`` ("ok", "421", "451", "550", "refuse") the test switches."""
    _faulty_smtp_server.reset()
    yield _faulty_smtp_server
    _faulty_smtp_server.reset()
