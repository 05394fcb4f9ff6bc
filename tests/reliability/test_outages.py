"""Dependency outages on the real servers: each time the service recovers by itself, loses nothing and applies
nothing twice, and its logs say what happened."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from sqlalchemy import func, select, text

from tests.reliability.support import (
    Worker,
    celery_client,
    good_form,
    prompt_everyone,
    prompt_token,
    reply,
    wait_ready,
    worker_env,
)
from workflow import jobs
from workflow.models import (
    Entry,
    InboundMessage,
    OutboundMessage,
    OutboundState,
)
from workflow.settings import use_settings

pytestmark = pytest.mark.servers


def put_replies(clean_mail, settings, session, people, folder_owner=None):
    """A good reply from each person, appended to the service inbox."""
    body = good_form(settings)
    for person in people:
        raw = reply(settings, person, prompt_token(session, person), body)
        (folder_owner or clean_mail).append(settings.reply_address, raw)


def counts(session):
    session.expire_all()
    statuses = dict(session.execute(select(InboundMessage.status, func.count()).group_by(InboundMessage.status)).all())
    entries = session.scalars(select(Entry.employee_id)).all()
    return {k.value: v for k, v in statuses.items()}, len(entries), len(set(entries))


def wait_until(predicate, timeout=30.0, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def test_the_service_recovers_when_redis_restarts_mid_run(mail_office, mail_settings, clean_mail, redis_instance,
                                                         tmp_path, caplog, monkeypatch):
    everyone = prompt_everyone(mail_office, mail_settings)
    people, newcomer = everyone[:6], everyone[6]
    put_replies(clean_mail, mail_settings, mail_office, people[:3])
    client = celery_client(redis_instance.url)
    worker = Worker(worker_env(mail_settings, redis_instance.url), tmp_path / "worker.log", name="redis")
    worker.start()
    try:
        wait_ready(client)
        client.send_task("cld.poll_inbox")
        client.send_task("cld.flush_outbox")
        time.sleep(0.2)
        # Redis goes away mid-run and comes back empty (no persistence): queued ticks and results are gone.
        redis_instance.restart()
        put_replies(clean_mail, mail_settings, mail_office, people[3:])
        # The worker reconnects by itself; the next beat ticks do the work, the lost ones are not missed.
        assert wait_until(lambda: "Connection to broker lost" in worker.log_text(), timeout=20)
        wait_ready(client, timeout=90)
        for name in ("cld.poll_inbox", "cld.flush_outbox"):
            client.send_task(name).get(timeout=60)
    finally:
        worker.stop()
    statuses, entries, people_with_entries = counts(mail_office)
    assert statuses == {"processed": 6} and entries == people_with_entries == 6
    assert mail_office.scalar(select(func.count()).select_from(OutboundMessage).where(
        OutboundMessage.state != OutboundState.SENT)) == 0

    # The inbox watcher's leader lock lives in Redis too: while Redis is away it says so and does not read blind.
    from workflow import watcher

    monkeypatch.setattr(watcher.RedisLeaderLock, "retry_seconds", 0.2)
    settings = mail_settings.model_copy(update={"broker_url": redis_instance.url})
    use_settings(settings)
    stop = threading.Event()
    caplog.set_level(logging.INFO)
    thread = threading.Thread(target=watcher.watch, args=(settings,),
                              kwargs={"idle_seconds": 1, "echo": lambda *_: None, "stop": stop}, daemon=True)
    redis_instance.stop()
    thread.start()
    try:
        assert wait_until(lambda: "cannot reach Redis for the leader lock" in caplog.text, timeout=10)
        redis_instance.start()
        put_replies(clean_mail, mail_settings, mail_office, [newcomer])
        assert wait_until(lambda: counts(mail_office)[1] == 7, timeout=30)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert counts(mail_office) == ({"processed": 7}, 7, 7)

def terminate_backends(engine) -> int:
    """pg_terminate_backend on every other connection to the test database."""
    from workflow.db import make_engine

    admin = make_engine(engine.url.set(database="postgres").render_as_string(hide_password=False))
    with admin.connect() as connection:
        killed = connection.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = :db AND pid <> pg_backend_pid()"), {"db": engine.url.database}).scalar()
        connection.commit()
    admin.dispose()
    return killed


def test_the_service_recovers_when_postgresql_drops_its_connections(mail_office, mail_settings, clean_mail, engine,
                                                                   caplog, monkeypatch):
    people = prompt_everyone(mail_office, mail_settings)[:8]
    mail_office.commit()
    put_replies(clean_mail, mail_settings, mail_office, people)
    from workflow import diary

    real_apply, calls, killed = diary.apply_reply, [], []

    def apply_then_lose_the_database(ctx):
        calls.append(ctx.row.id)
        outcome = real_apply(ctx)
        if len(calls) == 3:
            # Every connection of the test database is cut while the third reply is being applied.
            killed.append(terminate_backends(engine))
        return outcome

    monkeypatch.setattr(diary, "apply_reply", apply_then_lose_the_database)
    caplog.set_level(logging.INFO)
    try:
        jobs.poll_inbox()
    except Exception as exc:  # noqa: BLE001 the run may die with its connection; the next one must not need a person
        logging.getLogger("test").warning("first poll ended with %s", type(exc).__name__)
    assert killed and killed[0] >= 1
    mail_office.connection().invalidate()  # this test's own connection was cut too
    mail_office.rollback()
    monkeypatch.setattr(diary, "apply_reply", real_apply)
    report = jobs.poll_inbox()
    jobs.flush_outbox()
    statuses, entries, distinct = counts(mail_office)
    assert statuses == {"processed": 8}, (statuses, report)
    assert entries == distinct == 8
    assert "database connection lost" in caplog.text
    assert mail_office.scalar(select(func.count()).select_from(OutboundMessage).where(
        OutboundMessage.state != OutboundState.SENT)) == 0


def test_the_watcher_recovers_when_the_imap_server_stops_and_starts(mail_office, mail_settings, outage_mail, caplog,
                                                                   tmp_path):
    from workflow import watcher

    own = outage_mail.servers
    service = f"cld-{tmp_path.name[-12:].lower().replace('_', '')}@office.example"
    settings = mail_settings.model_copy(update={"imap_port": own.imap_port, "smtp_port": own.smtp_port,
                                                "reply_address": service, "imap_user": service,
                                                "data_dir": tmp_path / "watch"})
    use_settings(settings)
    people = prompt_everyone(mail_office, settings)[:2]
    mail_office.commit()
    put_replies(None, settings, mail_office, people[:1], folder_owner=own)
    caplog.set_level(logging.INFO)
    stop = threading.Event()
    thread = threading.Thread(target=watcher.watch, args=(settings,),
                              kwargs={"idle_seconds": 2, "echo": lambda *_: None, "stop": stop}, daemon=True)
    thread.start()
    try:
        assert wait_until(lambda: counts(mail_office)[1] == 1, timeout=20)
        outage_mail.stop()
        assert wait_until(lambda: "inbox watch:" in caplog.text, timeout=20)
        outage_mail.start()
        put_replies(None, settings, mail_office, people[1:], folder_owner=own)
        assert wait_until(lambda: counts(mail_office)[1] == 2, timeout=30)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert counts(mail_office) == ({"processed": 2}, 2, 2)
    assert "retrying in 5 s" in caplog.text
    with own.mailbox(service) as mailbox:
        _typ, data = mailbox.client.select("INBOX", readonly=True)
        assert int(data[0]) == 0


def test_the_outbox_rides_out_an_smtp_server_that_is_down_or_answers_421_and_451(mail_office, mail_settings,
                                                                               faulty_smtp, caplog):
    settings = mail_settings.model_copy(update={"smtp_host": faulty_smtp.host, "smtp_port": faulty_smtp.port})
    use_settings(settings)
    prompt_everyone(mail_office, settings)
    mail_office.commit()
    queued = mail_office.scalar(select(func.count()).select_from(OutboundMessage))
    caplog.set_level(logging.INFO)
    faulty_smtp.mode = "refuse"
    assert jobs.flush_outbox() == {"sent": 0, "retried": 1, "failed": 0}  # down: stop after the first, try later
    faulty_smtp.mode, faulty_smtp.stage = "421", "connect"
    assert jobs.flush_outbox()["sent"] == 0
    faulty_smtp.mode, faulty_smtp.stage = "451", "rcpt"
    assert jobs.flush_outbox()["sent"] == 0
    faulty_smtp.mode, faulty_smtp.stage = "421", "data"
    assert jobs.flush_outbox()["sent"] == 0
    faulty_smtp.mode = "ok"
    assert jobs.flush_outbox()["sent"] == queued
    mail_office.expire_all()
    rows = mail_office.scalars(select(OutboundMessage)).all()
    assert all(r.state == OutboundState.SENT for r in rows) and max(r.attempts for r in rows) >= 3
    from tests.reliability.support import message_id_of

    accepted = [message_id_of(m.content) for m in faulty_smtp.messages]
    assert sorted(accepted) == sorted(r.message_id for r in rows)  # each exactly once
    for said in ("cannot connect", "421 4.3.2", "451 4.3.0", "421 4.3.2 Service not available"):
        assert said in caplog.text
    assert jobs.flush_outbox() == {"sent": 0, "retried": 0, "failed": 0}
