"""When we fail, or the mail does: a system error is kept for `cld inbox retry`; a DMARC failure goes to review."""

from email.utils import parseaddr

import pytest
from sqlalchemy import func, select

from tests.support.replies import GOOD_FORM, reply_to
from workflow import jobs
from workflow.models import Employee, Entry, InboundMessage, InboundStatus
from workflow.settings import use_settings

pytestmark = pytest.mark.servers


@pytest.fixture
def one_prompt(mail_office, mail_settings, clean_mail, clock_at):
    clock_at("2026-12-01T08:00+07:00")
    jobs.send_due_prompts()
    jobs.flush_outbox()
    clock_at("2026-12-04T09:00+07:00")
    person = mail_office.scalar(select(Employee).where(Employee.supervisor_id.is_not(None)).order_by(Employee.id))
    return person, clean_mail.wait_for_messages(person.email, 1)[0]


def deliver(clean_mail, prompt, person, **headers):
    to = parseaddr(prompt.headers["reply-to"][0])[1]
    clean_mail.deliver(reply_to(prompt, person.email, GOOD_FORM, extra_headers=headers), to, sender=person.email)


def test_a_system_error_keeps_the_message_in_cld_failed_with_its_traceback_and_retry_processes_it(
        mail_office, mail_settings, clean_mail, one_prompt, monkeypatch):
    from workflow import diary, inbound
    from workflow.db import session_factory

    person, prompt = one_prompt

    def broken(ctx):
        raise RuntimeError("the database went away mid-entry")

    monkeypatch.setattr(diary, "apply_reply", broken)
    deliver(clean_mail, prompt, person)
    clean_mail.wait_for_messages(mail_settings.reply_address, 1)
    assert jobs.poll_inbox()["statuses"] == {"failed": 1}
    row = mail_office.scalar(select(InboundMessage))
    assert row.status == InboundStatus.FAILED and "the database went away mid-entry" in row.error
    assert "Traceback" in row.error
    assert clean_mail.wait_for_messages(mail_settings.reply_address, 1, folder="CLD/Failed")
    assert mail_office.scalar(select(func.count()).select_from(Entry)) == 0
    monkeypatch.undo()
    status = inbound.retry(session_factory(mail_office.get_bind()), mail_settings, row.id)
    assert status == InboundStatus.PROCESSED
    assert mail_office.scalar(select(func.count()).select_from(Entry)) == 1
    mail_office.expire_all()
    assert [t["stage"] for t in mail_office.get(InboundMessage, row.id).trail].count("retry") == 1
    from workflow.inbox import refile_after_retry

    assert refile_after_retry(mail_settings, session_factory(mail_office.get_bind()), row.id)
    assert clean_mail.read_messages(mail_settings.reply_address, "CLD/Failed") == []
    assert len(clean_mail.read_messages(mail_settings.reply_address, "CLD/Processed")) == 1


def test_a_dmarc_failure_from_our_own_mail_server_holds_the_reply_for_review(mail_office, mail_settings,
                                                                             clean_mail, one_prompt):
    use_settings(mail_settings.model_copy(update={"trusted_authserv_id": "mx.office.example"}))
    person, prompt = one_prompt
    deliver(clean_mail, prompt, person, **{
        "Authentication-Results": "mx.office.example; dkim=fail header.d=example.test; dmarc=fail "
                                  "header.from=example.test"})
    clean_mail.wait_for_messages(mail_settings.reply_address, 1)
    assert jobs.poll_inbox()["statuses"] == {"review": 1}
    assert mail_office.scalar(select(func.count()).select_from(Entry)) == 0
    assert clean_mail.wait_for_messages(mail_settings.reply_address, 1, folder="CLD/Failed")


def test_authentication_results_from_another_server_are_not_trusted(mail_office, mail_settings, clean_mail,
                                                                    one_prompt):
    use_settings(mail_settings.model_copy(update={"trusted_authserv_id": "mx.office.example"}))
    person, prompt = one_prompt
    # A sender can write any header; only our own server's verdict counts, so this one is ignored.
    deliver(clean_mail, prompt, person, **{"Authentication-Results": "evil.example; dmarc=fail"})
    clean_mail.wait_for_messages(mail_settings.reply_address, 1)
    assert jobs.poll_inbox()["statuses"] == {"processed": 1}
    [verdict] = [t for t in mail_office.scalar(select(InboundMessage.trail)) if t["stage"] == "authenticate"]
    assert verdict["decision"] == "ok" and "no trusted Authentication-Results" in verdict["verdict"]
