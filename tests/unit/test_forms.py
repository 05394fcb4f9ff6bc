"""The reply form: labels in either language, values in the ways people write them, and friendly errors."""

from __future__ import annotations

import datetime as dt

import pytest

from workflow.mail.forms import (
    ENTRY_LABELS, RATINGS, match_label, parse_date, parse_duration, parse_entry_form, parse_followups,
    parse_needs, parse_rating, parse_time_span, render_entry_form,
)

DECEMBER = {"period": "2026-12", "today": dt.date(2026, 12, 10)}
COMPLETE = """\
Tanggal sesi / Session date: 03/12/2026
Jam / Time: 09.00-10.00
Topik / Topic: Penilaian aset
Catatan dan hasil pembelajaran / Notes and learning outcomes: Dua metode penilaian.
Penilaian / Rating: Sangat bermanfaat"""


def errors_of(text: str, **context) -> list[str]:
    return [error.field for error in parse_entry_form(text, **context).errors]


@pytest.mark.parametrize("line", [
    "Topik / Topic: Lelang", "Topic / Topik: Lelang", "Topik: Lelang", "Topic: Lelang", "TOPIK:Lelang",
    "**Topik / Topic:** Lelang", "*Topic*: Lelang", "- Topik: Lelang", "• Topic: Lelang", "1. Topik: Lelang",
    "  Topik  /  Topic  ：  Lelang", "Topik / Topic (singkat): Lelang",
])
def test_a_label_is_recognised_however_it_is_dressed(line):
    assert match_label(line) == ("topic", match_label(line)[1])
    assert match_label(line)[1].strip().strip("*").strip() == "Lelang"


@pytest.mark.parametrize("line", ["Date: Tue, 1 Dec 2026", "To: Budi", "Tanggal: 1 Desember", "Subject: x",
                                  "Topik yang dibahas adalah lelang", "Jam berapa: nanti", "Time flies"])
def test_email_headers_and_prose_are_never_taken_for_labels(line):
    assert match_label(line) is None


def test_a_bilingual_label_alone_on_its_line_takes_the_value_from_the_next_line():
    form = parse_entry_form("Topik / Topic\nManajemen risiko\nPenilaian / Rating\n2")
    assert form.fields["topic"] == "Manajemen risiko"
    assert form.fields["rating"] == "fairly_useful"


def test_a_multi_line_value_runs_until_the_next_label():
    form = parse_entry_form("Catatan dan hasil pembelajaran / Notes and learning outcomes:\nsatu\n\ndua\n"
                            "Penilaian / Rating: 1")
    assert form.fields["notes"] == "satu\n\ndua"


@pytest.mark.parametrize("text", ["2026-12-03", "03/12/2026", "3/12/2026", "03-12-2026", "3 Desember 2026",
                                  "3 Des 2026", "3 des. 2026", "December 3, 2026", "Dec 3 2026",
                                  "Kamis, 3 Desember 2026", "3 December 2026", "03.12.2026", "03/12/26"])
def test_dates_are_read_in_indonesian_english_and_numeric_forms(text):
    assert parse_date(text) == dt.date(2026, 12, 3)


@pytest.mark.parametrize("text", ["kemarin", "32/12/2026", "3 Foo 2026", ""])
def test_unreadable_dates_give_none(text):
    assert parse_date(text) is None


@pytest.mark.parametrize("text, span", [
    ("09.00-10.00", (540, 600)), ("09:00 - 10:00", (540, 600)), ("9-10", (540, 600)),
    ("9.30–10.15", (570, 615)), ("pukul 09.00 s.d. 10.00", (540, 600)), ("09.00 s/d 10.00 WIB", (540, 600)),
    ("09.00 sampai 10.00", (540, 600)), ("9:00 to 10:30", (540, 630)), ("2-3 pm", (840, 900)),
    ("13.00", (780, None)),
])
def test_time_spans_are_read_in_the_usual_forms(text, span):
    assert parse_time_span(text) == span


@pytest.mark.parametrize("text, minutes", [
    ("45", 45), ("45 menit", 45), ("1 jam", 60), ("1,5 jam", 90), ("1.5 hours", 90), ("90 minutes", 90),
    ("1 jam 30 menit", 90), ("± 45 menit", 45), ("60'", 60),
])
def test_durations_are_read_in_minutes_or_hours(text, minutes):
    assert parse_duration(text) == minutes


@pytest.mark.parametrize("text, key", [
    ("1", "very_useful"), ("4", "not_useful"), ("Sangat bermanfaat", "very_useful"),
    ("Very useful", "very_useful"), ("cukup bermanfaat", "fairly_useful"), ("Fairly useful", "fairly_useful"),
    ("Biasa saja", "ordinary"), ("Ordinary", "ordinary"), ("Tidak bermanfaat", "not_useful"),
    ("not useful", "not_useful"), ("1 - Sangat bermanfaat", "very_useful"),
    ("2 = Cukup bermanfaat / Fairly useful", "fairly_useful"),
])
def test_a_rating_is_read_from_its_number_or_its_words(text, key):
    assert parse_rating(text) == key


@pytest.mark.parametrize("text", ["bermanfaat", "useful", "5", "0", "1 atau 2", "mantap", "4 - Sangat bermanfaat",
                                  "kurang bermanfaat"])
def test_an_unclear_or_contradictory_rating_is_not_guessed(text):
    assert parse_rating(text) is None


def test_the_untouched_legend_under_the_rating_is_not_an_answer():
    blank = parse_entry_form(render_entry_form(None))
    assert blank.fields["rating"] is None
    refilled = render_entry_form({"rating": "ordinary"})
    assert parse_entry_form(refilled).fields["rating"] == "ordinary"


