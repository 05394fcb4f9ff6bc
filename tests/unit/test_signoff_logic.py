"""Pure logic of sign-off and follow-ups: the signed content, the chain, unit matching, the ladders, the emails."""

import hashlib
import json
from datetime import date, time
from types import SimpleNamespace

import pytest

from workflow.escalations import followup_level_due, signoff_level_due
from workflow.followups import match_unit
from workflow.mail.outbound import render
from workflow.models import Entry
from workflow.signoff import ZERO_HASH, canonical_content, chain, content_hash


def an_entry(**changes) -> Entry:
    values = dict(id=7, employee_id=3, period="2026-12", version=1, session_date=date(2026, 12, 3),
                  start_time=time(9, 0), end_time=time(10, 0), duration_minutes=60, mentor_id=2,
                  mentor_name="Bambang Hermawan", topic="Nilai limit lelang", objectives="Memahami nilai limit",
                  notes="Tiga kasus", references="PMK 213/PMK.06/2020", rating="very_useful",
                  next_steps="Mendampingi lelang", review="", followup_notes="", reviewer_next_steps="")
    values.update(changes)
    return Entry(**values)


def test_the_signed_content_is_canonical_json_of_every_content_field_and_the_version():
    content = json.loads(canonical_content(an_entry()))
    assert content["version"] == 1 and content["rating"] == "very_useful"
    assert content["session_date"] == "2026-12-03" and content["start_time"] == "09:00:00"
    assert canonical_content(an_entry()) == canonical_content(an_entry())


@pytest.mark.parametrize("field, value", [
    ("notes", "Empat kasus"), ("rating", "ordinary"), ("version", 2), ("duration_minutes", 61),
    ("session_date", date(2026, 12, 4)), ("topic", "Nilai limit lelang "), ("review", "Bagus"),
    ("reviewer_next_steps", "Ikut lelang"), ("mentor_name", "Someone else"),
])
def test_any_change_to_the_content_changes_its_hash(field, value):
    assert content_hash(an_entry(**{field: value})) != content_hash(an_entry())


def test_a_link_chains_the_previous_link_and_the_content_hash():
    first = content_hash(an_entry())
    assert chain(ZERO_HASH, first) == hashlib.sha256((ZERO_HASH + first).encode()).hexdigest()
    assert chain(chain(ZERO_HASH, first), first) != chain(ZERO_HASH, first)


UNITS = [SimpleNamespace(id=1, name="Subbagian Umum", email="umum@example.test"),
         SimpleNamespace(id=2, name="Seksi Pengelolaan Kekayaan Negara", email="pkn@example.test"),
         SimpleNamespace(id=3, name="Seksi Pelayanan Lelang", email="lelang@example.test"),
         SimpleNamespace(id=4, name="Seksi Piutang Negara", email="piutang@example.test"),
         SimpleNamespace(id=5, name="Seksi Kepatuhan Internal, Hukum dan Informasi", email="kihi@example.test")]


@pytest.mark.parametrize("written, expected", [
    ("Seksi Pelayanan Lelang", 3), ("seksi pelayanan lelang", 3), ("Seksi Lelang", 3), ("Lelang", 3),
    ("Umum", 1), ("Subbag Umum", 1), ("Bagian Umum", 1), ("PKN", 2), ("Seksi PKN", 2), ("KIHI", 5),
    ("Seksi Kepatuhan Internal Hukum dan Informasi", 5), ("Hukum", 5), ("Piutang", 4),
    ("Negara", None),  # PKN and Piutang Negara: ambiguous, so general affairs takes it
    ("Seksi", None), ("Bagian Keuangan", None), ("", None), (None, None),
])
def test_a_unit_is_found_by_its_name_its_distinctive_words_its_initials_or_its_mailbox(written, expected):
    found = match_unit(UNITS, written)
    assert (found.id if found else None) == expected


def settings_like(**values):
    return SimpleNamespace(**{"signoff_reminder_days": 3, "signoff_escalation_days": 5, "followup_escalation_days": 5, **values})


@pytest.mark.parametrize("waited, level", [(0, 0), (2, 0), (3, 1), (7, 1), (8, 2), (12, 2), (13, 3), (18, 4)])
def test_a_pending_sign_off_is_reminded_after_three_working_days_then_climbs_every_five(waited, level):
    assert signoff_level_due(settings_like(), waited) == level


@pytest.mark.parametrize("overdue, level", [(-3, 0), (0, 0), (1, 1), (5, 1), (6, 2), (10, 2), (11, 3), (40, 3)])
def test_an_overdue_issue_goes_to_the_unit_then_its_head_then_the_head_of_office(overdue, level):
    assert followup_level_due(settings_like(), overdue) == level


ENTRY_VIEW = dict(employee_name="Dewi <Kartika>", employee_nip="199106182014012002", employee_position="Penilai",
                  employee_unit="Seksi PKN", period="2026-12", version=2, entry_id=7, session_date_id="3 Desember 2026",
                  session_date_en="3 December 2026", time_span="09.00–10.00", duration_minutes=75, over_hour=True,
                  mentor="Bambang", topic="Nilai <b>limit</b>", objectives="-", notes="Tiga kasus\nbaris dua",
                  references="-", rating="4 · Sangat bermanfaat / Very useful", next_steps="-",
                  issues=[{"text": "Printer rusak", "unit": "Subbagian Umum"}])
TOKEN = dict(short_code="0123456789ab", reply_code="0123456789abcdef0123456789abcdef",
             reply_address="cld+0123456789abcdef0123456789abcdef@office.example",
             approve_href="mailto:cld+x@office.example?subject=Re&body=SETUJU",
             revise_href="mailto:cld+x@office.example?subject=Re&body=REVISI")
