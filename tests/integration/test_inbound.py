"""From a real reply email to a diary entry, across Postfix, Dovecot and PostgreSQL."""

import pytest
from sqlalchemy import func, select

from tests.support.replies import GOOD_FORM, reply_to
from workflow import jobs
from workflow.models import (Employee, Entry, EntryState, InboundMessage, InboundStatus, OutboundMessage, Prompt,
                             PromptState)

pytestmark = pytest.mark.servers

PROMPT_DAY = "2026-12-01T08:00+07:00"
REPLY_DAY = "2026-12-04T09:00+07:00"


@pytest.fixture
def prompted(mail_office, mail_settings, clean_mail, clock_at):
    """The whole office prompted for December 2026; returns a helper to fetch one person's prompt."""
    clock_at(PROMPT_DAY)
    jobs.send_due_prompts()
    jobs.flush_outbox()
    clock_at(REPLY_DAY)

    def prompt_of(person):
        return clean_mail.wait_for_messages(person.email, 1)[0]

    return prompt_of


def staff(session, language="id"):
    """A person with a supervisor, in the given language."""
    return session.scalar(select(Employee).where(Employee.supervisor_id.is_not(None),
                                                 Employee.language == language).order_by(Employee.id))


def poll_and_flush():
    report = jobs.poll_inbox()
    jobs.flush_outbox()
    return report


def test_a_reply_becomes_an_entry_with_every_field_and_a_receipt_and_is_filed(mail_office, mail_settings,
                                                                             clean_mail, prompted):
    person = staff(mail_office)
    prompt = prompted(person)
    clean_mail.deliver(reply_to(prompt, person.email, GOOD_FORM), parse_to(prompt), sender=person.email)
    clean_mail.wait_for_messages(mail_settings.reply_address, 1)
    report = poll_and_flush()
    assert report["statuses"] == {"processed": 1}
    entry = mail_office.scalar(select(Entry))
    assert (entry.employee_id, entry.period, entry.state) == (person.id, "2026-12", EntryState.AWAITING_SIGNOFF)
    assert entry.session_date.isoformat() == "2026-12-03" and entry.duration_minutes == 60
    assert entry.topic == "Penyusunan nilai limit lelang"
    assert entry.rating == "very_useful" and entry.references == "PMK 213/PMK.06/2020"
    assert "tiga kasus" in entry.notes and entry.next_steps == "Mendampingi satu pelaksanaan lelang"
    assert entry.mentor_id == person.supervisor_id
    assert mail_office.scalar(select(Prompt.state).where(Prompt.employee_id == person.id)) == PromptState.ANSWERED
    receipts = [m for m in clean_mail.wait_for_messages(person.email, 2) if "Tercatat" in m.subject]
    assert len(receipts) == 1 and "Penyusunan nilai limit lelang" in receipts[0].text
    assert clean_mail.wait_for_messages(mail_settings.reply_address, 1, folder="CLD/Processed")
    assert clean_mail.read_messages(mail_settings.reply_address) == []


def parse_to(prompt):
    from email.utils import parseaddr

    return parseaddr(prompt.headers["reply-to"][0])[1]


def test_a_bad_reply_gets_a_precise_answer_and_is_kept(mail_office, mail_settings, clean_mail, prompted):
    person = staff(mail_office, "en")
    prompt = prompted(person)
    bad = GOOD_FORM.replace("Penilaian / Rating: 1", "Penilaian / Rating: luar biasa").replace(
        "Tanggal sesi / Session date: 3 Desember 2026", "Tanggal sesi / Session date: 3 Oktober 2026")
    clean_mail.deliver(reply_to(prompt, person.email, bad), parse_to(prompt), sender=person.email)
    clean_mail.wait_for_messages(mail_settings.reply_address, 1)
    assert poll_and_flush()["statuses"] == {"answered": 1}
    assert mail_office.scalar(select(func.count()).select_from(Entry)) == 0
    [answer] = [m for m in clean_mail.wait_for_messages(person.email, 2) if "fix" in m.subject]
    assert "luar biasa" in answer.text and "Rating" in answer.text and "Session date" in answer.text
    assert "Topik / Topic: Penyusunan nilai limit lelang" in answer.text or \
        "Topic / Topik: Penyusunan nilai limit lelang" in answer.text
    stored = mail_office.scalar(select(InboundMessage))
    assert stored.status == InboundStatus.ANSWERED and b"luar biasa" in stored.raw
    assert [t["stage"] for t in stored.trail][-1] == "apply"


