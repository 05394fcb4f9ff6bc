"""Screening: mail no person wrote is recognised, and ordinary replies pass through."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflow.mail.extract import parse_bytes
from workflow.mail.screen import classify_automatic

OWN = ("cld@office.example",)
CORPUS = Path(__file__).resolve().parents[1] / "mail"


def mail(*headers: str, body: str = "Isi pesan") -> object:
    base = ["From: Budi Santoso <budi.santoso@office.example>", "To: cld@office.example",
            "Subject: Re: [CLD-0123456789ab] Sesi coaching"]
    names = {h.split(":")[0].lower() for h in headers}
    kept = [h for h in base if h.split(":")[0].lower() not in names]
    return parse_bytes(("\r\n".join(kept + list(headers)) + "\r\n\r\n" + body).encode())


def kind_of(msg) -> str | None:
    verdict = classify_automatic(msg, OWN)
    return verdict.kind if verdict else None


def test_an_ordinary_reply_is_not_automatic():
    assert classify_automatic(mail(), OWN) is None


def test_x_auto_response_suppress_alone_does_not_make_a_reply_automatic():
    assert classify_automatic(mail("X-Auto-Response-Suppress: All"), OWN) is None


def test_auto_submitted_no_is_a_person():
    assert classify_automatic(mail("Auto-Submitted: no"), OWN) is None


@pytest.mark.parametrize("header", ["Auto-Submitted: auto-replied", "Auto-Submitted: auto-generated",
                                    "X-Autoreply: yes", "X-Autorespond: yes", "Precedence: auto_reply",
                                    "X-MS-Exchange-Inbox-Rules-Loop: budi.santoso@office.example"])
def test_automatic_headers_mark_an_auto_reply(header):
    assert kind_of(mail(header)) == "auto_reply"


@pytest.mark.parametrize("header", ["Precedence: bulk", "Precedence: list", "Precedence: junk",
                                    "List-Id: <pegawai.office.example>",
                                    "List-Unsubscribe: <mailto:leave@office.example>"])
def test_list_headers_mark_list_mail(header):
    assert kind_of(mail(header)) == "list"


@pytest.mark.parametrize("subject", ["Balasan otomatis: Sesi coaching", "Di luar kantor", "Sedang cuti",
                                     "Tidak di kantor sampai 14 Desember", "Automatic reply: Sesi coaching",
                                     "Auto reply", "Autoreply: x", "Out of Office: x", "Budi is out of the office"])
def test_out_of_office_subjects_in_both_languages_mark_an_auto_reply(subject):
    assert kind_of(mail(f"Subject: {subject}")) == "auto_reply"


@pytest.mark.parametrize("sender", ["noreply@bank.example.test", "no-reply@x.example.test",
                                    "do-not-reply@x.example.test", "donotreply@x.example.test"])
def test_no_reply_senders_are_automatic(sender):
    assert kind_of(mail(f"From: {sender}")) == "auto_reply"


@pytest.mark.parametrize("sender", ["MAILER-DAEMON@office.example", "postmaster@mail.example.test"])
def test_mail_daemons_are_bounces(sender):
    assert kind_of(mail(f"From: {sender}")) == "bounce"


@pytest.mark.parametrize("sender", ["cld@office.example", "CLD <cld+0123456789abcdef0123456789abcdef@office.example>",
                                    "Cld@Office.Example"])
def test_our_own_addresses_including_plus_forms_are_own_mail(sender):
    assert kind_of(mail(f"From: {sender}")) == "own"


def test_a_delivery_report_names_the_recipient_that_failed():
    verdict = classify_automatic(parse_bytes((CORPUS / "bounce" / "postfix_user_unknown.eml").read_bytes()), OWN)
    assert verdict.kind == "bounce"
    assert verdict.bounced_recipients == ["yohanes.sitorus@office.example"]


def test_an_exchange_report_prefers_the_original_recipient():
    verdict = classify_automatic(parse_bytes((CORPUS / "bounce" / "exchange_mailbox_full.eml").read_bytes()), OWN)
    assert verdict.bounced_recipients == ["lia.kusumawati@mail.example.test"]


def test_a_delayed_delivery_report_is_not_a_bounce():
    verdict = classify_automatic(parse_bytes((CORPUS / "auto_reply" / "postfix_delayed.eml").read_bytes()), OWN)
    assert (verdict.kind, verdict.bounced_recipients) == ("auto_reply", [])


def test_x_failed_recipients_marks_a_bounce_with_its_recipients():
    verdict = classify_automatic(mail("X-Failed-Recipients: dewi.lestari@mail.example.test"), OWN)
    assert (verdict.kind, verdict.bounced_recipients) == ("bounce", ["dewi.lestari@mail.example.test"])


def test_a_read_receipt_is_an_auto_reply():
    msg = mail('Content-Type: multipart/report; report-type=disposition-notification; boundary="b"',
               body="--b\r\nContent-Type: text/plain\r\n\r\nDibaca\r\n--b--\r\n")
    assert kind_of(msg) == "auto_reply"
