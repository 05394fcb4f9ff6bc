"""A hand-built MIME writer for our own outgoing mail: the wire bytes of one message, cheaply.

The stdlib's EmailMessage (header registry, content manager, generator) is general and slow: building and
serialising one prompt cost ~1.7 ms, more than rendering its templates. Our messages have one fixed shape
(a text and an HTML alternative, sometimes attachments), so writing them directly is enough. The output
parses, with any standard parser, to what the stdlib builder produced (plus the Content-Language header that
builder dropped); tests/unit/test_mime.py checks that against a copy of it.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass, field
from email.utils import getaddresses
from urllib.parse import quote

CRLF = "\r\n"
# RFC 5322 asks for lines of at most 78 characters where possible and forbids more than 998.
FOLD_AT = 78
# A word longer than this cannot share a line under the 998 limit with a header name: it gets encoded.
LONGEST_WORD = 900
# How much of a file name goes on one line of Content-Disposition (RFC 2231 sections beyond).
FILENAME_SECTION = 50
# One encoded word is at most 75 characters (RFC 2047); this is what is left after "=?utf-8?q?" and "?=".
ENCODED_FRAME = len("=?utf-8?q??=")
ENCODED_TEXT = 75 - ENCODED_FRAME
ADDRESS_HEADERS = frozenset({"from", "to", "cc", "bcc", "reply-to", "sender"})
# Characters that may stand for themselves in a "Q" encoded word, in a Subject and in a display name alike.
Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
# A display name with one of these must be a quoted string (RFC 5322 "specials").
SPECIALS = re.compile(r'[][\\()<>@,:;".]')
WHITESPACE = re.compile(r"\s+")

Address = tuple[str, str]


def one_line(value: str) -> str:
    """Collapse CR, LF and every run of whitespace to one space: no value can start a header of its own."""
    return WHITESPACE.sub(" ", value).strip()


@dataclass
class Attachment:
    filename: str
    content: bytes
    maintype: str = "application"
    subtype: str = "octet-stream"


@dataclass
class OutgoingMessage:
    """Ordered headers and the parts of one outgoing email; `as_bytes()` writes it for SMTP.

    Reading and deleting headers works like EmailMessage (case-insensitive names, setting appends), so the
    outbox can adjust a message before it is stored.
    """

    text: str
    html: str
    attachments: list[Attachment] = field(default_factory=list)
    # (name, value as read back, the folded wire line): each header is encoded once, when it is set.
    _headers: list[tuple[str, str, str]] = field(default_factory=list)
    # The addresses behind each address header, so recipients need no parsing.
    _addresses: dict[str, list[Address]] = field(default_factory=dict)

    def __setitem__(self, name: str, value: str) -> None:
        if name.lower() in ADDRESS_HEADERS:
            self.add_addresses(name, getaddresses([str(value)]))
        else:
            value = one_line(str(value))
            self._headers.append((name, value, fold(name, encode_unstructured(value))))

    def add_addresses(self, name: str, addresses: list[Address]) -> None:
        """Add an address header from (display name, address) pairs."""
        addresses = [(one_line(display), one_line(address)) for display, address in addresses if address.strip()]
        self._addresses.setdefault(name.lower(), []).extend(addresses)
        shown = ", ".join(readable_address(pair) for pair in addresses)
        self._headers.append((name, shown, fold(name, ", ".join(encode_address(pair) for pair in addresses))))

    def __getitem__(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value, _ in self._headers if key.lower() == wanted), None)

    def __delitem__(self, name: str) -> None:
        wanted = name.lower()
        self._headers = [header for header in self._headers if header[0].lower() != wanted]
        self._addresses.pop(wanted, None)

    def __contains__(self, name: str) -> bool:
        return self[name] is not None

    def get_all(self, name: str, failobj=None):
        """Every value of header `name`, in order; `failobj` when there is none."""
        wanted = name.lower()
        values = [value for key, value, _ in self._headers if key.lower() == wanted]
        return values or failobj

    def items(self) -> list[tuple[str, str]]:
        """(name, value) of every header, in order."""
        return [(key, value) for key, value, _ in self._headers]

    def recipients(self) -> list[str]:
        """Every To, Cc and Bcc address, lower-cased: the SMTP envelope recipients."""
        return [address.lower() for header in ("to", "cc", "bcc") for _, address in self._addresses.get(header, [])]

    def as_bytes(self, policy=None) -> bytes:
        """The message as it goes on the wire: CRLF line ends, 7-bit (for ASCII addresses), lines of at most 998.

        `policy` is accepted for EmailMessage's signature and ignored: the output is always SMTP-ready.
        """
        head = "".join(line + CRLF for _, _, line in self._headers) + "MIME-Version: 1.0" + CRLF
        alternative = multipart("alternative", [text_part("plain", self.text), text_part("html", self.html)])
        if self.attachments:
            body = multipart("mixed", [alternative, *(attachment_part(item) for item in self.attachments)])
        else:
            body = alternative
        return head.encode("utf-8") + body


def multipart(subtype: str, parts: list[bytes]) -> bytes:
    """A multipart entity (its own Content-Type line, a blank line, then the parts)."""
    # "=_" never occurs in quoted-printable or base64 text, so the boundary cannot collide with any part.
    boundary = "=_" + secrets.token_hex(12)
    delimiter = f"{CRLF}--{boundary}{CRLF}".encode("ascii")
    opening = f'Content-Type: multipart/{subtype};{CRLF} boundary="{boundary}"{CRLF}{CRLF}--{boundary}{CRLF}'
    return opening.encode("ascii") + delimiter.join(parts) + f"{CRLF}--{boundary}--{CRLF}".encode("ascii")


def text_part(subtype: str, text: str) -> bytes:
    """A text part in UTF-8, quoted-printable, its lines ending in CRLF."""
    # Lines are split and rejoined as the stdlib does (on CR, LF and CRLF), so a stray CR in user text
    # becomes a line break instead of a bare CR on the wire.
    body = b"\r\n".join(text.encode("utf-8").splitlines()) + b"\r\n"
    # b2a_qp keeps the CRLF it finds, encodes trailing spaces and a lone ".", and breaks lines at 76.
    encoded = binascii.b2a_qp(body, istext=True)
    return (f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}'
            f"Content-Transfer-Encoding: quoted-printable{CRLF}{CRLF}").encode("ascii") + encoded


def attachment_part(item: Attachment) -> bytes:
    """An attachment, base64 in lines of 76 characters."""
    encoded = base64.encodebytes(item.content).replace(b"\n", b"\r\n")
    head = (f"Content-Type: {one_line(item.maintype)}/{one_line(item.subtype)}{CRLF}"
            f"Content-Transfer-Encoding: base64{CRLF}"
            f"Content-Disposition: attachment;{filename_parameter(one_line(item.filename))}{CRLF}{CRLF}")
    return head.encode("ascii") + encoded


def filename_parameter(filename: str) -> str:
    """` filename="..."`, or RFC 2231 `filename*=utf-8''...` (in folded sections when long)."""
    plain = filename.isascii() and filename.isprintable() and '"' not in filename and "\\" not in filename
    if plain and len(filename) <= FILENAME_SECTION:
        return f'{CRLF} filename="{filename}"'
    encoded = quote(filename, safe="", encoding="utf-8")
    if len(encoded) <= FILENAME_SECTION:
        return f"{CRLF} filename*=utf-8''{encoded}"
    # Split between percent escapes: a section may end anywhere except inside one "%XX".
    sections, start = [], 0
    while start < len(encoded):
        end = min(start + FILENAME_SECTION, len(encoded))
        if "%" in encoded[max(end - 2, start):end]:
            end = encoded.rindex("%", start, end)
        sections.append(encoded[start:end])
        start = end
    first, *rest = sections
    return f"{CRLF} filename*0*=utf-8''{first}" + "".join(
        f";{CRLF} filename*{number}*={section}" for number, section in enumerate(rest, start=1))


def readable_address(pair: Address) -> str:
    """How EmailMessage shows an address when read back: decoded, quoted when the name needs it."""
    display, address = pair
    if not display:
        return address
    if SPECIALS.search(display):
        display = '"' + display.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{display} <{address}>"


def encode_address(pair: Address) -> str:
    """An address for the wire: a non-ASCII (or encoded-word-like) display name as encoded words."""
    display, address = pair
    if not display:
        return address
    if not needs_encoding(display):
        return readable_address(pair)
    # One encoded word where it fits a line, as formataddr() writes it: Python's parser (3.11) keeps the space
    # between two encoded words of a display name, although RFC 2047 says to drop it.
    return f"{' '.join(encoded_words(display, LONGEST_WORD - ENCODED_FRAME))} <{address}>"


def needs_encoding(text: str) -> bool:
    """Not printable ASCII, could be mistaken for an encoded word, or has a word too long for any line."""
    if not (text.isascii() and text.isprintable()) or "=?" in text:
        return True
    return len(text) > LONGEST_WORD and any(len(word) > LONGEST_WORD for word in text.split(" "))


def encode_unstructured(value: str) -> str:
    """A free-text value (a Subject): ASCII words as they are, runs of other words as encoded words."""
    if not needs_encoding(value):
        return value
    out, run = [], []
    for word in value.split(" "):
        if needs_encoding(word):
            run.append(word)
            continue
        if run:
            out += encoded_words(" ".join(run))
            run = []
        out.append(word)
    if run:
        out += encoded_words(" ".join(run))
    return " ".join(out)


def encoded_words(text: str, limit: int = ENCODED_TEXT) -> list[str]:
    """`text` as RFC 2047 encoded words of at most `limit` encoded characters each, none splitting a character.

    "Q" keeps mostly-ASCII text readable; base64 is shorter for scripts that are mostly multi-byte.
    """
    q_words = _chunks(text, _q_char, limit)
    b_words = _base64_chunks(text, limit)
    if sum(map(len, q_words)) <= sum(map(len, b_words)):
        return ["=?utf-8?q?" + chunk + "?=" for chunk in q_words]
    return ["=?utf-8?b?" + chunk + "?=" for chunk in b_words]


def _q_char(char: str) -> str:
    if char == " ":
        return "_"
    return "".join(chr(byte) if byte in Q_SAFE else f"={byte:02X}" for byte in char.encode("utf-8"))


def _chunks(text: str, encode, limit: int) -> list[str]:
    chunks, current = [], ""
    for char in text:
        piece = encode(char)
        if current and len(current) + len(piece) > limit:
            chunks.append(current)
            current = ""
        current += piece
    return [*chunks, current] if current else chunks


def _base64_chunks(text: str, limit: int) -> list[str]:
    # Every 3 bytes of UTF-8 make 4 base64 characters.
    budget = limit // 4 * 3
    chunks, current = [], b""
    for char in text:
        raw = char.encode("utf-8")
        if current and len(current) + len(raw) > budget:
            chunks.append(current)
            current = b""
        current += raw
    if current:
        chunks.append(current)
    return [base64.b64encode(chunk).decode("ascii") for chunk in chunks]


def fold(name: str, value: str) -> str:
    """`Name: value` folded at spaces into lines of at most 78 characters where a space allows it."""
    line = f"{name}: {value}"
    if len(line) <= FOLD_AT:
        return line
    head = f"{name}:"
    lines, current = [], head
    for word in value.split(" "):
        # Folding only ever inserts CRLF before an existing space, so unfolding gives the value back.
        if len(current) + 1 + len(word) > FOLD_AT and current != head:
            lines.append(current)
            current = ""
        current += " " + word
    lines.append(current)
    return CRLF.join(lines)
