"""The sandbox as one object: the mail store with its SMTP and IMAP servers on 127.0.0.1."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

from workflow.sandbox.imap import IMAPServer
from workflow.sandbox.smtp import DEFAULT_SIZE_LIMIT, SandboxSMTP
from workflow.sandbox.store import MailStore

log = logging.getLogger(__name__)

DEFAULT_PASSWORD = "sandbox"


class MailSandbox:
    """A local mail server for demos and tests: SMTP in, IMAP out, one store on disk."""

    def __init__(self, root: str | Path, smtp_port: int = 0, imap_port: int = 0, *,
                 host: str = "127.0.0.1", password: str = DEFAULT_PASSWORD,
                 size_limit: int = DEFAULT_SIZE_LIMIT) -> None:
        self.root = Path(root)
        self.host = host
        self.smtp_port = smtp_port
        self.imap_port = imap_port
        self.password = password
        self.size_limit = size_limit
        self.store: MailStore | None = None
        self._smtp: SandboxSMTP | None = None
        self._imap: IMAPServer | None = None

    def start(self) -> "MailSandbox":
        """Open the store and start both servers; ports asked as 0 are filled in."""
        self.store = MailStore(self.root)
        try:
            self._imap = IMAPServer(self.store, self.host, self.imap_port, self.password,
                                    max_literal=self.size_limit)
            self._imap.start()
            self.imap_port = self._imap.port
            self._smtp = SandboxSMTP(self.store, self.host, self.smtp_port, self.size_limit)
            self._smtp.start()
            self.smtp_port = self._smtp.port
        except BaseException:
            self.stop()
            raise
        log.info("mail sandbox on %s: SMTP %s, IMAP %s, store %s",
                 self.host, self.smtp_port, self.imap_port, self.root)
        return self

    def stop(self) -> None:
        """Stop both servers and close the store; safe to call twice."""
        if self._smtp is not None and self._smtp._thread is not None:
            self._smtp.stop()
        self._smtp = None
        if self._imap is not None:
            self._imap.stop()
        self._imap = None
        if self.store is not None:
            self.store.close()
        self.store = None

    def __enter__(self) -> "MailSandbox":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def serve_forever(root: str | Path, smtp_port: int = 2525, imap_port: int = 2143,
                  password: str = DEFAULT_PASSWORD) -> None:
    """Run the sandbox in the foreground until Ctrl-C or SIGTERM (for `cld sandbox`)."""
    stopping = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    with MailSandbox(root, smtp_port, imap_port, password=password) as sandbox:
        print(f"Mail sandbox: SMTP {sandbox.host}:{sandbox.smtp_port}, "
              f"IMAP {sandbox.host}:{sandbox.imap_port} (any address, password "
              f"{sandbox.password!r}); mail kept in {sandbox.root}. Ctrl-C stops it.", flush=True)
        try:
            while not stopping.wait(0.1):
                pass
        except KeyboardInterrupt:
            pass
