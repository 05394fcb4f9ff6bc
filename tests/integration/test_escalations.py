"""Both escalation ladders, walked through time: every rung once, however often and however many workers run."""

import threading
from datetime import date, datetime, time

import pytest
import typer
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.integration.test_signoff import decide, poll, send_reply, wait_for
from tests.support.diary_rows import make_entry, person, request_of, unit
from workflow import escalations, followups, jobs
from workflow.cli_signoff import escalations_app
from workflow.db import session_factory
from workflow.models import AuditEvent, Entry, FollowUp, OutboundMessage, ReplyToken
from workflow.office import office_calendar

OPENED = date(2026, 12, 4)


@pytest.fixture(autouse=True)
def on_the_day_things_were_opened(clock_at):
    clock_at("2026-12-04T09:00+07:00")


def working_day(settings, n, minute=0):
    """n working days after 4 December 2026, at 08:mm office time, as ISO-8601."""
    day = office_calendar(settings).add_working_days(OPENED, n)
    return datetime.combine(day, time(8, minute), tzinfo=settings.tz).isoformat()


def run_at(engine, settings, instant):
    from workflow import clock

    return escalations.run(session_factory(engine), settings, clock.parse_instant(instant))


def sent(session, kind):
    return session.scalars(select(OutboundMessage).where(OutboundMessage.kind == kind)
                           .order_by(OutboundMessage.id)).all()


def test_a_signer_with_several_pending_entries_gets_one_reminder_after_three_working_days(office, settings, engine):
    made = person(office, "made")
    kevin, putri = person(office, "kevin"), [p for p in made_team(office) if p.name == "Putri Anggraini"][0]
    make_entry(office, settings, kevin)
    make_entry(office, settings, putri, mentor_id=None)
    assert run_at(engine, settings, working_day(settings, 2))["signoff_reminders"] == 0
    first = run_at(engine, settings, working_day(settings, 3))
    again = run_at(engine, settings, working_day(settings, 3, minute=1))
    assert (first["signoff_reminders"], first["signoff_reminded"], again["signoff_reminders"]) == (1, 2, 0)
    [reminder] = sent(office, "signoff_reminder")
    assert reminder.recipients == [made.email]
    assert "Kevin Tanujaya" in reminder.raw.decode() and "Putri Anggraini" in reminder.raw.decode()


def made_team(session):
    from workflow.models import Employee

    return session.scalars(select(Employee).where(Employee.supervisor_id == person(session, "made").id)).all()


def test_a_pending_sign_off_climbs_to_each_superior_once_who_may_then_sign_in_the_signers_place(office, settings,
                                                                                                engine):
    kevin, ratna, hendra = person(office, "kevin"), person(office, "ratna"), person(office, "hendra")
    entry = make_entry(office, settings, kevin)
    for n in (3, 8, 8, 13, 13, 18, 23):
        for minute in (0, 1):
            run_at(engine, settings, working_day(settings, n, minute))
    escalated = sent(office, "signoff_escalation")
    assert [m.recipients for m in escalated] == [[ratna.email], [hendra.email]]
    assert len(sent(office, "signoff_reminder")) == 1
    office.expire_all()
    request = request_of(office, entry)
    assert (request.escalation_level, request.escalated_to_id) == (3, hendra.id)
    ratna_token = office.scalar(select(ReplyToken).where(ReplyToken.owner_id == ratna.id))
    assert ratna_token.one_time and ratna_token.entry_version == entry.version
    outcome = decide(office, settings, entry, "SETUJU\nReviu / Review: Saya setujui sebagai atasan.",
                     token=ratna_token)
    assert outcome.kind == "signed"
    assert office.get(Entry, entry.id).signer_id == ratna.id and request.decided_by_id == ratna.id


def test_a_decided_request_stops_its_ladder(office, settings, engine):
    entry = make_entry(office, settings, person(office, "kevin"))
    decide(office, settings, entry, "SETUJU")
    run_at(engine, settings, working_day(settings, 20))
    assert sent(office, "signoff_reminder") == [] and sent(office, "signoff_escalation") == []


def test_nothing_is_sent_outside_office_hours_or_on_a_weekend(office, settings, engine):
    make_entry(office, settings, person(office, "kevin"))
    assert run_at(engine, settings, "2026-12-12T09:00+07:00")["skipped"]  # a Saturday
    assert run_at(engine, settings, "2026-12-14T06:00+07:00")["skipped"]
    assert sent(office, "signoff_reminder") == []


