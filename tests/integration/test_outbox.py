"""The outbox against an SMTP server that fails on purpose."""

import email
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from workflow import clock, outbox
from workflow.db import session_factory
from workflow.mail.outbound import Envelope, Rendered, build_message
from workflow.mail.transport import PermanentSendError, SmtpSender, TransientSendError
from workflow.models import OutboundMessage, OutboundState

pytestmark = pytest.mark.servers


@pytest.fixture
def faulty_settings(mail_settings, faulty_smtp):
    return mail_settings.model_copy(update={"smtp_port": faulty_smtp.port, "smtp_timeout": 5})


def queue(session, settings, recipients):
    for address in recipients:
        message = build_message(settings, Envelope(to=[address], subject="Tes / Test"),
                                Rendered("Tes / Test", "isi / body\n", "<p>isi / body</p>"))
        outbox.enqueue(session, message, kind="test", dedupe_key=f"test:{address}")
    session.commit()


def flush_later(engine, settings, minutes):
    later = clock.now() + timedelta(minutes=minutes)
    with clock.frozen_at(later):
        return outbox.flush(session_factory(engine), settings)


def test_a_temporary_failure_is_retried_and_every_message_arrives_once_when_the_server_recovers(
        engine, session, faulty_settings, faulty_smtp, clean_mail):
    recipients = [clean_mail.address("pegawai", "example.test") for _ in range(5)]
    queue(session, faulty_settings, recipients)
    faulty_smtp.mode = "421"
    first = outbox.flush(session_factory(engine), faulty_settings)
    assert first.sent == 0 and first.retried >= 1
    faulty_smtp.mode = "refuse"
    refused = flush_later(engine, faulty_settings, 10)
    assert refused.sent == 0 and refused.retried >= 1
    faulty_smtp.mode = "451"
    assert flush_later(engine, faulty_settings, 20).sent == 0
    faulty_smtp.mode = "ok"
    total = 0
    for minutes in (60, 240, 1440):
        total += flush_later(engine, faulty_settings, minutes).sent
    assert total == 5
    for address in recipients:
        assert len(clean_mail.wait_for_messages(address, 1)) == 1
    rows = session.scalars(select(OutboundMessage).execution_options(populate_existing=True)).all()
    assert {row.state for row in rows} == {OutboundState.SENT}
    assert all(row.attempts >= 2 for row in rows)


def test_a_permanent_refusal_is_recorded_with_its_reason_and_not_retried(engine, session, faulty_settings,
                                                                          faulty_smtp, clean_mail):
    queue(session, faulty_settings, [clean_mail.address("hilang", "example.test")])
    faulty_smtp.mode = "550"
    report = outbox.flush(session_factory(engine), faulty_settings)
    assert (report.sent, report.failed) == (0, 1)
    faulty_smtp.mode = "ok"
    assert flush_later(engine, faulty_settings, 600).sent == 0
    row = session.scalar(select(OutboundMessage).execution_options(populate_existing=True))
    assert row.state == OutboundState.FAILED and row.last_error.startswith("550") and row.attempts == 1


def test_a_message_resent_after_a_lost_lease_keeps_its_message_id(engine, session, mail_settings, clean_mail):
    address = clean_mail.address("pegawai", "example.test")
    queue(session, mail_settings, [address])
    factory = session_factory(engine)
    with factory() as worker:
        claimed = outbox.claim_one(worker, mail_settings, set())
        assert claimed is not None
    # The worker died after claiming; once the lease ends the row is taken over and sent.
    assert outbox.flush(factory, mail_settings).sent == 0
    report = flush_later(engine, mail_settings, 10)
    assert report.sent == 1
    [arrived] = clean_mail.wait_for_messages(address, 1)
    stored = email.message_from_bytes(session.scalar(select(OutboundMessage.raw)))
    assert arrived.headers["message-id"][0] == stored["Message-ID"]


def test_the_same_cause_never_queues_two_messages(session, mail_settings):
    queue(session, mail_settings, ["a@example.test"])
    queue(session, mail_settings, ["a@example.test"])
    assert len(session.scalars(select(OutboundMessage)).all()) == 1


def test_several_smtp_sessions_deliver_every_message_exactly_once(engine, session, mail_settings, clean_mail):
    recipients = [clean_mail.address("pegawai", "example.test") for _ in range(40)]
    queue(session, mail_settings, recipients)
    report = outbox.flush(session_factory(engine), mail_settings, connections=3)
    assert (report.sent, report.failed, report.retried) == (40, 0, 0)
    for address in recipients:
        assert len(clean_mail.wait_for_messages(address, 1)) == 1
    time.sleep(0.5)  # a second copy would have arrived by now
    assert all(len(clean_mail.wait_for_messages(address, 1)) == 1 for address in recipients)
    rows = session.scalars(select(OutboundMessage).execution_options(populate_existing=True)).all()
    assert {row.state for row in rows} == {OutboundState.SENT} and {row.attempts for row in rows} == {1}


