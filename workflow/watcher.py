"""The long-running inbox watcher: IMAP IDLE where the server has it, a plain poll loop otherwise."""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import socket
import threading
import time
from pathlib import Path

from workflow import jobs
from workflow.mail.transport import open_imap
from workflow.settings import Settings

log = logging.getLogger(__name__)


def watch(settings: Settings, *, idle_seconds: int = 60, echo=print, stop: threading.Event | None = None) -> None:
    """Poll, then wait for new mail (IDLE) or `idle_seconds`, until `stop` is set or SIGINT/SIGTERM."""
    stop = stop or _stop_on_signals()
    lock = leader_lock(settings)
    while not stop.is_set():
        if not lock.hold():
            # Another watcher has the inbox: stay idle and take over if it goes away.
            stop.wait(lock.retry_seconds)
            continue
        try:
            result = jobs.poll_inbox(settings, send=True)
            if result["fetched"]:
                echo(f"inbox: {result['fetched']} fetched; {result['statuses']}")
            _wait_for_mail(settings, idle_seconds, stop)
        except Exception as exc:  # a dropped connection or a server restart: wait, then try again
            log.warning("inbox watch: %s; retrying in 5 s", exc)
            stop.wait(5)


class RedisLeaderLock:
    """One watcher per inbox across machines: a Redis key with a TTL, renewed while we run."""

    retry_seconds = 10

    def __init__(self, url: str, name: str, ttl: int = 60):
        import redis

        self.client = redis.Redis.from_url(url)
        self.name, self.ttl = name, ttl
        self.me = f"{os.getpid()}@{socket.gethostname()}"

    def hold(self) -> bool:
        try:
            if self.client.set(self.name, self.me, nx=True, ex=self.ttl):
                return True
            if self.client.get(self.name) == self.me.encode():
                self.client.expire(self.name, self.ttl)
                return True
        except Exception as exc:  # Redis away: do not process blind; try again shortly
            log.warning("inbox watch: cannot reach Redis for the leader lock: %s", exc)
        return False


class FileLeaderLock:
    """The embedded default's equivalent: an exclusive lock on a file in the data directory."""

    retry_seconds = 5

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = path.open("a")
        self.held = False

    def hold(self) -> bool:
        if not self.held:
            try:
                fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.held = True
            except OSError:
                return False
        return True


def leader_lock(settings: Settings):
    """The lock that keeps a second watcher idle rather than double-reading the inbox."""
    name = f"cld:inbox-watcher:{settings.imap_user}@{settings.imap_host}/{settings.imap_folder}"
    if settings.effective_broker_url.startswith(("redis://", "rediss://")):
        return RedisLeaderLock(settings.effective_broker_url, name)
    return FileLeaderLock(settings.data_dir / "inbox-watcher.lock")


def _wait_for_mail(settings: Settings, seconds: int, stop: threading.Event) -> None:
    with open_imap(settings) as mailbox:
        if "IDLE" not in mailbox.client.capabilities:
            stop.wait(min(seconds, 30))
            return
        mailbox.folder.set(settings.imap_folder)
        deadline = time.monotonic() + seconds
        with mailbox.idle as idle:
            # Short IDLE slices so a stop request is noticed within a second.
            while not stop.is_set() and time.monotonic() < deadline:
                if idle.poll(timeout=1):
                    return


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
    return stop
