"""Decisions and follow-up statuses: clear answers count; negated, ambiguous or quoted ones never do."""

from __future__ import annotations

import pytest

from workflow.mail.decisions import parse_decision, parse_followup_status
from workflow.mail.extract import parse_bytes, reply_text
from workflow.mail.trim import trim_reply

APPROVE, REVISE, NONE = "approve", "revise", None

DECISIONS = [
    ("SETUJU", APPROVE),
    ("setuju", APPROVE),
    ("SETUJU.", APPROVE),
    ("Setuju!", APPROVE),
    ("DISETUJUI", APPROVE),
    ("OK", APPROVE),
    ("Oke", APPROVE),
    ("APPROVE", APPROVE),
    ("Approved.", APPROVE),
    ("**SETUJU**", APPROVE),
    ("SETUJU - bagus, lanjutkan", APPROVE),
    ("Saya setuju.", APPROVE),
    ("I approve", APPROVE),
    ("Setuju, tidak ada catatan.", APPROVE),
    ("Yth. Bu Ratna,\n\nSetuju.", APPROVE),
    ("REVISI: tanggal sesi salah", REVISE),
    ("Revisi - lengkapi referensi", REVISE),
    ("REVISE\nThe date is wrong.", REVISE),
    ("PERBAIKI: topik terlalu umum", REVISE),
    ("TIDAK SETUJU", NONE),
    ("tdk setuju", NONE),
    ("Tidak setuju, sesi belum dilaksanakan", NONE),
    ("belum setuju", NONE),
    ("not approved", NONE),
    ("Not approve", NONE),
    ("I don't approve", NONE),
    ("I don’t approve this", NONE),
    ("do not approve", NONE),
    ("setuju?", NONE),
    ("ok?", NONE),
    ("Setuju kan?", NONE),
    ("SETUJU atau REVISI", NONE),
    ("Setuju atau tidak ya", NONE),
    ("Setuju tapi perlu revisi di bagian catatan", NONE),
    ("REVISI, eh setuju saja", NONE),
    ("Sudah saya baca", NONE),
    ("", NONE),
    ("> SETUJU", NONE),
    ("Terima kasih.\n\n> Balas SETUJU untuk menyetujui", NONE),
    ("Mohon dicek lagi, saya belum bisa setuju", NONE),
]


@pytest.mark.parametrize("text, expected", DECISIONS, ids=[repr(t)[:40] for t, _ in DECISIONS])
def test_the_first_line_decides_only_when_unmistakable(text, expected):
    result = parse_decision(text)
    assert result.decision == expected
    if expected is None:
        assert result.errors and result.errors[0].field == "decision"


def test_no_negated_or_ambiguous_reply_ever_approves():
    refused = [text for text, expected in DECISIONS if expected is None]
    assert len(refused) >= 15
    assert all(parse_decision(text).decision != APPROVE for text in refused)


def html_only(html: str) -> str:
    raw = ("From: ratna.dewi@office.example\r\nTo: cld@office.example\r\nSubject: Re: x\r\nMIME-Version: 1.0\r\n"
           "Content-Type: text/html; charset=utf-8\r\n\r\n" + html).encode()
    return trim_reply(reply_text(parse_bytes(raw)))


@pytest.mark.parametrize("html, expected", [
    ("<div dir='ltr'><b>SETUJU</b></div><div><br></div><blockquote>Balas REVISI atau SETUJU</blockquote>", APPROVE),
    ("<p>Tidak&nbsp;setuju</p>", NONE),
    ("<div>Revisi:<br>lengkapi referensi</div>", REVISE),
    ("<div><br></div><blockquote><p>SETUJU</p></blockquote>", NONE),
])
def test_html_only_replies_decide_the_same_way_after_extraction(html, expected):
    assert parse_decision(html_only(html)).decision == expected


def test_a_revision_keeps_its_reasons_from_the_line_and_the_lines_below():
    result = parse_decision("REVISI - tanggal salah.\nMohon lengkapi referensi.\n\nReviu / Review: cek lagi")
    assert result.review == "tanggal salah.\nMohon lengkapi referensi.\ncek lagi"
    assert result.errors == []


def test_a_revision_without_reasons_asks_for_them():
    result = parse_decision("REVISI")
    assert result.decision == REVISE
    assert [e.field for e in result.errors] == ["review"]


def test_an_approval_reads_its_labelled_parts():
    result = parse_decision("SETUJU\nReviu / Review: Bagus.\nCatatan tindak lanjut / Follow-up notes: Cek akses.\n"
                            "Isu tindak lanjut / Follow-up issues:\n- Akses aplikasi [Unit: Subbagian Umum]\n"
                            "Rencana selanjutnya / Next steps: Praktik mandiri")
    assert (result.decision, result.review, result.followup_notes, result.next_steps) == (
        APPROVE, "Bagus.", "Cek akses.", "Praktik mandiri")
    assert result.followups == [{"text": "Akses aplikasi", "unit": "Subbagian Umum"}]


def test_the_error_asks_again_in_both_languages():
    [error] = parse_decision("TIDAK SETUJU").errors
    assert "REVISI" in error.message_id and "REVISE" in error.message_en


@pytest.mark.parametrize("text, status, target", [
    ("PROSES", "in_progress", None),
    ("Proses\nTarget: 20/12/2026", "in_progress", "2026-12-20"),
    ("DIPROSES, target 18 Desember 2026", "in_progress", "2026-12-18"),
    ("IN PROGRESS - 20/12/2026", "in_progress", "2026-12-20"),
    ("Sedang diproses", "in_progress", None),
    ("SELESAI", "resolved", None),
    ("Selesai - akses sudah aktif", "resolved", None),
    ("RESOLVED. Account created.", "resolved", None),
    ("Done", "resolved", None),
    ("Sudah selesai, sudah kami proses", "resolved", None),
])
def test_a_unit_answers_in_progress_or_resolved(text, status, target):
    result = parse_followup_status(text)
    assert (result.status, result.target_date, result.errors) == (status, target, [])


@pytest.mark.parametrize("text", ["BELUM SELESAI", "belum selesai, masih menunggu vendor", "not resolved",
                                  "Not done yet", "Tidak selesai", "selesai?", "SELESAI atau PROSES", "> SELESAI",
                                  "Terima kasih"])
def test_negated_or_unclear_statuses_never_resolve(text):
    result = parse_followup_status(text)
    assert result.status != "resolved"
    if result.status is None:
        assert [e.field for e in result.errors] == ["status"]


def test_a_resolution_keeps_its_note():
    result = parse_followup_status("SELESAI - akses sudah aktif.\nSilakan dicoba.")
    assert result.note == "akses sudah aktif.\nSilakan dicoba."


def test_an_unreadable_target_date_is_reported():
    result = parse_followup_status("PROSES\nTarget: secepatnya")
    assert result.status == "in_progress"
    assert [e.field for e in result.errors] == ["target_date"]
