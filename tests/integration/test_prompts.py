"""The monthly prompt cycle across the real Postfix and Dovecot, driven through `cld` itself."""

import subprocess
import sys
from email.utils import parseaddr

import pytest
from sqlalchemy import func, select

from tests.conftest import settings_env
from workflow import jobs
from workflow.models import Employee, OutboundMessage, OutboundState, Prompt, PromptState

pytestmark = pytest.mark.servers

PROMPT_DAY = "2026-12-01T08:00+07:00"


def cld(*args, settings):
    result = subprocess.run([sys.executable, "-m", "workflow.cli", *args], capture_output=True, text=True,
                            env=settings_env(settings), timeout=300)
    assert result.returncode == 0, result.stderr
    return result


def prompted_people(session):
    return list(session.scalars(select(Employee).where(Employee.active, Employee.supervisor_id.is_not(None))))


def test_each_active_employee_gets_one_prompt_in_their_language_and_a_second_run_sends_nothing(
        mail_office, mail_settings, clean_mail):
    first = cld("prompts", "send", "--now", PROMPT_DAY, settings=mail_settings)
    people = prompted_people(mail_office)
    assert f"period 2026-12: {len(people)} prompt(s)" in first.stdout
    assert f"outbox: {len(people)} sent" in first.stdout
    for person in people:
        [message] = clean_mail.wait_for_messages(person.email, 1)
        expected = "[CLD-" if person.language.value else ""
        assert message.subject.startswith(expected)
        words = message.subject.split("] ", 1)[1]
        assert words.startswith("Sesi coaching Desember 2026" if person.language.value == "id"
                                else "Coaching session December 2026")
        assert message.headers["auto-submitted"] == ("auto-generated",)
        assert message.headers["x-auto-response-suppress"] == ("All",)
        reply_to = parseaddr(message.headers["reply-to"][0])[1]
        local, domain = reply_to.split("@")
        service_local, token = local.split("+")
        assert f"{service_local}@{domain}" == mail_settings.reply_address
        assert len(token) == 32 and token == token.lower()
        assert f"Kode balasan / Reply code: {token}" in message.text
        assert token[:12] in message.subject
    second = cld("prompts", "send", "--now", PROMPT_DAY, settings=mail_settings)
    assert "0 prompt(s)" in second.stdout and "outbox: 0 sent" in second.stdout
    assert mail_office.scalar(select(func.count()).select_from(OutboundMessage)) == len(people)


def test_a_reply_to_the_prompt_address_reaches_the_service_mailbox_with_its_token(mail_office, mail_settings,
                                                                                   clean_mail):
    cld("prompts", "send", "--now", PROMPT_DAY, settings=mail_settings)
    person = prompted_people(mail_office)[0]
    [prompt] = clean_mail.wait_for_messages(person.email, 1)
    reply_to = parseaddr(prompt.headers["reply-to"][0])[1]
    clean_mail.deliver(f"From: {person.email}\r\nTo: {reply_to}\r\nSubject: Re: {prompt.subject}\r\n\r\nhello\r\n",
                       reply_to, sender=person.email)
    [arrived] = clean_mail.wait_for_messages(mail_settings.reply_address, 1)
    assert arrived.headers["delivered-to"][0] == reply_to


def test_nothing_is_sent_before_the_prompt_day_and_time(mail_office, mail_settings):
    result = cld("prompts", "send", "--now", "2026-12-01T07:59+07:00", settings=mail_settings)
    assert "period -: 0 prompt(s)" in result.stdout


def test_two_workers_racing_send_each_prompt_once(mail_office, mail_settings, clean_mail):
    env = settings_env(mail_settings)
    command = [sys.executable, "-m", "workflow.cli", "prompts", "send", "--now", PROMPT_DAY]
    racers = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for _ in range(2)]
    outputs = [r.communicate(timeout=300) for r in racers]
    assert all(r.returncode == 0 for r in racers), outputs
    people = prompted_people(mail_office)
    assert mail_office.scalar(select(func.count()).select_from(Prompt)) == len(people)
    sent = mail_office.scalar(select(func.count()).select_from(OutboundMessage)
                              .where(OutboundMessage.state == OutboundState.SENT))
    assert sent == len(people)
    for person in people:
        assert len(clean_mail.wait_for_messages(person.email, 1)) == 1
    assert all(len(clean_mail.read_messages(p.email)) == 1 for p in people)


def test_reminders_go_on_the_tenth_working_day_to_those_who_have_not_answered(mail_office, mail_settings,
                                                                              clean_mail):
    cld("prompts", "send", "--now", PROMPT_DAY, settings=mail_settings)
    people = prompted_people(mail_office)
    answered = people[0]
    prompt = mail_office.scalar(select(Prompt).where(Prompt.employee_id == answered.id))
    prompt.state = PromptState.ANSWERED
    mail_office.commit()
    # December 2026: the 10th working day is Monday 14 December.
    first = cld("prompts", "send", "--now", "2026-12-14T09:00+07:00", settings=mail_settings)
    again = cld("prompts", "send", "--now", "2026-12-14T15:00+07:00", settings=mail_settings)
    assert f"{len(people) - 1} reminder(s)" in first.stdout
    assert "0 reminder(s)" in again.stdout
    reminded = people[1]
    messages = clean_mail.wait_for_messages(reminded.email, 2)
    assert len(messages) == 2 and ("Pengingat" in messages[1].subject or "Reminder" in messages[1].subject)
    kinds = [m.headers.get("x-cld-kind", ("",))[0] for m in clean_mail.read_messages(answered.email)]
    assert kinds.count("prompt") == 1 and "reminder" not in kinds


def test_closing_the_period_records_missed_sessions_and_tells_each_supervisor_once(mail_office, mail_settings,
                                                                                    clean_mail):
    cld("prompts", "send", "--now", PROMPT_DAY, settings=mail_settings)
    people = prompted_people(mail_office)
    answered = people[0]
    mail_office.scalar(select(Prompt).where(Prompt.employee_id == answered.id)).state = PromptState.ANSWERED
    mail_office.commit()
    closed = cld("period", "close", "2026-12", settings=mail_settings)
    missed = [p for p in people if p.id != answered.id]
    supervisors = {p.supervisor_id for p in missed}
    assert f"{len(missed)} missed, {len(supervisors)} supervisor notice(s)" in closed.stdout
    assert "already closed" in cld("period", "close", "2026-12", settings=mail_settings).stdout
    for supervisor_id in supervisors:
        supervisor = mail_office.get(Employee, supervisor_id)
        notices = [m for m in clean_mail.wait_for_messages(supervisor.email, 1) if "terlewat" in m.subject
                   or "Missed" in m.subject]
        assert len(notices) == 1
        for person in (p for p in missed if p.supervisor_id == supervisor_id):
            assert person.name in notices[0].text and person.nip in notices[0].text
    mail_office.expire_all()
    states = dict(mail_office.execute(select(Prompt.state, func.count()).group_by(Prompt.state)).all())
    assert states == {PromptState.MISSED: len(missed), PromptState.ANSWERED: 1}


def test_closing_due_periods_as_a_job_closes_only_finished_ones(mail_office, mail_settings, clock_at):
    jobs.send_due_prompts(clock_at("2026-12-01T08:00+07:00"))
    assert jobs.close_due_periods(clock_at("2026-12-31T23:59+07:00")) == {"closed": []}
    [report] = jobs.close_due_periods(clock_at("2027-01-01T00:00+07:00"))["closed"]
    assert report["period"] == "2026-12" and not report["already_closed"]
    assert jobs.close_due_periods(clock_at("2027-01-02T00:00+07:00")) == {"closed": []}
