"""The diary book PDF: a cover, one page per entry with its signature, and the follow-up issues."""

from __future__ import annotations

import re

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from tests.integration.test_reports import REPORT_DAY, add_issue, add_session, build_november, person
from workflow.diarybook import export_unit, write_book
from workflow.models import EntryState, Language, Signature, Unit


@pytest.fixture
def november(office, settings, clock_at):
    clock_at(REPORT_DAY)
    return build_november(office)


def pdf_text(path) -> list[str]:
    return [re.sub(r"\s+", " ", page.extract_text()) for page in PdfReader(str(path)).pages]


def test_a_book_has_a_cover_a_page_per_entry_and_a_closing_page_with_numbers_and_hashes(office, settings, november,
                                                                                       tmp_path):
    agus = person(office, "Agus")
    entry = november["agus"]
    entry.review, entry.followup_notes = "Pemahaman sudah baik.", "Koordinasi dengan Subbagian Umum soal printer."
    office.commit()
    path = tmp_path / "agus.pdf"
    pages = write_book(office, settings, agus, 2026, path)
    text = pdf_text(path)
    # Cover + October's and November's sessions + the issues page.
    assert pages == len(text) == 4
    assert all(f"Halaman {n} dari 4" in page for n, page in enumerate(text, start=1))
    assert all(settings.office_name.upper() in page for page in text)
    cover = text[0]
    assert "BUKU CATATAN COACHING DAN PEMBELAJARAN" in cover and agus.nip in cover and "Subbagian Umum" in cover
    november_page = text[2]
    for expected in ("Sesi 2 · 5 November 2026", "Tata naskah dinas", "45 menit", "Sangat bermanfaat",
                     "PMK 120/2024", "Memahami langkah kerja", "Pemahaman sudah baik.", "Koordinasi dengan Subbagian",
                     "Sri Rahayu, S.H.", "5 November 2026, 16.30 WIB", f"<signoff-{entry.id}.1@example.test>"):
        assert expected in november_page, expected
    signature = office.scalar(select(Signature).where(Signature.entry_id == entry.id))
    # Hashes are wrapped in two lines of 32 characters.
    flat = november_page.replace(" ", "")
    assert signature.content_hash in flat and signature.chain_hash in flat
    closing = text[3]
    assert "Isu Tindak Lanjut" in closing and "Printer ruang arsip rusak" in closing
    assert "Selesai · 9 November 2026" in closing and "Printer sudah diganti." in closing
    assert "Data piutang macet" in closing and "Dalam proses" in closing


def test_unsigned_entries_are_marked_and_an_english_reader_gets_english(office, settings, november, tmp_path):
    nur = person(office, "Nur Aini")
    nur.language = Language.EN
    office.commit()
    path = tmp_path / "nur.pdf"
    assert write_book(office, settings, nur, 2026, path) == 4
    text = pdf_text(path)
    assert "Page 1 of 4" in text[0] and "COACHING AND LEARNING DIARY" in text[0]
    assert "SIGNED" in text[1] and "Fairly useful" in text[1]
    assert "NOT SIGNED — awaiting the supervisor's sign-off" in text[2]
    assert "75 minutes (over 60 minutes)" in text[2]
    assert "This entry has not been signed by the supervisor." in text[2]
    assert "VPN sering terputus" in text[3] and "Open" in text[3]


def test_markup_in_user_text_is_printed_as_text(office, settings, november, tmp_path):
    kevin = person(office, "Kevin")
    kevin.name = "Kevin <script>alert(1)</script> & Co"
    prompt = november["kevin"].prompt
    add_session(office, prompt, "2026-11-27", 30, "ordinary", EntryState.AWAITING_SIGNOFF,
                topic="<b>bold</b> & <i>unclosed", notes="Line one\nLine two & <font>")
    add_issue(office, kevin, "Subbagian Umum", "AC <rusak> & bocor", "2026-11-27T10:00", "2026-12-04")
    office.commit()
    path = tmp_path / "kevin.pdf"
    assert write_book(office, settings, kevin, 2026, path) == 4
    text = " ".join(pdf_text(path))
    assert "Kevin <script>alert(1)</script> & Co" in text
    assert "<b>bold</b> & <i>unclosed" in text and "Line two & <font>" in text and "AC <rusak> & bocor" in text


def test_a_unit_export_writes_one_book_per_person(office, settings, november, tmp_path):
    umum = office.scalar(select(Unit).where(Unit.name == "Subbagian Umum"))
    written = export_unit(office, settings, umum, 2026, tmp_path / "umum")
    assert len(written) == 8  # the seven staff and the head of office, who sits in this unit
    assert all(path.exists() and path.read_bytes().startswith(b"%PDF") for path in written)
    assert any("Agus-Setiawan" in path.name for path in written)
