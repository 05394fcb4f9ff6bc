"""The SMTP sender's own envelope quoting and dot-stuffing give exactly what smtplib gives."""

import re
import smtplib

import pytest
from hypothesis import given, strategies as st

from workflow.mail.transport import dot_stuffed, quoted_address

LINE_PIECES = st.sampled_from([b".", b"..", b"\r\n", b"\n", b"\r", b"a", b" ", b"From ", b"\r\n.\r\n"])


@given(st.lists(LINE_PIECES, max_size=30).map(b"".join))
def test_dot_stuffing_doubles_every_dot_that_starts_a_line_as_smtplib_does(raw):
    assert dot_stuffed(raw) == re.sub(rb"(?m)^\.", b"..", raw)


@pytest.mark.parametrize("address", [
    "a@b.c", "bench-x-12+e345@example.test", "cld+0123456789abcdef0123456789abcdef@office.example", "O'Neil@x.id",
    "a..b@c", ".a@b", "a@b.c.", "a b@c", "<a@b>", "Budi <b@x>", "ä@b", "a@[192.0.2.1]", '"q u"@x', "a(c)@b", "",
])
def test_envelope_addresses_are_quoted_as_smtplib_quotes_them(address):
    assert quoted_address(address) == smtplib.quoteaddr(address)