@pytest.mark.parametrize("where", ["process", "threads"])
@pytest.mark.parametrize("database", ["sqlite", "pg"])
def test_mail_queued_inside_sending_alongside_leaves_while_the_block_runs_and_all_of_it_by_its_end(
        request, database, where, mail_settings, clean_mail, monkeypatch):
    # A forked sending process where it can be had; threads inside a daemonic process (a Celery worker).
    monkeypatch.setattr(outbox, "_can_fork", lambda: where == "process")
    engine = request.getfixturevalue(f"{database}_engine")
    factory = session_factory(engine)
    first = [clean_mail.address("awal", "example.test") for _ in range(5)]
    later = [clean_mail.address("akhir", "example.test") for _ in range(5)]
    with outbox.sending_alongside(factory, mail_settings) as report, factory() as session:
        queue(session, mail_settings, first)
        # The block is still running: the sender threads must already be at work.
        deadline = time.monotonic() + 20
        while _states(factory) != {OutboundState.SENT}:
            assert time.monotonic() < deadline, "nothing was sent while the block ran"
            time.sleep(0.05)
        queue(session, mail_settings, later)
    assert (report.sent, report.failed, report.retried) == (10, 0, 0)
    assert _states(factory) == {OutboundState.SENT}
    for address in first + later:
        assert len(clean_mail.wait_for_messages(address, 1)) == 1


def test_sending_alongside_keeps_the_mail_queued_when_the_server_cannot_be_reached(engine, session, mail_settings,
                                                                                    clean_mail):
    unreachable = mail_settings.model_copy(update={"smtp_port": 9, "smtp_timeout": 2})
    factory = session_factory(engine)
    with outbox.sending_alongside(factory, unreachable) as report:
        queue(session, unreachable, [clean_mail.address("tunda", "example.test") for _ in range(3)])
    assert report.sent == 0 and report.failed == 0
    assert _states(factory) == {OutboundState.PENDING}
    assert outbox.flush(factory, mail_settings).sent == 3  # the next flush, with the server back, sends them


def _states(factory) -> set:
    with factory() as session:
        return set(session.scalars(select(OutboundMessage.state)))


@pytest.mark.parametrize("pipelining", [True, False])
@pytest.mark.parametrize("mode, stage, error", [
    ("550", "rcpt", PermanentSendError), ("451", "rcpt", TransientSendError), ("550", "mail", PermanentSendError),
    ("421", "mail", TransientSendError), ("451", "data", TransientSendError), ("550", "data", PermanentSendError)])
def test_pipelined_and_one_command_at_a_time_sending_classify_every_fault_alike(
        faulty_settings, faulty_smtp, clean_mail, pipelining, mode, stage, error):
    faulty_smtp.pipelining = pipelining
    address = clean_mail.address("pegawai", "example.test")
    raw = (b"From: cld@office.example\r\nTo: " + address.encode() + b"\r\nSubject: t\r\n\r\n"
           b".a line that starts with a dot\r\n..and two\r\nend\r\n")
    with SmtpSender(faulty_settings) as sender:
        faulty_smtp.mode, faulty_smtp.stage = mode, stage
        with pytest.raises(error):
            sender.send(raw, faulty_settings.reply_address, [address])
        faulty_smtp.mode = "ok"
        sender.send(raw, faulty_settings.reply_address, [address])  # the session recovers (or reconnects)
    assert faulty_smtp.accepted == 1
    # Dot-stuffing undone by the server: the lines arrive as written.
    assert b"\n.a line that starts with a dot\n..and two\nend" in faulty_smtp.messages[0].content.replace(b"\r\n", b"\n")


def test_mail_to_the_real_server_goes_out_pipelined_with_its_dots_intact(mail_settings, clean_mail):
    address = clean_mail.address("pegawai", "example.test")
    raw = (b"From: cld@office.example\r\nTo: " + address.encode() + b"\r\nSubject: titik\r\n\r\n"
           b".\r\n.. two\r\nlast line")
    with SmtpSender(mail_settings) as sender:
        sender.send(raw, mail_settings.reply_address, [address])
        assert sender._client.has_extn("pipelining")
    [received] = clean_mail.wait_for_messages(address, 1)
    assert received.text.replace("\r\n", "\n").rstrip("\n") == ".\n.. two\nlast line"