def test_an_auto_reply_gets_no_answer_at_all(mail_office, mail_settings, clean_mail, prompted):
    person = staff(mail_office)
    prompt = prompted(person)
    auto = reply_to(prompt, person.email, "Saya sedang cuti sampai 10 Desember.",
                    subject="Balasan otomatis: " + " ".join(prompt.subject.split()), extra_headers={"Auto-Submitted": "auto-replied"})
    clean_mail.deliver(auto, parse_to(prompt), sender=person.email)
    clean_mail.wait_for_messages(mail_settings.reply_address, 1)
    before = mail_office.scalar(select(func.count()).select_from(OutboundMessage))
    assert poll_and_flush()["statuses"] == {"ignored": 1}
    assert mail_office.scalar(select(func.count()).select_from(OutboundMessage)) == before
    assert clean_mail.wait_for_messages(mail_settings.reply_address, 1, folder="CLD/Ignored")
    assert mail_office.scalar(select(InboundMessage.kind)) == "auto_reply"


def test_a_reply_from_another_person_is_refused_and_the_owner_is_told(mail_office, mail_settings, clean_mail,
                                                                     prompted):
    person, other = mail_office.scalars(select(Employee).where(Employee.supervisor_id.is_not(None))
                                        .order_by(Employee.id).limit(2)).all()
    prompt = prompted(person)
    clean_mail.deliver(reply_to(prompt, other.email, GOOD_FORM), parse_to(prompt), sender=other.email)
    clean_mail.wait_for_messages(mail_settings.reply_address, 1)
    assert poll_and_flush()["statuses"] == {"refused": 1}
    assert mail_office.scalar(select(func.count()).select_from(Entry)) == 0
    warnings = [m for m in clean_mail.wait_for_messages(person.email, 2) if "ditolak" in m.subject
                or "refused" in m.subject]
    assert len(warnings) == 1 and other.email in warnings[0].text
    assert clean_mail.read_messages(other.email)[-1:] and all(
        "refused" not in m.subject for m in clean_mail.read_messages(other.email))
    assert clean_mail.wait_for_messages(mail_settings.reply_address, 1, folder="CLD/Failed")


def test_the_same_message_delivered_twice_makes_one_entry(mail_office, mail_settings, clean_mail, prompted):
    person = staff(mail_office)
    prompt = prompted(person)
    message = reply_to(prompt, person.email, GOOD_FORM)
    clean_mail.deliver(message, parse_to(prompt), sender=person.email)
    clean_mail.deliver(message, parse_to(prompt), sender=person.email)
    clean_mail.wait_for_messages(mail_settings.reply_address, 2)
    assert poll_and_flush()["statuses"] == {"processed": 1, "ignored": 1}
    assert mail_office.scalar(select(func.count()).select_from(Entry)) == 1
    assert mail_office.scalar(select(func.count()).select_from(InboundMessage)) == 2
    assert poll_and_flush()["fetched"] == 0


def test_a_reply_routes_by_subject_code_when_the_subaddress_is_dropped(mail_office, mail_settings, clean_mail,
                                                                       prompted):
    person = staff(mail_office)
    prompt = prompted(person)
    message = reply_to(prompt, person.email, GOOD_FORM, to=mail_settings.reply_address)
    del message["In-Reply-To"], message["References"]
    clean_mail.deliver(message, mail_settings.reply_address, sender=person.email)
    clean_mail.wait_for_messages(mail_settings.reply_address, 1)
    assert poll_and_flush()["statuses"] == {"processed": 1}
    assert mail_office.scalar(select(InboundMessage.trail))[3]["via"] == "subject code"


def test_a_form_with_too_many_follow_up_issues_is_answered_not_applied(mail_office, mail_settings, clean_mail,
                                                                       prompted):
    person = staff(mail_office)
    prompt = prompted(person)
    issues = "\n".join(f"- Isu nomor {n} [Unit: Subbagian Umum]" for n in range(mail_settings.max_followups_per_form + 1))
    form = GOOD_FORM.replace("- Akses aplikasi lelang sering terputus [Unit: Seksi Kepatuhan Internal, Hukum dan "
                             "Informasi]", issues)
    clean_mail.deliver(reply_to(prompt, person.email, form), parse_to(prompt), sender=person.email)
    clean_mail.wait_for_messages(mail_settings.reply_address, 1)
    assert poll_and_flush()["statuses"] == {"answered": 1}
    assert mail_office.scalar(select(func.count()).select_from(Entry)) == 0
