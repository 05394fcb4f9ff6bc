"""Preparation and continuity: needs before the session, next steps carried forward, the supervisor's brief."""

import time
from datetime import date

import pytest
from sqlalchemy import select

from tests.support.diary_rows import make_entry, person
from tests.support.replies import GOOD_FORM, reply_to
from workflow import jobs
from workflow.models import Employee, OutboundMessage, Prompt, SignoffRequest

pytestmark = pytest.mark.servers


def kind_of(message):
    return message.headers.get("x-cld-kind", ("",))[0]


def mail_of(clean_mail, address, kind, also=lambda message: True, timeout=10):
    """The messages of one kind (and matching `also`) in a mailbox, waiting until at least one has arrived."""
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in clean_mail.read_messages(address) if kind_of(m) == kind and also(m)]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def november_entry(session, member, topic):
    """A signed-off-free November entry, as the pipeline would have recorded it."""
    from workflow.models import Entry, EntryState

    prompt = session.scalar(select(Prompt).where(Prompt.employee_id == member.id, Prompt.period == "2026-11"))
    session.add(Entry(prompt_id=prompt.id, employee_id=member.id, period="2026-11", version=1,
                      state=EntryState.AWAITING_SIGNOFF, session_date=date(2026, 11, 5), duration_minutes=45,
                      mentor_id=member.supervisor_id, mentor_name=member.supervisor.name, topic=topic,
                      objectives="Memahami prosedur", notes="Catatan", rating="fairly_useful",
                      next_steps="Latihan mandiri"))
    session.commit()


def reply_address(prompt):
    from email.utils import parseaddr

    return parseaddr(prompt.headers["reply-to"][0])[1]


def test_a_needs_reply_reaches_the_supervisor_at_once_and_appears_in_the_brief(mail_office, mail_settings,
                                                                                 clean_mail, clock_at):
    dewi, bambang = person(mail_office, "dewi"), person(mail_office, "bambang")
    clock_at("2026-12-01T08:00+07:00")
    jobs.send_due_prompts()
    jobs.flush_outbox()
    [prompt] = clean_mail.wait_for_messages(dewi.email, 1)
    clock_at("2026-12-01T10:00+07:00")
    needs = "Kebutuhan / Needs: Saya ingin belajar menyusun kertas kerja penilaian aset."
    clean_mail.deliver(reply_to(prompt, dewi.email, needs), reply_address(prompt), sender=dewi.email)
    clean_mail.wait_for_messages(mail_settings.reply_address, 1)
    assert jobs.poll_inbox()["statuses"] == {"processed": 1}
    jobs.flush_outbox()
    [forwarded] = mail_of(clean_mail, bambang.email, "needs_forward")
    assert "kertas kerja penilaian aset" in forwarded.text and dewi.name in forwarded.text
    assert mail_office.scalar(select(Prompt.needs).where(Prompt.employee_id == dewi.id)).startswith("Saya ingin")
    clock_at("2026-12-01T13:00+07:00")
    assert jobs.send_due_prompts()["briefs"] >= 1
    jobs.flush_outbox()
    [brief] = mail_of(clean_mail, bambang.email, "brief")
    assert "kertas kerja penilaian aset" in brief.text and "kertas kerja penilaian aset" in brief.html


def test_next_steps_from_november_appear_in_the_december_prompt(mail_office, mail_settings, clean_mail, clock_at):
    dewi = person(mail_office, "dewi")
    clock_at("2026-11-02T08:00+07:00")
    jobs.send_due_prompts()
    jobs.flush_outbox()
    [november] = clean_mail.wait_for_messages(dewi.email, 1)
    clock_at("2026-11-10T09:00+07:00")
    form = GOOD_FORM.replace("3 Desember 2026", "5 November 2026").replace(
        "Mendampingi satu pelaksanaan lelang", "Menyusun satu kertas kerja penilaian secara mandiri")
    clean_mail.deliver(reply_to(november, dewi.email, form), reply_address(november), sender=dewi.email)
    clean_mail.wait_for_messages(mail_settings.reply_address, 1)
    assert jobs.poll_inbox()["statuses"] == {"processed": 1}
    clock_at("2026-12-01T08:00+07:00")
    jobs.send_due_prompts()
    jobs.flush_outbox()
    [december] = mail_of(clean_mail, dewi.email, "prompt", also=lambda m: "Desember" in m.subject)
    assert "Menyusun satu kertas kerja penilaian secara mandiri" in december.text
    assert "Bagaimana perkembangannya?" in december.text


