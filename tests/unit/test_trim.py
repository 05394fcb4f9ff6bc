"""Trimming keeps what the person wrote this time, and finds a form they filled inside the quote."""

from __future__ import annotations

import pytest

from workflow.mail.trim import MARKER, strip_quote_prefix, trim_reply

NEW = "Topik / Topic: Lelang\nPenilaian / Rating: 1"


@pytest.mark.parametrize("quoted", [
    "On Tue, Dec 1, 2026 at 8:00 AM CLD <cld@office.example> wrote:\n> old",
    "On Tue, Dec 1, 2026 at 8:00 AM CLD <\ncld+0123@office.example> wrote:\n> old",
    "Pada tanggal Sel, 1 Des 2026 pukul 08.00 CLD <cld@office.example> menulis:\n> old",
    "Pada tanggal Sel, 1 Des 2026 pukul 08.00 CLD <\ncld@office.example> menulis:\n> old",
    "On 01/12/2026 08.00, CLD wrote:\n> old",
    "From: CLD <cld@office.example>\nSent: Tuesday, December 1, 2026 8:00 AM\nTo: Budi\nSubject: x\n\nold",
    "Dari: CLD <cld@office.example>\nDikirim: Selasa, 01 Desember 2026 08.00\nKepada: Budi\nSubjek: x\n\nold",
    "Dari: CLD <cld@office.example>\nTerkirim: Selasa\nKepada: Budi\nPerihal: x\n\nold",
    "________________________________\nFrom: CLD <cld@office.example>\nSent: Tuesday\nTo: Budi\n\nold",
    "**From:** CLD <cld@office.example>\n**Sent:** Tuesday\n\nold",
    "-----Original Message-----\nFrom: CLD\nold",
    "-----Pesan Asli-----\nDari: CLD\nold",
    "---------- Forwarded message ---------\nFrom: CLD\nold",
    "> old",
    "Sent from my iPhone\n\nold",
    "Sent from my Android phone\nold",
    "Get Outlook for iOS\nold",
    "Dikirim dari iPhone saya\nold",
    "Dikirim dari Yahoo Mail di Android\nold",
    "-- \nBudi Santoso\nold",
    f"{MARKER}\nold",
    f"> {MARKER}\n> old",
    "Kode balasan / Reply code: 0123456789abcdef0123456789abcdef\nold",
])
def test_the_reply_is_cut_where_quoted_or_foreign_text_begins(quoted):
    assert trim_reply(f"{NEW}\n\n{quoted}") == NEW


def test_a_reply_without_any_quote_is_kept_whole():
    assert trim_reply(NEW + "\n\n") == NEW


@pytest.mark.parametrize("closing", ["Salam,\nBudi Santoso", "Terima kasih,\nBudi\nSeksi Lelang\n0812-3456-7890",
                                     "Regards,\nBudi", "Terima kasih"])
def test_a_closing_and_name_at_the_end_are_dropped(closing):
    assert trim_reply(f"{NEW}\n\n{closing}") == NEW


def test_prose_mentioning_on_and_wrote_is_not_an_attribution():
    text = "Catatan dan hasil pembelajaran / Notes and learning outcomes: On Monday we wrote: a plan"
    assert trim_reply(text) == text


def test_a_form_filled_inside_a_quote_is_returned_unquoted():
    text = ("Sudah saya isi di bawah.\n\nOn Tue, Dec 1, 2026 at 8:00 AM CLD <cld@office.example> wrote:\n"
            f"> {MARKER}\n>\n> Yth. Budi,\n>\n> Tanggal sesi / Session date: 02/12/2026\n> Jam / Time: 9-10\n"
            "> Topik / Topic: Lelang\n> Catatan dan hasil pembelajaran / Notes and learning outcomes:\n"
            "Saya mengetik di luar kutipan.\n> Penilaian / Rating: 2\n>\n"
            "> Kode balasan / Reply code: 0123456789abcdef0123456789abcdef\n")
    assert trim_reply(text) == (
        "Tanggal sesi / Session date: 02/12/2026\nJam / Time: 9-10\nTopik / Topic: Lelang\n"
        "Catatan dan hasil pembelajaran / Notes and learning outcomes:\nSaya mengetik di luar kutipan.\n"
        "Penilaian / Rating: 2")


def test_a_blank_quoted_form_is_not_taken_for_an_answer():
    text = "Nanti saya isi.\n\n> Tanggal sesi / Session date:\n> Topik / Topic:\n> Penilaian / Rating:\n"
    assert trim_reply(text) == "Nanti saya isi."


def test_an_answer_word_above_a_quoted_filled_form_wins_over_the_form():
    text = "SETUJU\n\n> Tanggal sesi / Session date: 02/12/2026\n> Topik / Topic: Lelang\n> Penilaian / Rating: 1"
    assert trim_reply(text) == "SETUJU"


def test_a_form_typed_above_the_quote_wins_over_a_form_inside_it():
    text = f"{NEW}\n\n> Tanggal sesi / Session date: 02/12/2026\n> Topik / Topic: Lama\n> Penilaian / Rating: 3"
    assert trim_reply(text) == NEW


def test_the_inline_form_can_be_switched_off():
    text = "Isi di bawah.\n\n> Topik / Topic: Lelang\n> Penilaian / Rating: 1"
    assert trim_reply(text, inline_form=False) == "Isi di bawah."


def test_one_level_of_quoting_is_removed():
    assert strip_quote_prefix("> a\n>b\n> > c\nd") == "a\nb\n> c\nd"
