"""Engine and session factory; the one place that knows how to reach the database."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from workflow.settings import Settings, get_settings

_engines: dict[str, Engine] = {}


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets the inbox job read while the outbox commits; the busy timeout absorbs short write locks.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """A new engine for `url`, configured for SQLite or PostgreSQL."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, pool_size=5, max_overflow=5)
    event.listen(engine, "checkin", _note_idle_since)
    event.listen(engine, "checkout", _ping_if_idle)
    return engine


# A pooled connection is tested before use only when it has sat idle this long. SQLAlchemy's pool_pre_ping
# tests it at every checkout: a round trip for each message the inbox job processes, a sixth of its
# statements. A server restart or a cut connection takes longer than this, so a connection idle across
# one is still tested; one cut within the second fails its statement, which every job already handles
# as a lost connection (the message stays stored for the next run), and the pool is then renewed.
IDLE_BEFORE_PING = 1.0


def _note_idle_since(_dbapi_connection, record) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
    idle_since = record.info.get("idle_since")
    if idle_since is not None and time.monotonic() - idle_since < IDLE_BEFORE_PING:
        return
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        dbapi_connection.rollback()  # leave no transaction open: the connection goes out as it came in
    except Exception as exc:
        # The pool drops this connection and checks out another (a fresh one when all are stale).
        raise DisconnectionError(f"pooled connection failed its ping: {exc}") from exc


def engine_for(settings: Settings | None = None) -> Engine:
    """The shared engine for the configured database URL."""
    url = (settings or get_settings()).effective_database_url
    if url not in _engines:
        _engines[url] = make_engine(url)
    return _engines[url]


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextlib.contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session committed on success and rolled back on error."""
    session = session_factory(engine or engine_for())()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def insert_skipping_conflicts(session: Session, model):
    """An INSERT that can say ON CONFLICT DO NOTHING, for the database in use (PostgreSQL or SQLite)."""
    return dialect_insert(session.get_bind().dialect.name, model)


def dialect_insert(dialect: str, model):
    """An INSERT that can say ON CONFLICT DO NOTHING, for PostgreSQL or (anything else) SQLite."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(model)
