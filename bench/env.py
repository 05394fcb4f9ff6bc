"""The bench's own world: a database, mailbox addresses and a Redis queue no test shares; the real servers."""

from __future__ import annotations

import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, event, text

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = os.environ.get("CLD_BENCH_PG_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432")
# Tests use Redis database 14; the bench keeps to 13 and a queue name of its own.
REDIS_URL = os.environ.get("CLD_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
# The bench's replies are dated in the month the tests use; the clock is moved there, never slept.
PROMPT_DAY = "2026-12-01T08:00+07:00"
REPLY_DAY = "2026-12-04T09:00+07:00"
PASSWORD = "test"


def _answers(host: str, port: int, expect: bytes) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as s:
            s.settimeout(0.5)
            return s.recv(64).startswith(expect)
    except OSError:
        return False


@dataclass
class Servers:
    """Where scripts/mailserver's Dovecot and Postfix listen (the same environment variables as the tests)."""

    imap_host: str = "127.0.0.1"
    imap_port: int = 10143
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 10025
    lmtp_port: int = 10024
    mail_dir: Path = Path("/tmp/cld-mailserver")
    started_here: bool = False

    @classmethod
    def from_env(cls) -> "Servers":
        env = os.environ
        return cls(imap_host=env.get("CLD_TEST_IMAP_HOST", "127.0.0.1"),
                   imap_port=int(env.get("CLD_TEST_IMAP_PORT", "10143")),
                   smtp_host=env.get("CLD_TEST_SMTP_HOST", "127.0.0.1"),
                   smtp_port=int(env.get("CLD_TEST_SMTP_PORT", "10025")),
                   lmtp_port=int(env.get("CLD_TEST_LMTP_PORT", "10024")),
                   mail_dir=Path(env.get("CLD_TEST_MAIL_DIR", "/tmp/cld-mailserver")))

    def answering(self) -> bool:
        return (_answers(self.imap_host, self.imap_port, b"* OK") and _answers(self.imap_host, self.lmtp_port, b"220")
                and _answers(self.smtp_host, self.smtp_port, b"220"))

    def ensure_running(self) -> None:
        """Start scripts/mailserver when nothing answers; stop() later stops only what was started here."""
        if self.answering():
            return
        result = subprocess.run([sys.executable, str(ROOT / "scripts" / "mailserver"), "start"], capture_output=True,
                                text=True, stdin=subprocess.DEVNULL, timeout=60)
        if result.returncode != 0 or not self.answering():
            raise SystemExit(f"scripts/mailserver start failed:\n{result.stdout}{result.stderr}")
        self.started_here = True

    def stop(self) -> None:
        if self.started_here:
            subprocess.run([sys.executable, str(ROOT / "scripts" / "mailserver"), "stop"], capture_output=True,
                           stdin=subprocess.DEVNULL, timeout=60)

    def queue_size(self) -> int:
        """Messages Postfix is still handing to Dovecot (accepted, not yet delivered).

        Not the deferred queue: mail Postfix could not deliver (a test removed a mailbox under a delivery)
        waits there for a retry much later, and waiting for it would hold the bench for ten minutes.
        """
        spool = self.mail_dir / "postfix" / "spool"
        count = 0
        for name in ("maildrop", "incoming", "active"):
            for _root, _dirs, files in os.walk(spool / name):
                count += len(files)
        return count

    def wait_for_queue(self, timeout: float = 600.0) -> float:
        """Wait until Postfix has delivered what it accepted, so it does not steal CPU from the next phase."""
        start = time.monotonic()
        while self.queue_size() and time.monotonic() - start < timeout:
            time.sleep(0.2)
        return time.monotonic() - start

    def home(self, address: str) -> Path:
        local, domain = address.lower().split("@")
        return self.mail_dir / "mail" / domain / local.split("+")[0]


@dataclass
class Names:
    """Addresses of one bench run: unique per run, so runs and tests never see each other's mail."""

    tag: str = field(default_factory=lambda: f"{secrets.token_hex(3)}{os.getpid() % 1000}")

    @property
    def service(self) -> str:
        return f"cld-bench-{self.tag}@office.example"

    @property
    def baseline_sink(self) -> str:
        return f"bench-{self.tag}-bare@example.test"

    def employee(self, index: int) -> str:
        # Sub-addressing puts a thousand people in one Maildir: 100k fresh Maildirs would measure
        # Dovecot creating folders, not our pipeline. Each person still has an address of their own.
        return f"bench-{self.tag}-{index // 1000}+e{index}@example.test"

    def alias(self, index: int) -> str:
        return f"bench-{self.tag}-{index // 1000}+a{index}@example.test"

    def unit(self, index: int) -> str:
        return f"bench-{self.tag}-units+u{index}@example.test"

    def homes(self, servers: Servers) -> list[Path]:
        prefix = f"bench-{self.tag}-"
        found = [servers.home(self.service)]
        for domain in ("example.test", "office.example"):
            folder = servers.mail_dir / "mail" / domain
            if folder.is_dir():
                found += [p for p in folder.iterdir() if p.name.startswith(prefix)]
        return found

    def remove_mail(self, servers: Servers) -> None:
        servers.wait_for_queue(timeout=300)
        for home in self.homes(servers):
            shutil.rmtree(home, ignore_errors=True)


def create_database(name: str) -> str:
    """A fresh, migrated PostgreSQL database; returns its URL."""
    from workflow.db import make_engine
    from workflow.migrate import upgrade

    admin = make_engine(f"{PG_SERVER}/postgres").execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = f"{PG_SERVER}/{name}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def drop_database(name: str) -> None:
    from workflow.db import _engines, make_engine

    for url in [u for u in _engines if u.endswith(f"/{name}")]:
        _engines.pop(url).dispose()
    admin = make_engine(f"{PG_SERVER}/postgres").execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def bench_settings(url: str, names: Names, servers: Servers, data_dir: Path | None = None,
                   connections: int | None = None):
    """Settings as the tests build them: the loopback servers, the run's own service mailbox."""
    from workflow.settings import load_settings

    return load_settings(
        database_url=url, data_dir=data_dir or Path(tempfile.mkdtemp(prefix="cld-bench-")),
        reply_address=names.service, smtp_host=servers.smtp_host, smtp_port=servers.smtp_port,
        imap_host=servers.imap_host, imap_port=servers.imap_port, imap_user=names.service, imap_password=PASSWORD,
        hr_email=f"bench-{names.tag}-hr@example.test", office_name="KPKNL Bench", outbox_backoff_seconds=0,
        **({"smtp_connections": connections} if connections else {}))


def settings_env(settings) -> dict[str, str]:
    """The environment a child process (a Celery worker) needs to act with these settings."""
    env = {**os.environ}
    for name in ("database_url", "data_dir", "reply_address", "smtp_host", "smtp_port", "imap_host", "imap_port",
                 "imap_user", "imap_password", "hr_email", "office_name", "outbox_backoff_seconds", "broker_url",
                 "smtp_connections"):
        value = getattr(settings, name)
        if value not in ("", None):
            env[f"CLD_{name.upper()}"] = str(value)
    return env


class QueryCounter:
    """Counts statements the calling thread sends to any database (SQLAlchemy's before_cursor_execute).

    The calling thread only: the outbox's sender threads run alongside the measured job and their claims
    and marks are counted per message sent, not per prompt or reply.
    """

    def __init__(self) -> None:
        self.count = 0
        self.thread = threading.get_ident()

    def _hit(self, *_args, **_kwargs) -> None:
        if threading.get_ident() == self.thread:
            self.count += 1

    def __enter__(self) -> "QueryCounter":
        event.listen(Engine, "before_cursor_execute", self._hit)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(Engine, "before_cursor_execute", self._hit)


def proc_status(pid: int | str = "self") -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) in kB, read from /proc."""
    values = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    except OSError:
        pass
    return values


def _version(command: list[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=10)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "unknown"


def machine_facts() -> dict:
    """What the numbers were measured on."""
    import imap_tools
    import sqlalchemy

    cpu = "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory_kb = 0
    try:
        memory_kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                             if line.startswith("MemTotal")))
    except (OSError, StopIteration):
        pass
    pg = "unknown"
    try:
        from workflow.db import make_engine

        engine = make_engine(f"{PG_SERVER}/postgres")
        with engine.connect() as connection:
            pg = connection.execute(text("SHOW server_version")).scalar()
        engine.dispose()
    except Exception:  # facts are best effort
        pass
    commit = _version(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = bool(subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain"], capture_output=True,
                                text=True).stdout.strip())
    return {
        "hostname": platform.node(), "cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(memory_kb / 2**20, 1),
        "kernel": platform.release(), "python": platform.python_version(), "sqlalchemy": sqlalchemy.__version__,
        "imap_tools": imap_tools.__version__, "postgresql": pg,
        "dovecot": _version(["dovecot", "--version"]),
        "postfix": _version(["postconf", "-c", str(Servers.from_env().mail_dir / "postfix" / "etc"), "-h",
                             "mail_version"]),
        "redis": _version(["redis-server", "--version"]),
        "commit": commit + ("+dirty" if dirty else ""),
    }
