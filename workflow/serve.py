"""`cld serve`: the whole service in one process tree — worker, beat, inbox watcher (and the mail sandbox)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from contextlib import ExitStack

from workflow import watcher
from workflow.settings import Settings

log = logging.getLogger(__name__)

ENV_FIELDS = ("data_dir", "database_url", "broker_url", "result_backend", "smtp_host", "smtp_port", "smtp_user",
              "smtp_password", "smtp_tls", "imap_host", "imap_port", "imap_user", "imap_password", "imap_tls",
              "imap_folder", "reply_address", "timezone", "office_name", "hr_email")


def child_environment(settings: Settings) -> dict[str, str]:
    """The environment that gives a child process exactly these settings."""
    env = dict(os.environ)
    for name in ENV_FIELDS:
        value = getattr(settings, name)
        if value not in ("", None):
            env[f"CLD_{name.upper()}"] = str(value)
    return env


def port_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wants_sandbox(settings: Settings) -> bool:
    """Start the local mail sandbox when the settings point at loopback and nothing listens there."""
    loopback = settings.smtp_host in ("127.0.0.1", "localhost") and settings.imap_host in ("127.0.0.1", "localhost")
    return loopback and not port_answers(settings.smtp_host, settings.smtp_port)


def start_sandbox(settings: Settings):
    """The embedded mail sandbox on the configured SMTP and IMAP ports, storing under the data dir."""
    from workflow.sandbox import MailSandbox

    return MailSandbox(settings.data_dir / "mail", smtp_port=settings.smtp_port, imap_port=settings.imap_port,
                       password=settings.imap_password).start()


def serve(settings: Settings, *, sandbox: bool | None = None, echo=print, stop: threading.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or `stop`), then stop every part and return."""
    from workflow.db import engine_for
    from workflow.migrate import upgrade

    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(engine_for(settings))
    with ExitStack() as stack:
        if sandbox if sandbox is not None else wants_sandbox(settings):
            box = start_sandbox(settings)
            stack.callback(box.stop)
            echo(f"mail sandbox: SMTP 127.0.0.1:{box.smtp_port}, IMAP 127.0.0.1:{box.imap_port}, "
                 f"password {settings.imap_password!r}")
        env = child_environment(settings)
        celery = [sys.executable, "-m", "celery", "-A", "tasks.app"]
        worker = subprocess.Popen([*celery, "worker", "--pool=solo", "--loglevel=WARNING", "-n", "serve@%h",
                                   "--without-mingle", "--without-gossip"], env=env, start_new_session=True)
        stack.callback(_stop_child, worker, "worker")
        beat = subprocess.Popen([*celery, "beat", "--loglevel=WARNING",
                                 f"--schedule={settings.data_dir / 'celerybeat-schedule'}"], env=env,
                                start_new_session=True)
        stack.callback(_stop_child, beat, "beat")
        echo(f"worker pid {worker.pid}, beat pid {beat.pid}; broker {settings.effective_broker_url.split('@')[-1]}")
        thread = threading.Thread(target=watcher.watch, kwargs=dict(settings=settings, idle_seconds=30, echo=echo,
                                                                    stop=stop), name="inbox-watcher", daemon=True)
        thread.start()
        echo("cld is running; Ctrl-C stops it")
        while not stop.wait(1):
            for child, name in ((worker, "worker"), (beat, "beat")):
                if child.poll() is not None:
                    echo(f"{name} exited with {child.returncode}; stopping")
                    stop.set()
        echo("stopping ...")
        thread.join(timeout=5)
    echo("stopped")


def _stop_child(child: subprocess.Popen, name: str) -> None:
    if child.poll() is not None:
        return
    os.killpg(child.pid, signal.SIGTERM)
    try:
        child.wait(timeout=6)
    except subprocess.TimeoutExpired:
        log.warning("%s did not stop in time; killing it", name)
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