def test_two_workers_running_at_once_take_every_rung_once(office, settings, engine):
    for name in ("kevin", "dewi"):
        entry = make_entry(office, settings, person(office, name), request=False)
        followups.open_issues(office, settings, entry, [{"text": f"Isu {name}", "unit": "Umum"}], source="entry",
                              raised_by=person(office, name))
    office.commit()
    for name in ("kevin", "dewi"):
        make_entry(office, settings, person(office, name), topic="Kedua")
    errors = []

    def worker():
        try:
            for n in (3, 6, 8, 11, 16):
                run_at(engine, settings, working_day(settings, n))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == []
    office.expire_all()
    # Kevin's entry climbs from Made to Ratna and Hendra; Dewi's from Bambang to Hendra, the top.
    assert len(sent(office, "signoff_reminder")) == 2 and len(sent(office, "signoff_escalation")) == 3
    assert len(sent(office, "followup_reminder")) == 2 and len(sent(office, "followup_escalation")) == 4
    assert office.scalar(select(func.count()).select_from(AuditEvent)
                         .where(AuditEvent.event == "followup.escalated")) == 6


def escalation_cli():
    app = typer.Typer()
    app.add_typer(escalations_app, name="escalations")
    return app


@pytest.mark.servers
def test_an_overdue_issue_is_reminded_then_escalated_to_the_unit_head_then_the_head_of_office_each_once(
        mail_office, mail_settings, clean_mail):
    dewi, bambang = person(mail_office, "dewi"), person(mail_office, "bambang")
    ratna, hendra = person(mail_office, "ratna"), person(mail_office, "hendra")
    lelang = unit(mail_office, "Seksi Pelayanan Lelang")
    entry = make_entry(mail_office, mail_settings, dewi, request=False)
    [issue] = followups.open_issues(mail_office, mail_settings, entry,
                                    [{"text": "Akses aplikasi lelang putus", "unit": "Seksi Lelang"}],
                                    source="review", raised_by=bambang)
    mail_office.commit()
    jobs.flush_outbox()
    runner, app = CliRunner(), escalation_cli()
    expected = {6: (lelang.email, "Pengingat", "1 reminder(s), 0 escalation(s)"),
                11: (ratna.email, "Eskalasi", "0 reminder(s), 1 escalation(s)"),
                16: (hendra.email, "Eskalasi", "0 reminder(s), 1 escalation(s)")}
    for n, (address, word, summary) in expected.items():
        for minute in (0, 1, 2):  # the job runs every minute
            result = runner.invoke(app, ["escalations", "run", "--now", working_day(mail_settings, n, minute)])
            assert result.exit_code == 0, result.output
            if minute == 0:
                assert f"follow-ups: {summary}" in result.output
            else:
                assert "follow-ups: 0 reminder(s), 0 escalation(s)" in result.output
        [message] = wait_for(clean_mail, address, word)
        assert "Akses aplikasi lelang putus" in message.text
    assert len(wait_for(clean_mail, lelang.email, "Pengingat")) == 1
    assert len(wait_for(clean_mail, ratna.email, "Eskalasi")) == 1
    assert len(wait_for(clean_mail, hendra.email, "Eskalasi")) == 1
    mail_office.expire_all()
    assert mail_office.get(FollowUp, issue.id).escalation_level == 3


@pytest.mark.servers
def test_a_resolution_by_the_unit_stops_the_ladder_and_tells_the_employee_and_the_supervisor(
        mail_office, mail_settings, clean_mail, clock_at):
    dewi, bambang, ratna = person(mail_office, "dewi"), person(mail_office, "bambang"), person(mail_office, "ratna")
    lelang = unit(mail_office, "Seksi Pelayanan Lelang")
    entry = make_entry(mail_office, mail_settings, dewi, request=False)
    [issue] = followups.open_issues(mail_office, mail_settings, entry,
                                    [{"text": "Akses aplikasi lelang putus", "unit": "Lelang"}], source="review",
                                    raised_by=bambang)
    mail_office.commit()
    runner, app = CliRunner(), escalation_cli()
    runner.invoke(app, ["escalations", "run", "--now", working_day(mail_settings, 6)])
    [reminder] = wait_for(clean_mail, lelang.email, "Pengingat")
    clock_at(working_day(mail_settings, 7))
    send_reply(clean_mail, reminder, lelang.email, "SELESAI\nAkses sudah dipulihkan.", mail_settings)
    assert poll() == {"processed": 1}
    for n in (11, 16, 30):
        result = runner.invoke(app, ["escalations", "run", "--now", working_day(mail_settings, n)])
        assert "follow-ups: 0 reminder(s), 0 escalation(s)" in result.output
    mail_office.expire_all()
    assert mail_office.get(FollowUp, issue.id).escalation_level == 1
    assert all("Eskalasi" not in m.subject for m in clean_mail.read_messages(ratna.email))
    for address in (dewi.email, bambang.email):
        [told] = wait_for(clean_mail, address, "Selesai")
        assert "Akses sudah dipulihkan." in told.text
