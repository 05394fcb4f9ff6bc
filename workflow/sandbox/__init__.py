"""A local mail sandbox (SMTP + IMAP over an on-disk store) so `cld demo` needs no mail server."""

from workflow.sandbox.server import MailSandbox, serve_forever
from workflow.sandbox.store import MailStore, StoredMessage

__all__ = ["MailSandbox", "MailStore", "StoredMessage", "serve_forever"]
