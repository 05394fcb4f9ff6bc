"""Pooled PostgreSQL connections are tested before use only after they sat idle (workflow.db._ping_if_idle)."""

import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from workflow import db


def _cut(engine, pid: int) -> None:
    admin = db.make_engine(engine.url.set(database="postgres").render_as_string(hide_password=False))
    with admin.connect() as connection:
        assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    admin.dispose()


def _backend_pid(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar()


@pytest.fixture
def pool(pg_url):
    engine = db.make_engine(pg_url)
    yield engine
    engine.dispose()


def test_a_connection_cut_while_it_sat_idle_is_replaced_before_the_job_uses_it(pool, monkeypatch):
    monkeypatch.setattr(db, "IDLE_BEFORE_PING", 0.05)
    first = _backend_pid(pool)
    _cut(pool, first)
    time.sleep(0.1)
    second = _backend_pid(pool)  # the ping found the connection dead; the pool opened another
    assert second != first
    with pool.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1


def test_a_connection_used_a_moment_ago_goes_out_without_a_ping(pool, monkeypatch):
    """The price of skipping the round trip: a cut within the idle time fails the next statement once,
    as a lost connection (which every job handles), and the pool is renewed for the one after."""
    monkeypatch.setattr(db, "IDLE_BEFORE_PING", 60.0)
    first = _backend_pid(pool)
    _cut(pool, first)
    with pytest.raises(DBAPIError) as lost:
        _backend_pid(pool)
    assert lost.value.connection_invalidated
    assert _backend_pid(pool) != first
