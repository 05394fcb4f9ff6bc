"""An SMTP server that fails on purpose: aiosmtpd in front of Dovecot's LMTP.

In mode "ok" it relays every accepted message to LMTP, one transaction per recipient (smtplib's
LMTP client reads a single reply after DATA, while LMTP sends one per recipient). Other modes answer
the chosen SMTP error at one stage of the transaction, or stop listening altogether ("refuse") so that
connections are refused; setting the mode back restarts it on the same port.

Any AUTH login is accepted, without TLS, so code that always logs in can be tested too.
"""

from __future__ import annotations

import asyncio
import smtplib
import socket
import threading
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

MODES = ("ok", "421", "451", "550", "refuse")
STAGES = ("connect", "mail", "rcpt", "data")
REPLIES = {
    "421": "421 4.3.2 Service not available, closing transmission channel (fault injected)",
    "451": "451 4.3.0 Local error in processing, try again later (fault injected)",
    "550": "550 5.1.1 Mailbox unavailable (fault injected)",
}
HOST = "127.0.0.1"


@dataclass
class Received:
    """One message the server accepted and relayed."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    login: str | None = None


@dataclass
class Counters:
    transactions: int = 0
    accepted: int = 0
    rejected: int = 0
    messages: list[Received] = field(default_factory=list)


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class _FaultySMTP(SMTP):
    async def _handle_client(self) -> None:
        server: FaultySMTPServer = self.event_handler.server
        reply = None if server._probing else server._fault("connect")
        if reply:
            # A 421 greeting, as a busy or shutting-down server sends it, then hang up.
            await self.push(reply)
            if self.transport is not None:
                self.transport.close()
            return
        await super()._handle_client()


class _Handler:
    def __init__(self, server: "FaultySMTPServer") -> None:
        self.server = server

    async def handle_EHLO(self, smtp: SMTP, session: Session, envelope: Envelope, hostname: str,
                          responses: list[str]) -> list[str]:
        session.host_name = hostname
        if self.server.pipelining:
            # As Postfix does: clients may then send MAIL, RCPT and DATA in one go (aiosmtpd reads them in turn).
            responses.insert(len(responses) - 1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, smtp: SMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        with self.server._lock:
            self.server.counters.transactions += 1
        reply = self.server._fault("mail")
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, smtp: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        reply = self.server._fault("rcpt")
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        reply = self.server._fault("data")
        if reply:
            return reply
        content = envelope.original_content or b""
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(
                None, self.server._relay, envelope.mail_from, list(envelope.rcpt_tos), content)
        except (OSError, smtplib.SMTPException) as exc:
            with self.server._lock:
                self.server.counters.rejected += 1
            return f"451 4.4.0 relay to LMTP failed: {exc}"
        login = session.auth_data.decode() if isinstance(session.auth_data, bytes) else session.auth_data
        with self.server._lock:
            self.server.counters.accepted += 1
            self.server.counters.messages.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), content, login))
        return "250 2.0.0 OK: queued"


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _FaultySMTP(self.handler, **self.SMTP_kwargs)


def _accept_any_login(server, session, envelope, mechanism, auth_data) -> AuthResult:
    return AuthResult(success=True, auth_data=getattr(auth_data, "login", None))


class FaultySMTPServer:
    """SMTP on a free loopback port, relaying to LMTP, with a switchable ``mode`` and ``stage``.

    mode: "ok" | "421" | "451" | "550" | "refuse"; stage: where the error is answered:
    "connect" (greeting), "mail", "rcpt" (the default) or "data" (after the message).
    """

    def __init__(self, lmtp_host: str, lmtp_port: int, port: int | None = None,
                 stage: str = "rcpt") -> None:
        self.lmtp_host, self.lmtp_port = lmtp_host, lmtp_port
        self.host = HOST
        self.port = port or free_port()
        self.counters = Counters()
        self._lock = threading.Lock()
        self._mode = "ok"
        self.stage = stage
        self._controller: _Controller | None = None
        self._probing = False
        self.pipelining = True

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {value!r}")
        self._mode = value
        if value == "refuse":
            self._stop_listening()
        else:
            self._listen()

    @property
    def stage(self) -> str:
        return self._stage

    @stage.setter
    def stage(self, value: str) -> None:
        if value not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, not {value!r}")
        self._stage = value

    @property
    def accepted(self) -> int:
        return self.counters.accepted

    @property
    def rejected(self) -> int:
        return self.counters.rejected

    @property
    def transactions(self) -> int:
        """MAIL FROM commands seen, whatever their outcome."""
        return self.counters.transactions

    @property
    def messages(self) -> list[Received]:
        return self.counters.messages

    def start(self) -> "FaultySMTPServer":
        """Start listening in mode "ok"."""
        self.mode = "ok"
        return self

    def stop(self) -> None:
        self._stop_listening()

    def reset(self) -> None:
        """Back to mode "ok", stage "rcpt", and zeroed counters."""
        self.stage = "rcpt"
        self.mode = "ok"
        with self._lock:
            self.counters = Counters()

    def __enter__(self) -> "FaultySMTPServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _fault(self, stage: str) -> str | None:
        if self._mode in REPLIES and self._stage == stage:
            with self._lock:
                self.counters.rejected += 1
            return REPLIES[self._mode]
        return None

    def _relay(self, mail_from: str, rcpt_tos: list[str], content: bytes) -> None:
        with smtplib.LMTP(self.lmtp_host, self.lmtp_port, timeout=30) as lmtp:
            for rcpt in rcpt_tos:
                lmtp.sendmail(mail_from, [rcpt], content)

    def _listen(self) -> None:
        if self._controller is not None:
            return
        controller = _Controller(
            _Handler(self), hostname=self.host, port=self.port,
            data_size_limit=60 * 1024 * 1024, enable_SMTPUTF8=True,
            authenticator=_accept_any_login, auth_require_tls=False,
            server_hostname="faulty-smtp.cld.test", ready_timeout=5,
        )
        # Controller.start() connects once to check the server; that probe must not meet a fault.
        self._probing = True
        try:
            controller.start()
        finally:
            self._probing = False
        self._controller = controller

    def _stop_listening(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
