"""Shared fixtures: real databases (SQLite and PostgreSQL), settings, the example office's roster."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import text

from workflow import clock
from workflow.db import make_engine, session_factory
from workflow.migrate import upgrade
from workflow.models import Base
from workflow.settings import load_settings, use_settings

pytest_plugins = ["tests.support.mailservers"]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PG_SERVER = os.environ.get("CLD_TEST_PG_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432")
# One database per test run, so runs side by side (developers, helpers, CI) never drop each other's.
PG_DATABASE = os.environ.get("CLD_TEST_PG_DATABASE", f"cld_test_{os.getpid()}")
REDIS_URL = os.environ.get("CLD_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


def _recreate_pg_database() -> str:
    admin = make_engine(f"{PG_SERVER}/postgres").execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{PG_DATABASE}"'))
    admin.dispose()
    return f"{PG_SERVER}/{PG_DATABASE}"


@pytest.fixture(scope="session")
def pg_url() -> str:
    """A fresh PostgreSQL database, migrated once for the whole run."""
    url = _recreate_pg_database()
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    admin = make_engine(f"{PG_SERVER}/postgres").execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template() -> Path:
    """A migrated SQLite file that each test copies (faster than migrating every time)."""
    folder = Path(tempfile.mkdtemp(prefix="cld-sqlite-"))
    path = folder / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    yield path
    shutil.rmtree(folder, ignore_errors=True)


def _truncate_all(engine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def pg_engine(pg_url):
    """The PostgreSQL test database, emptied after the test."""
    engine = make_engine(pg_url)
    yield engine
    _truncate_all(engine)
    engine.dispose()


@pytest.fixture
def sqlite_engine(sqlite_template, tmp_path):
    """A fresh, migrated SQLite database file for this test."""
    path = tmp_path / "cld.sqlite3"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "pg"])
def any_engine(request):
    """The data layer runs on both databases: each test using this runs twice."""
    return request.getfixturevalue(f"{request.param}_engine")


@pytest.fixture
def engine(pg_engine):
    """Flow tests run on PostgreSQL, as production does."""
    return pg_engine


@pytest.fixture
def session(engine):
    """A session on the test database; the test decides when to commit."""
    db = session_factory(engine)()
    yield db
    db.rollback()
    db.close()


@pytest.fixture
def settings(engine, tmp_path):
    """Settings for this test, installed process-wide and removed afterwards."""
    values = load_settings(database_url=engine.url.render_as_string(hide_password=False), data_dir=tmp_path / "data",
                           reply_address="cld@office.example", hr_email="sdm@example.test")
    use_settings(values)
    yield values
    use_settings(None)


@pytest.fixture
def clock_at():
    """Move the one clock: `clock_at("2026-12-01T08:00+07:00")`."""
    original = clock._source

    def move(instant: str):
        value = clock.parse_instant(instant)
        clock.set_clock(lambda: value)
        return value

    yield move
    clock.set_clock(original)


@pytest.fixture
def office(session):
    """The example office (about 40 people in 5 units) imported into the test database."""
    from workflow.roster import import_roster, load_files

    people, units = load_files(EXAMPLES / "roster.csv", EXAMPLES / "units.csv")
    import_roster(session, people, units)
    session.commit()
    return session


def tagged(address: str, tag: str) -> str:
    """`budi@example.test` -> `budi-TAG@example.test`: the example office, private to one test."""
    local, domain = address.split("@")
    return f"{local}-{tag}@{domain}"


@pytest.fixture
def mail_settings(engine, tmp_path, clean_mail):
    """Settings that talk to the loopback Postfix and Dovecot, with this test's own service mailbox."""
    service = clean_mail.address("cld")
    values = load_settings(
        database_url=engine.url.render_as_string(hide_password=False), data_dir=tmp_path / "data",
        reply_address=service, smtp_host=clean_mail.smtp_host, smtp_port=clean_mail.smtp_port,
        imap_host=clean_mail.imap_host, imap_port=clean_mail.imap_port, imap_user=service,
        imap_password=clean_mail.password, hr_email=clean_mail.address("sdm", "example.test"),
        outbox_backoff_seconds=0)
    use_settings(values)
    yield values
    use_settings(None)


@pytest.fixture
def mail_office(session, clean_mail, mail_settings):
    """The example office with addresses no other test uses, imported and committed."""
    from workflow.roster import import_roster, load_files

    people, units = load_files(EXAMPLES / "roster.csv", EXAMPLES / "units.csv")
    tag = f"{clean_mail.run_tag}x"
    for person in people:
        person.email = tagged(person.email, tag)
        person.aliases = [tagged(a, tag) for a in person.aliases]
        clean_mail.made.append(person.email)
    for unit in units:
        unit.email = tagged(unit.email, tag) if unit.email else unit.email
        clean_mail.made.append(unit.email)
    import_roster(session, people, units)
    session.commit()
    return session


def settings_env(values) -> dict[str, str]:
    """The environment a `cld` subprocess needs to act with these settings."""
    env = {**os.environ}
    for name in ("database_url", "data_dir", "reply_address", "smtp_host", "smtp_port", "imap_host", "imap_port",
                 "imap_user", "imap_password", "hr_email", "outbox_backoff_seconds", "broker_url"):
        value = getattr(values, name)
        if value not in ("", None):
            env[f"CLD_{name.upper()}"] = str(value)
    return env
