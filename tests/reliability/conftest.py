"""Fixtures for the reliability tests: a private Redis, our own mail servers for outages, and `feed` (store + stages)."""

from __future__ import annotations

import email.policy
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.reliability.support import RedisInstance


@pytest.fixture(scope="session")
def own_redis():
    """A redis-server of this run's own, so restarting it disturbs no other test."""
    folder = Path(tempfile.mkdtemp(prefix="cld-redis-"))
    instance = RedisInstance(folder).start()
    yield instance
    instance.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def feed(engine, settings):
    """Store raw mail as the inbox job does and run the stages; returns the stored row, reloaded."""
    from workflow import inbound
    from workflow.db import session_factory
    from workflow.models import InboundMessage

    factory = session_factory(engine)

    def run(message, settings_=None) -> InboundMessage:
        raw = message if isinstance(message, bytes) else message.as_bytes(policy=email.policy.SMTP)
        with factory() as session:
            row = inbound.store_raw(session, raw)
            session.commit()
            row_id = row.id
        inbound.process_stored(factory, settings_ or settings, row_id)
        with factory() as session:
            return session.get(InboundMessage, row_id)

    return run


@pytest.fixture
def redis_instance(own_redis):
    """The private Redis, emptied and running."""
    if own_redis.process is None:
        own_redis.start()
    own_redis.flush()
    return own_redis


OUTAGE_ENV = {"CLD_TEST_MAIL_DIR": "/tmp/cld-mail-outage", "CLD_TEST_IMAP_PORT": "11143",
              "CLD_TEST_SMTP_PORT": "11025", "CLD_TEST_LMTP_PORT": "11024"}


class OwnMailServers:
    """A Dovecot + Postfix instance of our own (other ports, other folder) that a test may stop and start."""

    def __init__(self):
        import os

        from tests.support.mailservers import MailServers

        self.env = {**os.environ, **OUTAGE_ENV}
        saved = {k: os.environ.get(k) for k in OUTAGE_ENV}
        os.environ.update(OUTAGE_ENV)
        try:
            self.servers = MailServers.from_env()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def _script(self, command: str) -> None:
        import subprocess
        import sys

        from tests.support.mailservers import SCRIPT

        result = subprocess.run([sys.executable, str(SCRIPT), command], env=self.env, capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, timeout=60, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"scripts/mailserver {command}: {result.stdout}{result.stderr}")

    def start(self) -> None:
        self._script("start")

    def stop(self) -> None:
        self._script("stop")


@pytest.fixture(scope="session")
def outage_mail():
    """Our own mail servers for outage tests: stopping them never disturbs another engineer's tests."""
    own = OwnMailServers()
    own.start()
    yield own
    own.stop()
