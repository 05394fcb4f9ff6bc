"""Forged, replayed and abusive mail: nothing is applied that the token's owner did not send, nothing from our
own mail or another robot starts a loop, and nothing a person typed reaches a header, a script or a formula."""

from __future__ import annotations

import base64
import email
import email.policy
import io
import logging
import re
import secrets
from datetime import timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import func, select

from tests.reliability.support import (
    good_form,
    header_block,
    prompt_everyone,
    prompt_token,
    reply,
)
from tests.support.diary_rows import make_entry, person, request_of, token_of
from workflow import signoff
from workflow.models import (
    Entry,
    EntryState,
    FollowUp,
    InboundMessage,
    InboundStatus,
    OutboundMessage,
    ReplyToken,
    Signature,
    SignoffRequest,
    SignoffState,
    TokenPurpose,
)


@pytest.fixture
def prompted(office, settings):
    """Everyone in the example office prompted for the current period, committed."""
    prompt_everyone(office, settings)
    office.commit()
    return office


def outbox(session, kind=None, to=None):
    session.expire_all()
    rows = session.scalars(select(OutboundMessage).order_by(OutboundMessage.id)).all()
    return [r for r in rows if (kind is None or r.kind == kind) and (to is None or to.lower() in r.recipients)]


def entries(session):
    session.expire_all()
    return session.scalars(select(Entry)).all()


