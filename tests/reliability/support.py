"""Helpers for the reliability tests: a private Redis, a Celery worker we can SIGKILL, the office and its replies."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from sqlalchemy import select

from tests.conftest import EXAMPLES, ROOT, tagged
from tests.support.replies import GOOD_FORM
from workflow import clock
from workflow.mail.forms import format_date
from workflow.models import Employee, Prompt, ReplyToken, TokenPurpose


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisInstance:
    """A redis-server of our own on a spare port, without persistence, that a test may stop and start."""

    def __init__(self, folder: Path, port: int | None = None):
        self.folder, self.port = folder, port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisInstance:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder), "--logfile", str(self.folder / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def flush(self) -> None:
        import redis

        redis.Redis.from_url(self.url).flushall()

    def stop(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


class Worker:
    """One real `celery worker` process (solo pool, so a SIGKILL lands inside the task being run)."""

    def __init__(self, env: dict[str, str], log_path: Path, name: str = "crash"):
        self.env, self.log_path, self.name = env, log_path, name
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> Worker:
        self.starts += 1
        log = self.log_path.open("ab")
        log.write(f"\n==== start {self.starts} at {time.time():.3f}\n".encode())
        log.flush()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tasks.app", "worker", "--pool=solo", "--loglevel=INFO",
             "-n", f"{self.name}{self.starts}@%h", "--without-mingle", "--without-gossip", "--without-heartbeat"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        return self

    def kill(self) -> None:
        """SIGKILL the worker: no clean-up, no acknowledgement, connections dropped mid-sentence."""
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                self.kill()
            self.process = None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def worker_env(settings, broker_url: str, **extra) -> dict[str, str]:
    """The environment of a worker acting with `settings` on `broker_url`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLD_")}
    for name in ("database_url", "data_dir", "reply_address", "smtp_host", "smtp_port", "imap_host", "imap_port",
                 "imap_user", "imap_password", "hr_email", "outbox_backoff_seconds", "outbox_lease_seconds",
                 "answers_per_address_per_day"):
        value = getattr(settings, name)
        if value not in ("", None):
            env[f"CLD_{name.upper()}"] = str(value)
    env.update(CLD_BROKER_URL=broker_url, CLD_RESULT_BACKEND=broker_url, CLD_LOG_LEVEL="INFO",
               PYTHONPATH=str(ROOT), **{k: str(v) for k, v in extra.items()})
    return env


def celery_client(broker_url: str):
    """A Celery app in this process that only sends tasks and reads results."""
    from tasks.app import make_celery
    from workflow.settings import load_settings

    return make_celery(load_settings(broker_url=broker_url, result_backend=broker_url))


def wait_ready(client, timeout: float = 60) -> None:
    """Round-trip a ping through the broker and the worker.

    A fresh ping every few seconds: right after a Redis restart the client's result subscription can come
    back after the worker already published the answer, and a single `get` then waits for nothing.
    """
    from celery.exceptions import TimeoutError as CeleryTimeout

    deadline = time.monotonic() + timeout
    while True:
        try:
            client.send_task("cld.ping", args=[0]).get(timeout=min(5, max(deadline - time.monotonic(), 0.1)))
            return
        except CeleryTimeout:
            if time.monotonic() >= deadline:
                raise


def import_office(session, tag: str, made: list[str] | None = None) -> None:
    """The example office with addresses private to `tag`."""
    from workflow.roster import import_roster, load_files

    people, units = load_files(EXAMPLES / "roster.csv", EXAMPLES / "units.csv")
    for person in people:
        person.email = tagged(person.email, tag)
        person.aliases = [tagged(a, tag) for a in person.aliases]
        if made is not None:
            made.append(person.email)
    for unit in units:
        unit.email = tagged(unit.email, tag) if unit.email else unit.email
        if made is not None and unit.email:
            made.append(unit.email)
    import_roster(session, people, units)
    session.commit()


def current_period(settings) -> str:
    return clock.now().astimezone(settings.tz).strftime("%Y-%m")


def prompt_everyone(session, settings) -> list[Employee]:
    """A prompt (token and queued email) for every eligible person in the current period; returns them."""
    from workflow.prompts import create_prompt, eligible_employees

    period = current_period(settings)
    ids = session.scalars(eligible_employees(period)).all()
    for employee_id in ids:
        create_prompt(session, settings, period, employee_id)
    return [session.get(Employee, i) for i in ids]


def prompt_token(session, person: Employee) -> ReplyToken:
    return session.scalar(select(ReplyToken).join(Prompt, ReplyToken.prompt_id == Prompt.id).where(
        Prompt.employee_id == person.id, ReplyToken.purpose == TokenPurpose.PROMPT).order_by(ReplyToken.id))


def good_form(settings) -> str:
    """The good reply form, dated today (the worker runs on the real clock)."""
    today = clock.now().astimezone(settings.tz).date()
    return GOOD_FORM.replace("3 Desember 2026", format_date(today, "id"))


def reply(settings, person_or_address, token: ReplyToken | None, body: str, *, subject: str | None = None,
          extra_headers: dict | None = None, to: str | None = None) -> EmailMessage:
    """A plain-text reply from a person (or an address) to the token's reply address."""
    sender = person_or_address if isinstance(person_or_address, str) else person_or_address.email
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to or (settings.reply_address_for(token.token) if token else settings.reply_address)
    msg["Subject"] = subject or (f"Re: [CLD-{token.short_code}] Catatan pembelajaran" if token else "Halo")
    msg["Date"] = format_datetime(clock.now())
    msg["Message-ID"] = make_msgid(domain="example.test")
    for name, value in (extra_headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return msg


_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)


def message_id_of(raw: bytes) -> str | None:
    """The Message-ID in a message's bytes (header section only)."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    found = _MESSAGE_ID.search(head)
    return found[1].decode() if found else None


def header_block(raw: bytes) -> list[bytes]:
    """The header lines of a message, unfolded, as bytes."""
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    return re.sub(rb"\n[ \t]", b" ", head).split(b"\n")


def started_at() -> datetime:
    return clock.now()
