"""Follow-up issues: opened to the right unit with a deadline, answered by the unit with PROSES / SELESAI."""

from datetime import date

import pytest
from sqlalchemy import select

from tests.integration.test_signoff import poll, send_reply, wait_for
from tests.support.diary_rows import make_entry, person, reply_context, unit
from workflow import followups, jobs
from workflow.models import FollowUp, FollowUpState, InboundStatus, OutboundMessage, ReplyToken, TokenPurpose
from workflow.office import office_calendar

OPENED = "2026-12-04T09:00+07:00"


@pytest.fixture(autouse=True)
def on_the_day_issues_are_opened(clock_at):
    clock_at(OPENED)


def open_for(session, settings, items, *, by="bambang"):
    entry = make_entry(session, settings, person(session, "dewi"), request=False)
    opened = followups.open_issues(session, settings, entry, items, source="review", raised_by=person(session, by))
    session.commit()
    return opened


def notices(session):
    return session.scalars(select(OutboundMessage).where(OutboundMessage.kind == "followup_notice")
                           .order_by(OutboundMessage.id)).all()


def test_each_issue_goes_to_the_unit_it_names_and_an_unknown_unit_goes_to_general_affairs(office, settings):
    issues = open_for(office, settings, [{"text": "Akses aplikasi lelang putus", "unit": "Seksi Lelang"},
                                         {"text": "Printer rusak", "unit": "Bagian Rumah Tangga"},
                                         {"text": "Ruang arsip penuh", "unit": None}])
    assert [i.unit.name for i in issues] == ["Seksi Pelayanan Lelang", "Subbagian Umum", "Subbagian Umum"]
    assert [i.unit_as_written for i in issues] == ["Seksi Lelang", "Bagian Rumah Tangga", ""]
    expected = office_calendar(settings).add_working_days(date(2026, 12, 4), settings.followup_deadline_days)
    assert all(i.deadline == expected and i.state == FollowUpState.OPEN for i in issues)
    assert [n.recipients for n in notices(office)] == [["lelang@example.test"], ["umum@example.test"],
                                                      ["umum@example.test"]]


def test_each_issue_has_a_reusable_token_for_its_unit_and_the_notice_says_how_to_answer(office, settings):
    [issue] = open_for(office, settings, [{"text": "Akses aplikasi lelang putus", "unit": "Lelang"}])
    token = office.scalar(select(ReplyToken).where(ReplyToken.followup_id == issue.id))
    assert (token.purpose, token.owner_unit_id, token.one_time) == (TokenPurpose.FOLLOWUP, issue.unit_id, False)
    [notice] = notices(office)
    raw = notice.raw.decode()
    assert f"Reply-To: cld+{token.token}@office.example" in raw and f"[CLD-{token.short_code}]" in notice.subject
    assert "PROSES" in raw and "SELESAI" in raw and "Akses aplikasi lelang putus" in raw


def test_a_unit_without_a_mailbox_gets_its_notice_through_its_head(office, settings):
    lelang = unit(office, "Seksi Pelayanan Lelang")
    lelang.email = None
    office.commit()
    open_for(office, settings, [{"text": "Akses aplikasi lelang putus", "unit": "Lelang"}])
    assert notices(office)[0].recipients == [person(office, "ratna").email]


def test_the_same_issue_is_not_opened_twice_for_one_entry(office, settings):
    entry = make_entry(office, settings, person(office, "dewi"), request=False)
    item = [{"text": "Printer rusak", "unit": "Umum"}]
    first = followups.open_issues(office, settings, entry, item, source="entry", raised_by=person(office, "dewi"))
    again = followups.open_issues(office, settings, entry, item, source="entry", raised_by=person(office, "dewi"))
    assert len(first) == 1 and again == []


def answer(session, settings, issue, body, sender="lelang@example.test"):
    token = session.scalar(select(ReplyToken).where(ReplyToken.followup_id == issue.id))
    ctx = reply_context(session, settings, token, sender, body)
    outcome = followups.apply_status(ctx)
    session.commit()
    return outcome


def test_proses_with_a_target_date_marks_it_in_progress_and_moves_the_deadline(office, settings):
    [issue] = open_for(office, settings, [{"text": "Akses aplikasi lelang putus", "unit": "Lelang"}])
    outcome = answer(office, settings, issue, "PROSES\nTarget: 18/12/2026\nSedang koordinasi dengan vendor.")
    assert outcome.status == InboundStatus.PROCESSED
    assert (issue.state, issue.deadline) == (FollowUpState.IN_PROGRESS, date(2026, 12, 18))


def test_selesai_resolves_it_with_the_note_and_tells_the_employee_and_the_supervisor(office, settings):
    [issue] = open_for(office, settings, [{"text": "Akses aplikasi lelang putus", "unit": "Lelang"}])
    outcome = answer(office, settings, issue, "SELESAI - jaringan sudah diperbaiki", sender=person(office, "ratna").email)
    assert outcome.kind == "followup_resolved"
    assert (issue.state, issue.resolution_note) == (FollowUpState.RESOLVED, "jaringan sudah diperbaiki")
    assert issue.resolved_at is not None
    told = office.scalars(select(OutboundMessage).where(OutboundMessage.kind == "followup_resolved")).all()
    assert sorted(r for m in told for r in m.recipients) == sorted([person(office, "dewi").email,
                                                                   person(office, "bambang").email])


@pytest.mark.parametrize("body", ["Terima kasih", "Belum selesai", "Selesai?", "PROSES\nTarget: kapan-kapan",
                                  "PROSES\nTarget: 1/12/2026"])
def test_an_unclear_status_or_a_bad_target_date_is_asked_again_and_changes_nothing(office, settings, body):
    [issue] = open_for(office, settings, [{"text": "Akses aplikasi lelang putus", "unit": "Lelang"}])
    outcome = answer(office, settings, issue, body)
    assert (outcome.status, outcome.kind) == (InboundStatus.ANSWERED, "followup_status_unclear")
    assert issue.state == FollowUpState.OPEN and issue.deadline == date(2026, 12, 11)


def test_a_status_for_a_resolved_issue_is_answered_and_changes_nothing(office, settings):
    [issue] = open_for(office, settings, [{"text": "Akses aplikasi lelang putus", "unit": "Lelang"}])
    answer(office, settings, issue, "SELESAI sudah")
    outcome = answer(office, settings, issue, "PROSES")
    assert outcome.kind == "followup_already_resolved" and issue.state == FollowUpState.RESOLVED


@pytest.mark.servers
def test_the_unit_resolves_an_issue_by_reply_and_the_employee_and_supervisor_hear_of_it(mail_office, mail_settings,
                                                                                       clean_mail):
    dewi, bambang = person(mail_office, "dewi"), person(mail_office, "bambang")
    lelang = unit(mail_office, "Seksi Pelayanan Lelang")
    [issue] = open_for(mail_office, mail_settings, [{"text": "Akses aplikasi lelang putus", "unit": "Seksi Lelang"}])
    jobs.flush_outbox()
    [notice] = wait_for(clean_mail, lelang.email, "Isu tindak lanjut")
    send_reply(clean_mail, notice, lelang.email, "SELESAI\nJaringan sudah diperbaiki oleh vendor.", mail_settings)
    assert poll() == {"processed": 1}
    mail_office.expire_all()
    assert mail_office.get(FollowUp, issue.id).state == FollowUpState.RESOLVED
    for address in (dewi.email, bambang.email):
        [told] = wait_for(clean_mail, address, "Selesai")
        assert "Jaringan sudah diperbaiki oleh vendor." in told.text