def b64word(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


def decision(settings, who, token: ReplyToken, body: str, **kw) -> EmailMessage:
    return reply(settings, who, token, body, subject=f"Re: [CLD-{token.short_code}] Mohon persetujuan", **kw)


LOOKALIKES = {
    "another employee": lambda dewi, other: other.email,
    "owner's name as display name": lambda dewi, other: f'"{dewi.name}" <attacker@evil.test>',
    "owner's address as display name": lambda dewi, other: f'"{dewi.email}" <attacker@evil.test>',
    "owner's address in an encoded word": lambda dewi, other: f"{b64word(dewi.name + ' <' + dewi.email + '>')} "
                                                              "<attacker@evil.test>",
    "homoglyph domain rn for m": lambda dewi, other: dewi.email.replace("example", "exarnple"),
    "cyrillic e in the domain": lambda dewi, other: dewi.email.replace("example", "\u0435xample"),
    "cyrillic e in the local part": lambda dewi, other: dewi.email.replace("e", "\u0435", 1),
    "owner in a comment": lambda dewi, other: f"attacker@evil.test ({dewi.email})",
}


@pytest.mark.parametrize("how", list(LOOKALIKES))
def test_a_reply_from_anyone_but_the_tokens_owner_is_refused_and_the_owner_is_told(prompted, settings, feed, how):
    dewi, kevin = person(prompted, "dewi"), person(prompted, "kevin")
    message = reply(settings, "placeholder@x.test", prompt_token(prompted, dewi), good_form(settings))
    # The From line goes on the wire exactly as written (the email package would re-encode it).
    raw = message.as_bytes(policy=email.policy.SMTP).replace(
        b"From: placeholder@x.test", b"From: " + LOOKALIKES[how](dewi, kevin).encode("utf-8"))
    row = feed(raw)
    assert (row.status, row.kind) == (InboundStatus.REFUSED, "foreign_sender"), row.trail
    assert entries(prompted) == []
    [warning] = outbox(prompted, "foreign_sender")
    assert warning.recipients == [dewi.email]  # the owner hears of it; the forger gets nothing
    assert [m for m in outbox(prompted) if m.in_reply_to_inbound_id == row.id] == []


def test_a_token_for_another_persons_entry_or_decision_is_refused(prompted, settings, feed):
    dewi, kevin, made = person(prompted, "dewi"), person(prompted, "kevin"), person(prompted, "made")
    # Kevin answers his own prompt with Dewi's token (a forwarded prompt): refused, Dewi is told.
    row = feed(reply(settings, kevin, prompt_token(prompted, dewi), good_form(settings)))
    assert row.status == InboundStatus.REFUSED and entries(prompted) == []
    # Made, a supervisor but not Dewi's, decides on Dewi's entry with Bambang's one-time token: refused.
    entry = make_entry(prompted, settings, dewi)
    bambang_token = token_of(prompted, request_of(prompted, entry))
    row = feed(decision(settings, made, bambang_token, "SETUJU"))
    assert row.status == InboundStatus.REFUSED
    prompted.expire_all()
    assert request_of(prompted, entry).state == SignoffState.PENDING and bambang_token.used_at is None
    # Made answers Kevin's entry with his own token but names Dewi's request in the subject: the reply address
    # decides, so only Kevin's entry is signed.
    kevin_entry = make_entry(prompted, settings, kevin)
    made_token = token_of(prompted, request_of(prompted, kevin_entry))
    message = decision(settings, made, made_token, "SETUJU")
    message.replace_header("Subject", f"Re: [CLD-{bambang_token.short_code}] Mohon persetujuan")
    row = feed(message)
    assert (row.status, row.kind) == (InboundStatus.PROCESSED, "signed")
    assert [s.entry_id for s in prompted.scalars(select(Signature))] == [kevin_entry.id]
    assert request_of(prompted, entry).state == SignoffState.PENDING


def test_a_used_an_expired_or_a_guessed_token_changes_nothing(prompted, settings, feed, clock_at):
    dewi, bambang = person(prompted, "dewi"), person(prompted, "bambang")
    entry = make_entry(prompted, settings, dewi)
    token = token_of(prompted, request_of(prompted, entry))
    assert feed(decision(settings, bambang, token, "SETUJU")).kind == "signed"
    # Used: the same one-time token again, even with the other decision.
    again = feed(decision(settings, bambang, token, "REVISI\nAlasan / Reasons: ubah topik"))
    assert (again.status, again.kind) == (InboundStatus.ANSWERED, "already_decided")
    prompted.expire_all()
    assert prompted.get(Entry, entry.id).state == EntryState.SIGNED
    assert prompted.scalar(select(func.count()).select_from(Signature)) == 1
    # Guessed: a well-formed token and short code that were never issued.
    guess = ReplyToken(token=secrets.token_hex(16), short_code=secrets.token_hex(6))
    made_up = reply(settings, dewi, guess, good_form(settings))
    row = feed(made_up)
    assert (row.status, row.kind) == (InboundStatus.ANSWERED, "unrouted") and len(entries(prompted)) == 1
    stranger = feed(reply(settings, "stranger@evil.test", guess, good_form(settings)))
    assert (stranger.status, stranger.kind) == (InboundStatus.IGNORED, "unknown_sender")
    assert outbox(prompted, to="stranger@evil.test") == []  # no backscatter to forged senders
    # Expired: Kevin's prompt token, answered after it ran out.
    kevin = person(prompted, "kevin")
    kevin_token = prompt_token(prompted, kevin)
    clock_at((kevin_token.expires_at + timedelta(minutes=1)).isoformat())
    late = feed(reply(settings, kevin, kevin_token, good_form(settings)))
    assert (late.status, late.kind) == (InboundStatus.ANSWERED, "token_expired")
    assert [e.employee_id for e in entries(prompted)] == [dewi.id]


def test_a_decision_on_an_old_version_of_an_entry_is_refused(prompted, settings, feed):
    dewi, bambang = person(prompted, "dewi"), person(prompted, "bambang")
    entry = make_entry(prompted, settings, dewi)
    first = token_of(prompted, request_of(prompted, entry))
    # A second live token for version 1, as an escalated or renewed request carries.
    spare = signoff._issue(prompted, settings, bambang, entry)
    prompted.commit()
    assert feed(decision(settings, bambang, first, "REVISI\nAlasan / Reasons: lengkapi referensi")).kind == \
        "revision_requested"
    revision = prompted.scalar(select(ReplyToken).where(ReplyToken.entry_id == entry.id,
                                                        ReplyToken.purpose == TokenPurpose.PROMPT))
    assert feed(reply(settings, dewi, revision, good_form(settings))).kind == "revised_entry"
    stale = feed(decision(settings, bambang, spare, "SETUJU"))
    assert (stale.status, stale.kind) == (InboundStatus.ANSWERED, "decision_old_version")
    prompted.expire_all()
    current = prompted.get(Entry, entry.id)
    assert (current.version, current.state) == (2, EntryState.AWAITING_SIGNOFF)
    assert prompted.scalar(select(func.count()).select_from(Signature)) == 0
    assert request_of(prompted, current).state == SignoffState.PENDING


HEADERS_WE_WRITE = {b"from", b"to", b"cc", b"subject", b"date", b"message-id", b"reply-to", b"in-reply-to",
                    b"references", b"auto-submitted", b"x-auto-response-suppress", b"content-language",
                    b"mime-version", b"content-type", b"content-transfer-encoding", b"x-cld-kind"}


def test_cr_and_lf_in_names_subjects_and_form_values_never_reach_an_outgoing_header(prompted, settings, feed):
    dewi, kevin = person(prompted, "dewi"), person(prompted, "kevin")
    dewi.name = "Dewi\r\nBcc: evil1@evil.test\r\nX-Injected: name"
    person(prompted, "bambang").name = "Bambang\nBcc: evil2@evil.test"
    prompted.commit()
    injected_subject = b64word("Re: catatan\r\nBcc: evil3@evil.test\r\nX-Injected: subject")
    form = good_form(settings).replace("Mentor:", "Mentor: Bambang\rBcc: evil4@evil.test").replace(
        "Penyusunan nilai limit lelang", "Limit lelang =?utf-8?q?=0D=0ABcc:_evil5@evil.test?=")
    message = reply(settings, dewi, prompt_token(prompted, dewi), form)
    message.replace_header("Subject", "placeholder")
    raw = message.as_bytes(policy=email.policy.SMTP).replace(b"Subject: placeholder", b"Subject: " +
                                                               injected_subject.encode())
    assert feed(raw).status == InboundStatus.PROCESSED
    bad = reply(settings, dewi, prompt_token(prompted, dewi), "Rating: luar biasa\r\nBcc: evil6@evil.test")
    assert feed(bad).status == InboundStatus.ANSWERED
    forged = reply(settings, kevin, prompt_token(prompted, dewi), "x")
    forged.replace_header("Subject", "placeholder")
    assert feed(forged.as_bytes(policy=email.policy.SMTP).replace(b"Subject: placeholder", b"Subject: " +
                                                                  injected_subject.encode())).status == \
        InboundStatus.REFUSED
    sent = outbox(prompted)
    assert {m.kind for m in sent} >= {"receipt", "signoff_request", "form_problems", "foreign_sender"}
    for row in sent:
        lines = header_block(row.raw)
        names = {line.split(b":", 1)[0].strip().lower() for line in lines}
        assert names <= HEADERS_WE_WRITE, (row.kind, names - HEADERS_WE_WRITE)
        head = row.raw.split(b"\r\n\r\n", 1)[0]
        assert b"\r" not in head.replace(b"\r\n", b"") and b"\n" not in head.replace(b"\r\n", b"")
        parsed = email.message_from_bytes(row.raw, policy=email.policy.default)
        assert parsed["Bcc"] is None and parsed["X-Injected"] is None
        assert not any("evil" in a for a in row.recipients), row.kind
        assert [a.addr_spec for a in parsed["To"].addresses] == row.recipients


SCRIPT = "<script>alert('cld')</script>"
IMAGE = '<img src="http://evil.test/pixel.png" onerror="alert(1)">'
FORMULA = '=HYPERLINK("http://evil.test/","klik")'


def test_html_and_script_in_any_field_are_shown_as_text_in_emails_reports_and_pdfs(prompted, settings, tmp_path):
    from openpyxl import load_workbook
    from pypdf import PdfReader

    from workflow import diarybook, reports
    from workflow.report_files import xlsx_bytes

    dewi = person(prompted, "dewi")
    dewi.name = f"<b>Dewi</b>{SCRIPT}"
    entry = make_entry(prompted, settings, dewi, topic=f"Topik {SCRIPT}", notes=f"Catatan {IMAGE}",
                       references=FORMULA, next_steps="@SUM(1+1)*cmd|' /C calc'!A0")
    issue = FollowUp(entry_id=entry.id, employee_id=dewi.id, raised_by_id=dewi.id, source="entry",
                     text=f"{FORMULA} {SCRIPT}", unit_id=dewi.unit_id, deadline=entry.session_date)
    prompted.add(issue)
    prompted.commit()
    for message in outbox(prompted, "signoff_request"):
        parsed = email.message_from_bytes(message.raw, policy=email.policy.default)
        html = parsed.get_body(("html",)).get_content()
        assert "<script" not in html.lower() and re.search(r"<img[^>]*evil", html) is None
        assert "&lt;script&gt;" in html and "&lt;img src=" in html and "&lt;b&gt;Dewi&lt;/b&gt;" in html
    book = tmp_path / "book.pdf"
    diarybook.write_book(prompted, settings, dewi, entry.session_date.year, book)
    reader = PdfReader(str(book))
    text = "".join(page.extract_text() for page in reader.pages)
    assert "<script>alert('cld')</script>" in text and "<img src=" in text
    links = [a for page in reader.pages for a in (page.get("/Annots") or [])]
    assert not any("evil.test" in str(a.get_object()) for a in links)
    report = reports.monthly_report(prompted, settings, entry.period)
    workbook = load_workbook(io.BytesIO(xlsx_bytes(report)))
    cells = [cell for sheet in workbook for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"], "a user value became a formula"
    shown = " ".join(str(c.value) for c in cells)
    assert "HYPERLINK" in shown and "<b>Dewi</b>" in shown
    import csv
    import zipfile

    from workflow.report_files import csv_zip_bytes

    with zipfile.ZipFile(io.BytesIO(csv_zip_bytes(report))) as archive:
        values = [v for name in archive.namelist() for row in csv.reader(io.StringIO(
            archive.read(name).decode("utf-8-sig"))) for v in row]
    assert any("HYPERLINK" in v for v in values)
    assert not [v for v in values if v[:1] in ("=", "+", "@")], "a CSV cell would run as a formula"


def test_mail_loops_with_an_auto_responder_and_with_our_own_address_end_after_at_most_one_answer(prompted,
                                                                                               settings, feed):
    dewi = person(prompted, "dewi")
    token = prompt_token(prompted, dewi)
    first = feed(reply(settings, dewi, token, "Penilaian / Rating: luar biasa"))
    assert first.status == InboundStatus.ANSWERED
    [answer] = outbox(prompted, to=dewi.email, kind="form_problems")
    ours = email.message_from_bytes(answer.raw, policy=email.policy.default)
    responders = [
        {"Auto-Submitted": "auto-replied"},  # RFC 3834
        {"X-Autoreply": "yes"},
        {"Precedence": "auto_reply"},
        {"X-MS-Exchange-Inbox-Rules-Loop": dewi.email},
        {},  # marked only by its subject
    ]
    for headers in responders:
        auto = reply(settings, dewi, token, "Saya sedang cuti sampai 10 Desember.",
                     subject=f"Balasan otomatis: {ours['Subject']}", extra_headers=headers,
                     to=str(ours["Reply-To"] or settings.reply_address))
        auto["In-Reply-To"] = ours["Message-ID"]
        assert feed(auto).status == InboundStatus.IGNORED
    # Our own answer looped straight back (a forwarding rule, a misconfigured alias), and mail from our
    # own sub-address: both are ours, never answered.
    looped = feed(answer.raw)
    assert (looped.status, looped.kind) == (InboundStatus.IGNORED, "own")
    own = reply(settings, settings.reply_address_for(token.token), token, good_form(settings))
    assert feed(own).kind == "own"
    assert len(outbox(prompted, to=dewi.email, kind="form_problems")) == 1
    assert len([m for m in outbox(prompted) if m.in_reply_to_inbound_id is not None]) == 1


@pytest.mark.servers
def test_a_flood_from_one_sender_is_rate_limited_and_the_inbox_keeps_moving_for_others(mail_office, mail_settings,
                                                                                        clean_mail, caplog):
    from workflow import jobs

    people = prompt_everyone(mail_office, mail_settings)
    mail_office.commit()
    flooder, other = people[0], people[1]
    with clean_mail.mailbox(mail_settings.reply_address) as mailbox:
        for n in range(1000):
            raw = reply(mail_settings, flooder, None, f"Pesan ke-{n}", subject=f"Halo {n}")
            mailbox.append(raw.as_bytes(policy=email.policy.SMTP), "INBOX")
        mailbox.append(reply(mail_settings, other, prompt_token(mail_office, other), good_form(mail_settings))
                       .as_bytes(policy=email.policy.SMTP), "INBOX")
    caplog.set_level(logging.INFO)
    report = jobs.poll_inbox()
    assert report["fetched"] == 1001 and sum(report["statuses"].values()) == 1001
    mail_office.expire_all()
    assert [e.employee_id for e in mail_office.scalars(select(Entry))] == [other.id]
    answers = [m for m in outbox(mail_office, to=flooder.email) if m.in_reply_to_inbound_id is not None]
    assert len(answers) == mail_settings.answers_per_address_per_day
    assert mail_office.scalar(select(func.count()).select_from(InboundMessage).where(
        InboundMessage.status == InboundStatus.STORED)) == 0
    assert "answer limit reached" in caplog.text


@pytest.mark.servers
def test_tokens_and_message_bodies_never_appear_in_logs_at_info_level(mail_office, mail_settings, clean_mail,
                                                                      caplog):
    from workflow import jobs
    from workflow.models import Unit

    caplog.set_level(logging.INFO)
    people = prompt_everyone(mail_office, mail_settings)
    mail_office.commit()
    dewi = next(p for p in people if p.supervisor_id)
    body = good_form(mail_settings).replace("Membahas tiga kasus", "RAHASIA-CATATAN-7731 tiga kasus")
    clean_mail.append(mail_settings.reply_address, reply(mail_settings, dewi, prompt_token(mail_office, dewi), body))
    clean_mail.append(mail_settings.reply_address, reply(mail_settings, people[-1], prompt_token(mail_office, dewi),
                                                         "RAHASIA-PALSU-4410"))
    jobs.poll_inbox()
    jobs.flush_outbox()
    mail_office.expire_all()
    request = mail_office.scalar(select(SignoffRequest))
    token = mail_office.get(ReplyToken, request.token_id)
    clean_mail.append(mail_settings.reply_address, decision(mail_settings, token.owner, token,
                                                            "SETUJU\nReviu / Review: RAHASIA-REVIU-5521"))
    jobs.poll_inbox()
    issue = mail_office.scalar(select(FollowUp))
    unit_token = mail_office.scalar(select(ReplyToken).where(ReplyToken.followup_id == issue.id))
    unit = mail_office.get(Unit, issue.unit_id)
    clean_mail.append(mail_settings.reply_address, reply(mail_settings, unit.email, unit_token,
                                                         "SELESAI\nCatatan: RAHASIA-UNIT-9902"))
    jobs.poll_inbox()
    jobs.flush_outbox()
    mail_office.expire_all()
    assert mail_office.scalar(select(FollowUp.state)).value == "resolved"
    assert mail_office.scalar(select(func.count()).select_from(Signature)) == 1
    logged = caplog.text
    assert "inbound" in logged  # the flow was logged, just not its secrets
    secrets_ = [t.token for t in mail_office.scalars(select(ReplyToken))] + [
        t.short_code for t in mail_office.scalars(select(ReplyToken))]
    assert secrets_ and not [s for s in secrets_ if s in logged]
    for marker in ("RAHASIA", "tiga kasus", "Penyusunan nilai limit"):
        assert marker not in logged
