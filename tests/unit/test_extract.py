"""Extraction turns any message, however broken, into the text the person typed."""

from __future__ import annotations

import base64

from workflow.mail.extract import decode_bytes, html_to_text, parse_bytes, reply_text, unflow


def message(content_type: str, body: bytes, encoding: str = "8bit", extra: str = "") -> bytes:
    return (f"From: a@example.test\r\nTo: b@example.test\r\nSubject: s\r\nMIME-Version: 1.0\r\n{extra}"
            f"Content-Type: {content_type}\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n").encode() + body


def test_total_garbage_parses_to_a_message_without_raising():
    msg = parse_bytes(b"\x00\xff\xfe garbage \r\n\r\n\x00")
    assert reply_text(msg) is not None
    assert reply_text(parse_bytes(b"")) == ""


def test_the_plain_part_is_preferred_to_the_html_part():
    raw = (b"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n"
           b"--b\r\nContent-Type: text/plain\r\n\r\nplain words\r\n"
           b"--b\r\nContent-Type: text/html\r\n\r\n<p>html words</p>\r\n--b--\r\n")
    assert reply_text(parse_bytes(raw)) == "plain words"


def test_an_attached_text_file_is_not_the_reply():
    raw = (b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
           b"--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\nfile\r\n"
           b"--b\r\nContent-Type: text/plain\r\n\r\nreply\r\n--b--\r\n")
    assert reply_text(parse_bytes(raw)) == "reply"


def test_html_is_converted_with_line_breaks_entities_and_quotes_but_no_scripts_or_images():
    html = ("<html><head><style>p{}</style><script>alert(1)</script></head><body>"
            "<p>Topik&nbsp;/ Topic: Lelang &amp; aset</p><div>baris dua<br>baris tiga</div>"
            "<ul><li>satu</li></ul><img src='http://tracker.example.test/x.gif'>"
            "<table><tr><td>Jam:</td><td>9-10</td></tr></table>"
            "<blockquote>kutipan</blockquote></body></html>")
    assert html_to_text(html) == "Topik / Topic: Lelang & aset\nbaris dua\nbaris tiga\n- satu\nJam: 9-10\n> kutipan"


def test_an_html_only_message_is_read_as_text():
    raw = message("text/html; charset=utf-8", b"<div>SETUJU</div><div><br></div><div>Bagus</div>")
    assert reply_text(parse_bytes(raw)) == "SETUJU\n\nBagus"


def test_charsets_fall_back_from_declared_to_utf8_to_windows_1252():
    assert decode_bytes("é".encode(), "us-ascii") == "é"
    assert decode_bytes("“09.00–10.00”".encode("cp1252"), "iso-8859-1") == "“09.00–10.00”"
    assert decode_bytes("é".encode("cp1252"), "x-unknown-charset") == "é"
    assert decode_bytes(b"\x81\x8d", "utf-8") == "\x81\x8d"


def test_quoted_printable_and_base64_bodies_are_decoded():
    qp = message("text/plain; charset=utf-8", b"Andr=C3=A9 menulis pan=\r\njang", "quoted-printable")
    assert reply_text(parse_bytes(qp)) == "André menulis panjang"
    b64 = message("text/plain; charset=utf-8", base64.encodebytes("Catatan: ±45 menit".encode()), "base64")
    assert reply_text(parse_bytes(b64)) == "Catatan: ±45 menit"


def test_format_flowed_lines_are_joined_and_quote_depth_kept():
    assert unflow("Topik / Topic: satu \ndua\n> kutip \n> lanjut\nakhir") == \
        "Topik / Topic: satu dua\n> kutip lanjut\nakhir"


def test_format_flowed_with_delsp_removes_the_added_space():
    assert unflow("pan \njang", delsp=True) == "panjang"
    raw = message("text/plain; charset=utf-8; format=flowed; delsp=yes", b"Topik / Topic: pan \r\njang\r\n")
    assert reply_text(parse_bytes(raw)) == "Topik / Topic: panjang\n"


def test_the_signature_separator_is_not_a_flowed_line():
    assert unflow("teks\n-- \nBudi") == "teks\n-- \nBudi"


def test_invisible_characters_nbsp_nul_and_crlf_are_normalised():
    raw = message("text/plain; charset=utf-8", "To\u200bpik:\u00a0Lelang\r\nNUL\x00here\r\n".encode())
    assert reply_text(parse_bytes(raw)) == "Topik: Lelang\nNULhere\n"


def test_a_huge_body_is_capped():
    raw = message("text/plain; charset=utf-8", b"a" * 3_000_000)
    assert len(reply_text(parse_bytes(raw), limit=1000)) == 1000


def test_broken_mime_never_raises():
    for raw in (b"Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n--",
                b"Content-Type: text/plain; charset=\"\xff\xfe\"\r\n\r\nbody",
                b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!",
                b"Content-Type: multipart/alternative\r\n\r\nno boundary at all",
                b"Subject: =?utf-8?B?broken?=\r\nFrom: <<<>>>\r\n\r\nx"):
        assert isinstance(reply_text(parse_bytes(raw)), str)
