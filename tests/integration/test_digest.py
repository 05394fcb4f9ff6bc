"""The period-close digest through the real Postfix and Dovecot, with the XLSX report attached."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from tests.integration.test_reports import REPORT_DAY, build_november, person
from workflow import digest, outbox, prompts
from workflow.db import session_factory
from workflow.models import OutboundMessage, PromptState

pytestmark = pytest.mark.servers


def subject(message) -> str:
    """The subject unfolded (imap_tools keeps the folding of a long header)."""
    return " ".join(message.subject.split())


@pytest.fixture
def closed_november(mail_office, mail_settings, engine, clock_at):
    clock_at(REPORT_DAY)
    build_november(mail_office, unanswered=PromptState.SENT)
    result = prompts.close_period(session_factory(engine), mail_settings, "2026-11",
                                  on_close=digest.on_close(mail_settings))
    assert len(result.missed) == 31
    return result


def test_the_head_of_office_and_hr_get_the_digest_with_a_readable_xlsx(mail_office, mail_settings, engine,
                                                                       clean_mail, closed_november):
    outbox.flush(session_factory(engine), mail_settings)
    head = person(mail_office, "Dr. Hendra")
    for address in (head.email, mail_settings.hr_email):
        [message] = [m for m in clean_mail.wait_for_messages(address, 1) if "Ringkasan" in subject(m)]
        assert subject(message).startswith("Ringkasan coaching November 2026: 13% selesai")
        assert "5 dari 38 pegawai (13%)" in message.text and "5 of 38 employees (13%)" in message.text
        assert "Joko Susilo (Seksi Piutang Negara)" in message.text  # missed, so named
        assert "Data piutang macet belum dimutakhirkan" in message.text  # overdue, so listed
        assert "VPN sering terputus" not in message.text  # open but within its deadline
        assert "Seksi Pelayanan Lelang" in message.html and "<table" in message.html
        [attachment] = message.attachments
        assert attachment.filename == "cld-report-2026-11.xlsx"
        book = load_workbook(io.BytesIO(attachment.payload))
        units = book["Unit - Units"]
        assert [row[:3] for row in units.iter_rows(min_row=2, values_only=True)][-1] == ("Kantor / Office", 38, 5)
        assert len(units._charts) == 1


def test_each_supervisor_gets_their_own_team_in_their_language(mail_office, mail_settings, engine, clean_mail,
                                                              closed_november):
    outbox.flush(session_factory(engine), mail_settings)
    sri = person(mail_office, "Sri Rahayu")
    # Sri also gets the missed-sessions notice; pick the team digest.
    [message] = [m for m in clean_mail.wait_for_messages(sri.email, 2) if "tim Anda" in subject(m)]
    assert subject(message).startswith("Coaching tim Anda November 2026: 2/6")
    assert "Nur Aini (NIP" in message.text and "Ditandatangani / Signed" in message.text
    assert "Yohanes Sitorus" in message.text and "Perlu perbaikan / Revision requested" in message.text
    assert "Masih ada 1 catatan yang menunggu persetujuan Anda" in message.text
    assert "Kevin" not in message.text and not message.attachments
    yudi = person(mail_office, "Yudi Firmansyah")  # reads English
    [english] = [m for m in clean_mail.wait_for_messages(yudi.email, 2) if "team" in subject(m)]
    assert subject(english).startswith("Your team's coaching November 2026: 0/7")


def test_closing_again_or_queueing_again_sends_nothing_twice(mail_office, mail_settings, engine, closed_november):
    def count():
        return mail_office.scalar(select(func.count()).select_from(OutboundMessage)
                                  .where(OutboundMessage.kind.in_(("digest", "team_digest"))))

    queued = count()
    # Head and HR, plus supervisors of prompted people: the head, five unit heads and Made Wirawan.
    assert queued == 2 + 7
    again = prompts.close_period(session_factory(engine), mail_settings, "2026-11",
                                 on_close=digest.on_close(mail_settings))
    assert again.already_closed
    with session_factory(engine)() as other:
        assert digest.queue_digests(other, mail_settings, "2026-11") == 0
        other.commit()
    assert count() == queued


def test_no_hr_mailbox_means_only_the_head_gets_the_digest(mail_office, mail_settings, engine, clock_at):
    clock_at(REPORT_DAY)
    build_november(mail_office)
    settings = mail_settings.model_copy(update={"hr_email": ""})
    with session_factory(engine)() as other:
        assert digest.queue_digests(other, settings, "2026-11") == 1 + 7
        other.commit()
        kinds = other.scalars(select(OutboundMessage.recipients).where(OutboundMessage.kind == "digest")).all()
    assert kinds == [[person(mail_office, "Dr. Hendra").email]]