def test_a_bad_rating_error_lists_the_four_accepted_values_in_both_languages():
    [error] = parse_entry_form(COMPLETE.replace("Sangat bermanfaat", "mantap")).errors
    assert error.field == "rating"
    for _, number, id_text, en_text in RATINGS:
        assert f"{number} = {id_text}" in error.message_id
        assert f"{number} = {en_text}" in error.message_en


def test_a_complete_form_has_no_errors_and_derives_the_duration_from_the_time():
    form = parse_entry_form(COMPLETE, **DECEMBER)
    assert form.ok
    assert form.fields["duration_minutes"] == 60
    assert (form.fields["start_time"], form.fields["end_time"]) == ("09:00", "10:00")


def test_each_missing_required_field_gets_its_own_error():
    assert errors_of("Mentor: Ratna") == ["session_date", "topic", "notes", "rating", "duration_minutes"]


def test_a_session_outside_the_period_is_an_error():
    assert errors_of(COMPLETE.replace("03/12/2026", "30/11/2026"), **DECEMBER) == ["session_date"]


def test_a_session_after_today_is_an_error():
    assert errors_of(COMPLETE.replace("03/12/2026", "11/12/2026"), **DECEMBER) == ["session_date"]


def test_a_session_over_an_hour_is_flagged_with_a_warning_not_an_error():
    form = parse_entry_form(COMPLETE.replace("09.00-10.00", "09.00-10.30"), **DECEMBER)
    assert form.ok
    assert form.fields["over_hour"] is True
    assert [w.field for w in form.warnings] == ["duration_minutes"]


@pytest.mark.parametrize("duration", ["0", "600 menit", "9 jam"])
def test_an_implausible_duration_is_an_error(duration):
    text = COMPLETE.replace("Jam / Time: 09.00-10.00", f"Durasi (menit) / Duration (minutes): {duration}")
    assert errors_of(text) == ["duration_minutes"]


def test_an_end_time_before_the_start_is_an_error_without_a_second_missing_duration_error():
    assert errors_of(COMPLETE.replace("09.00-10.00", "10.00-09.00")) == ["time"]


@pytest.mark.parametrize("value", ["", "-", "tidak ada", "Tidak ada.", "none", "N/A", "nihil"])
def test_no_follow_up_issues_is_an_empty_list(value):
    assert parse_followups(value) == []


def test_follow_up_issues_are_read_one_per_line_with_their_unit():
    text = ("- Akses aplikasi belum aktif [Unit: Subbagian Umum]\n"
            "- SOP penilaian perlu diperbarui (Unit: Seksi Pelayanan Lelang)\n"
            "- Jadwal bentrok [Unit Seksi Kepatuhan Internal]\n"
            "- Tanpa unit\n  yang berlanjut ke baris berikutnya")
    assert parse_followups(text) == [
        {"text": "Akses aplikasi belum aktif", "unit": "Subbagian Umum"},
        {"text": "SOP penilaian perlu diperbarui", "unit": "Seksi Pelayanan Lelang"},
        {"text": "Jadwal bentrok", "unit": "Seksi Kepatuhan Internal"},
        {"text": "Tanpa unit yang berlanjut ke baris berikutnya", "unit": None},
    ]


def test_a_needs_only_reply_is_read():
    assert parse_needs("Kebutuhan / Needs: Pelatihan aplikasi\n") == "Pelatihan aplikasi"
    assert parse_needs("Kebutuhan: -") is None
    assert parse_needs("Terima kasih") is None


def test_the_blank_form_shows_every_label_in_both_languages_and_the_rating_legend():
    blank = render_entry_form(None)
    for label in ENTRY_LABELS:
        assert label.text("id") in blank
    assert "1 = Sangat bermanfaat / Very useful" in blank
    assert render_entry_form(None, "en").startswith("Session date / Tanggal sesi:")


def test_a_refilled_form_reads_back_to_the_same_fields():
    form = parse_entry_form(COMPLETE + "\nIsu tindak lanjut / Follow-up issues:\n- Akses [Unit: Umum]", **DECEMBER)
    again = parse_entry_form(render_entry_form(form.fields), **DECEMBER)
    assert again.fields == form.fields


def _every_label_written_every_way():
    from workflow.mail.decisions import DECISION_LABELS

    for labels in (ENTRY_LABELS, DECISION_LABELS):
        for label in labels:
            for name in (label.id, label.en, *label.aliases):
                for line in (f"{name}: x", f"- **{name}**: y", f"1. {name.upper()} / {name}", f"  {name} (hint) : z",
                             f"*{name.lower()}*:", f"{name.replace('-', ' ')}: q", f"{name.replace(' ', '-')}: q",
                             f"▪ {name}：值", f"__{name}__ : v"):
                    yield labels, line


def test_the_quick_look_at_a_lines_start_never_hides_a_label_the_full_patterns_would_read():
    """match_label first checks the line against every label's first word at once; same answers as without."""
    import re

    from workflow.mail import forms

    def without_the_quick_look(line, labels):
        flat = re.sub(r"[ \t]+", " ", line).strip()
        for label in labels:
            found = forms._pattern(label).match(flat)
            if found and (found["colon"] or (found["second"] and not found["value"].strip())):
                return label.key, found["value"]
        return None

    checked = 0
    for labels, line in _every_label_written_every_way():
        assert match_label(line, labels) == without_the_quick_look(line, labels), line
        checked += match_label(line, labels) is not None
    assert checked > 200  # the lines really are labels, not all rejected alike
