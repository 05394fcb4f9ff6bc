"""The sandbox's SMTP side: aiosmtpd accepts mail for any address and delivers it to the store."""

from __future__ import annotations

import logging

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from workflow.sandbox.store import MailStore

log = logging.getLogger(__name__)

DEFAULT_SIZE_LIMIT = 25 * 1024 * 1024


class DeliveryHandler:
    """aiosmtpd handler: every recipient of every message gets a copy in the store.

    There is no RCPT hook, so aiosmtpd accepts any address: the sandbox is everybody's server.
    """

    def __init__(self, store: MailStore) -> None:
        self.store = store

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Store the message once per recipient."""
        raw = envelope.original_content or b""
        for recipient in envelope.rcpt_tos:
            address, uid = self.store.deliver(recipient, raw, mail_from=envelope.mail_from or "")
            log.debug("delivered uid %s to %s", uid, address)
        return "250 Message accepted for delivery"


class SandboxSMTP(Controller):
    """An aiosmtpd Controller that also accepts port 0 and then reports the port it got."""

    def __init__(self, store: MailStore, host: str = "127.0.0.1", port: int = 0,
                 size_limit: int = DEFAULT_SIZE_LIMIT) -> None:
        super().__init__(DeliveryHandler(store), hostname=host, port=port,
                         data_size_limit=size_limit, enable_SMTPUTF8=True,
                         ident="cld mail sandbox")

    def _trigger_server(self) -> None:
        # The server is bound by now; learn the real port before the base class connects to it.
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()
