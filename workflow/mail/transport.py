"""SMTP and IMAP adapters, nothing else: connect as the settings say and classify failures."""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass

from workflow.settings import Settings


class TransientSendError(Exception):
    """Try again later: 4xx answers, refused connections, time-outs, dropped sessions."""


class PermanentSendError(Exception):
    """Do not try again: the server refused the message or its recipients for good (5xx)."""


@dataclass
class SmtpSender:
    """One persistent SMTP session, reopened on demand; use as a context manager."""

    settings: Settings
    _client: smtplib.SMTP | None = None

    def __enter__(self) -> "SmtpSender":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            if s.smtp_tls == "ssl":
                client = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout,
                                          context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
                if s.smtp_tls == "starttls":
                    client.starttls(context=ssl.create_default_context())
            if s.smtp_user:
                client.login(s.smtp_user, s.smtp_password)
        except smtplib.SMTPResponseException as exc:
            raise _classify(exc.smtp_code, exc.smtp_error) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientSendError(f"cannot connect to {s.smtp_host}:{s.smtp_port}: {exc}") from None
        return client

    def send(self, raw: bytes, sender: str, recipients: list[str]) -> None:
        """Hand one message to the server; raises Transient- or PermanentSendError."""
        if self._client is None:
            self._client = self._connect()
        try:
            refused = self._client.sendmail(sender, recipients, raw)
        except smtplib.SMTPRecipientsRefused as exc:
            self.close()
            code, text = next(iter(exc.recipients.values()))
            raise _classify(code, text) from None
        except smtplib.SMTPResponseException as exc:
            self.close()
            raise _classify(exc.smtp_code, exc.smtp_error) from None
        except (OSError, smtplib.SMTPException, socket.timeout) as exc:
            self.close()
            raise TransientSendError(f"SMTP session failed: {exc}") from None
        if refused:
            code, text = next(iter(refused.values()))
            raise _classify(code, text)

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self._client = None


def _classify(code: int, text: bytes | str) -> Exception:
    message = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    if 400 <= code < 500:
        return TransientSendError(f"{code} {message}")
    return PermanentSendError(f"{code} {message}")


def open_imap(settings: Settings):
    """An imap-tools mailbox logged in as the service account, with fresh capabilities."""
    from imap_tools import MailBox, MailBoxStartTls, MailBoxUnencrypted

    kind = {"none": MailBoxUnencrypted, "starttls": MailBoxStartTls, "ssl": MailBox}[settings.imap_tls]
    mailbox = kind(settings.imap_host, settings.imap_port, timeout=30)
    mailbox.login(settings.imap_user, settings.imap_password, initial_folder=None)
    # imaplib keeps the pre-login capabilities; without a refresh MOVE is not seen.
    typ, data = mailbox.client.capability()
    if typ == "OK" and data and data[0]:
        mailbox.client.capabilities = tuple(data[0].decode().upper().split())
    return mailbox