def test_a_supervisor_with_five_people_gets_one_brief_with_all_five_including_one_who_never_had_a_session(
        mail_office, mail_settings, clean_mail, clock_at):
    ratna = person(mail_office, "ratna")
    team = mail_office.scalars(select(Employee).where(Employee.supervisor_id == ratna.id)).all()
    assert len(team) == 5
    clock_at("2026-11-02T08:00+07:00")
    jobs.send_due_prompts()
    with_history = team[:4]
    for member in with_history:
        november_entry(mail_office, member, topic=f"Topik {member.name}")
    clock_at("2026-12-01T13:30+07:00")
    first, second = jobs.send_due_prompts(), jobs.send_due_prompts()
    assert first["briefs"] >= 1 and second["briefs"] == 0
    jobs.flush_outbox()
    briefs = mail_of(clean_mail, ratna.email, "brief")
    assert len(briefs) == 1
    text = briefs[0].text
    for member in team:
        assert member.name in text
    never = team[4]
    never_line = next(line for line in text.splitlines() if never.name in line and "—" in line)
    following = text.split(never_line, 1)[1].splitlines()[1]
    assert "belum pernah ada sesi" in following or "no session yet" in following
    assert f"Topik {with_history[0].name}" in text
    assert "Discover" in text and "Destiny" in text


def test_three_pending_sign_offs_and_two_overdue_ones_due_the_same_day_make_one_combined_message(
        mail_office, mail_settings, clean_mail, clock_at):
    ratna = person(mail_office, "ratna")
    team = mail_office.scalars(select(Employee).where(Employee.supervisor_id == ratna.id)).all()
    clock_at("2026-12-03T10:00+07:00")
    entries = [make_entry(mail_office, mail_settings, member) for member in team]
    requests = mail_office.scalars(select(SignoffRequest).order_by(SignoffRequest.id)).all()
    # Two were requested a week earlier: their reminder is overdue; three reach the reminder day today.
    for request in requests[:2]:
        request.requested_on = date(2026, 11, 25)
    mail_office.commit()
    clock_at("2026-12-08T09:00+07:00")
    jobs.run_escalations()
    jobs.run_escalations()
    jobs.flush_outbox()
    reminders = [m for m in clean_mail.wait_for_messages(ratna.email, 1 + len(entries))
                 if kind_of(m) == "signoff_reminder"]
    assert len(reminders) == 1
    for entry in entries:
        assert entry.employee.name in reminders[0].text


def test_nobody_gets_a_second_reminder_in_the_same_week_from_any_flow(mail_office, mail_settings, clean_mail,
                                                                     clock_at):
    from workflow.settings import use_settings

    # Reminders on the 10th working day and again two days later: the second falls within the week.
    use_settings(mail_settings.model_copy(update={"reminder_working_days": [10, 12]}))
    clock_at("2026-12-01T08:00+07:00")
    jobs.send_due_prompts()
    clock_at("2026-12-14T09:00+07:00")
    assert jobs.send_due_prompts()["reminded"] > 0
    clock_at("2026-12-16T09:00+07:00")
    assert jobs.send_due_prompts()["reminded"] == 0
    dewi = person(mail_office, "dewi")
    kinds = mail_office.scalars(select(OutboundMessage.kind).where(OutboundMessage.employee_id == dewi.id)).all()
    assert kinds.count("reminder") == 1


def test_only_each_persons_latest_entry_before_the_period_gives_the_next_steps(any_engine):
    """The newest earlier entry wins, even with no next steps of its own; the period's own entries do not count."""
    from datetime import date

    from workflow.db import session_factory
    from workflow.models import Entry, EntryState, Prompt
    from workflow.prompts import last_next_steps_by_employee

    with session_factory(any_engine)() as session:
        people = [Employee(nip=f"19900101201001100{k}", name=f"Orang {k}", email=f"orang{k}@example.test")
                  for k in range(4)]
        session.add_all(people)
        session.flush()

        def entry(who, period, day, steps, reviewer=""):
            prompt = session.scalar(select(Prompt).where(Prompt.employee_id == who.id, Prompt.period == period))
            if prompt is None:
                prompt = Prompt(period=period, employee_id=who.id)
                session.add(prompt)
                session.flush()
            session.add(Entry(prompt_id=prompt.id, employee_id=who.id, period=period, version=1,
                              state=EntryState.SIGNED, session_date=date.fromisoformat(day), duration_minutes=60,
                              topic="t", rating="very_useful", next_steps=steps, reviewer_next_steps=reviewer))
            session.flush()

        a, b, c, d = people
        entry(a, "2026-10", "2026-10-05", "Oktober A")
        entry(a, "2026-11", "2026-11-03", "November A", reviewer="Tambahan atasan")
        entry(a, "2026-11", "2026-11-20", "November A, sesi kedua")
        entry(b, "2026-10", "2026-10-05", "Oktober B")
        entry(b, "2026-11", "2026-11-05", "")  # the latest says nothing: no older steps are brought back
        entry(c, "2026-12", "2026-12-02", "Desember C")  # the period's own entry is not "earlier"
        found = last_next_steps_by_employee(session, [p.id for p in people], "2026-12")
        session.rollback()
    assert found == {a.id: "November A, sesi kedua"}
