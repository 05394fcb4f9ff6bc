"""Finding which request a reply answers: reply address, subject code, body footer and Message-IDs."""

from __future__ import annotations

from workflow.mail.extract import parse_bytes
from workflow.mail.tokens_found import (
    message_ids_referenced, short_code_from_subject, token_from_addresses, token_from_body,
)

TOKEN = "0123456789abcdef0123456789abcdef"


def mail(*headers: str):
    return parse_bytes(("\r\n".join(["From: budi.santoso@office.example", *headers]) + "\r\n\r\nx").encode())


def test_the_token_is_read_from_the_plus_address_in_to():
    assert token_from_addresses(mail(f"To: CLD <cld+{TOKEN}@office.example>"), "cld") == TOKEN


def test_the_token_is_read_case_insensitively_and_lowercased():
    assert token_from_addresses(mail(f"To: <CLD+{TOKEN.upper()}@OFFICE.EXAMPLE>"), "cld") == TOKEN


def test_cc_delivered_to_and_x_original_to_are_searched_too():
    for header in ("Cc", "Delivered-To", "X-Original-To", "Envelope-To"):
        assert token_from_addresses(mail("To: cld@office.example", f"{header}: cld+{TOKEN}@office.example"),
                                    "cld") == TOKEN


def test_another_local_part_is_not_mistaken_for_ours():
    assert token_from_addresses(mail(f"To: notcld+{TOKEN}@office.example"), "cld") is None
    assert token_from_addresses(mail(f"To: diary+{TOKEN}@office.example"), "diary") == TOKEN


def test_a_token_of_the_wrong_length_is_ignored():
    assert token_from_addresses(mail(f"To: cld+{TOKEN[:-1]}@office.example"), "cld") is None


def test_message_ids_come_in_reply_to_first_then_references_newest_first():
    msg = mail("In-Reply-To: <c@office.example>", "References: <a@office.example> <b@office.example>\r\n"
               " <c@office.example>")
    assert message_ids_referenced(msg) == ["c@office.example", "b@office.example", "a@office.example"]


def test_a_reply_without_thread_headers_refers_to_nothing():
    assert message_ids_referenced(mail()) == []


def test_the_short_code_is_read_from_the_subject_in_any_case():
    assert short_code_from_subject("RE: [CLD-0123456789AB] Sesi coaching") == "0123456789ab"
    assert short_code_from_subject("Re: Sesi coaching") is None
    assert short_code_from_subject(None) is None


def test_the_full_token_is_read_from_the_footer_even_when_quoted():
    assert token_from_body(f"SETUJU\n\n> Kode balasan / Reply code: {TOKEN}\n") == TOKEN
    assert token_from_body(f"Reply code: {TOKEN.upper()}") == TOKEN
    assert token_from_body(f"Kode balasan / Reply code: {TOKEN}ff") is None
    assert token_from_body("no footer") is None