ISSUE_VIEW = dict(issue_id=4, text="Akses <aplikasi> putus", unit_name="Seksi Pelayanan Lelang", unit_as_written="Lelang",
                  employee_name="Dewi", raised_by_name="Bambang", source="review", topic="Nilai limit", session_date_id="3 Desember 2026",
                  session_date_en="3 December 2026", deadline_id="11 Desember 2026", deadline_en="11 December 2026",
                  opened_id="4 Desember 2026", opened_en="4 December 2026", days_overdue=6, state="open",
                  recipient_name="Seksi Pelayanan Lelang", progress_href="mailto:a?body=PROSES",
                  resolved_href="mailto:a?body=SELESAI")
CONTEXTS = {
    "signoff_request": {**ENTRY_VIEW, **TOKEN, "person_name": "Bambang", "previous_reasons": "Durasi salah"},
    "signoff_escalation": {**ENTRY_VIEW, **TOKEN, "person_name": "Hendra", "previous_reasons": "",
                           "signer_name": "Bambang", "waiting_days": 8},
    "signoff_reminder": {"person_name": "Bambang", "count": 2, "short_code": "", "reply_code": "",
                         "items": [{**TOKEN, "employee_name": "Dewi", "topic": "A <b>", "version": 1,
                                    "session_date_id": "3 Desember 2026", "session_date_en": "3 December 2026",
                                    "waiting_days": 3}] * 2},
    "mentor_informed": {**ENTRY_VIEW, "person_name": "Ratna", "signer_name": "Bambang"},
    "signoff_approved": {**ENTRY_VIEW, "signer_name": "Bambang", "signed_on_id": "4 Desember 2026",
                         "signed_on_en": "4 December 2026", "review": "Bagus <sekali>", "followup_notes": "",
                         "reviewer_next_steps": "Ikut lelang", "opened": [{"text": "Printer", "unit": "Umum",
                                                                            "deadline_id": "11 Desember 2026",
                                                                            "deadline_en": "11 December 2026"}]},
    "revision_request": {**ENTRY_VIEW, **TOKEN, "signer_name": "Bambang", "reasons": "Durasi <salah>",
                         "form": "Topik / Topic: Nilai limit\n"},
    "already_decided": {"name": "Bambang", "decision": "approved", "decided_by_name": "Hendra",
                        "decided_on_id": "4 Desember 2026", "decided_on_en": "4 December 2026",
                        "employee_name": "Dewi", "topic": "Nilai limit", "session_date_id": "3 Desember 2026",
                        "session_date_en": "3 December 2026"},
    "decision_unclear": {**ENTRY_VIEW, **TOKEN, "person_name": "Bambang", "understood": "",
                         "errors": [{"id": "Tidak jelas", "en": "Unclear"}]},
    "decision_refused": {**ENTRY_VIEW, "person_name": "Bambang", "reason": "old_version", "awaiting_revision": False,
                         "newer_pending": True, "renewed": False},
    "followup_notice": {**ISSUE_VIEW, **TOKEN},
    "followup_status_unclear": {**ISSUE_VIEW, **TOKEN, "already_resolved": False,
                                "errors": [{"id": "Tidak jelas", "en": "Unclear"}]},
    "followup_reminder": {**ISSUE_VIEW, **TOKEN},
    "followup_escalation": {**ISSUE_VIEW, **TOKEN, "audience": "unit_head", "unit_head_name": "Ratna"},
    "followup_resolved": {**ISSUE_VIEW, "person_name": "Dewi", "resolution_note": "Sudah <diganti>",
                          "resolved_by": "Ratna", "resolved_on_id": "12 Desember 2026",
                          "resolved_on_en": "12 December 2026"},
}


@pytest.mark.parametrize("kind", sorted(CONTEXTS))
@pytest.mark.parametrize("lang", ["id", "en"])
def test_every_email_renders_in_both_languages_reader_first_and_escapes_user_text_in_html(kind, lang):
    rendered = render(kind, lang, {"office_name": "KPKNL Contoh", **CONTEXTS[kind]})
    assert rendered.subject and "\n" not in rendered.subject
    greeting = {"id": "Yth.", "en": "Dear"}
    first, second = rendered.text.find(greeting[lang]), rendered.text.find(greeting["en" if lang == "id" else "id"])
    assert 0 <= first < second
    assert "<b>" not in rendered.html and "<aplikasi>" not in rendered.html and "<sekali>" not in rendered.html
    assert "http://" not in rendered.html and "https://" not in rendered.html


def test_the_sign_off_request_shows_the_whole_entry_and_offers_one_click_answers():
    rendered = render("signoff_request", "id", {"office_name": "KPKNL", **CONTEXTS["signoff_request"]})
    assert rendered.subject.startswith("[CLD-0123456789ab] Mohon persetujuan")
    for text in ("Tiga kasus", "4 · Sangat bermanfaat / Very useful", "Printer rusak", "75 menit", "versi ke-2",
                 "Durasi salah", "Reviu / Review:", "Isu tindak lanjut / Follow-up issues:",
                 "Kode balasan / Reply code: 0123456789abcdef0123456789abcdef"):
        assert text in rendered.text.replace("versi perbaikan ke-2", "versi ke-2")
    assert 'href="mailto:cld+x@office.example?subject=Re&amp;body=SETUJU"' in rendered.html
    assert 'href="mailto:cld+x@office.example?subject=Re&amp;body=REVISI"' in rendered.html
