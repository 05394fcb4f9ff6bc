"""Keep only what the person wrote this time: cut quoted mail, attributions, signatures and our prompt.

One exception is designed in: people often fill the form *inside* the quoted prompt. When the new text
above the quote is only a short covering note (no form labels, no answer word such as SETUJU) and the
quoted part holds a filled form, `trim_reply` returns that form, un-quoted, instead of the covering note.
"""

from __future__ import annotations

import re

from workflow.mail.decisions import starts_with_answer
from workflow.mail.forms import labels_found, parse_entry_form

MARKER = "##- Tulis balasan di atas baris ini / Write your reply above this line -##"

_MARKER = re.compile(r"^[>\s]*(?:##-|.*(?:tulis balasan di atas baris ini|write your reply above this line))",
                     re.IGNORECASE)
_QUOTED = re.compile(r"^\s*>")
_ATTRIBUTION = re.compile(r"^\s*(?:on|pada)\b.*\d.*\b(?:wrote|menulis)\s*:\s*$", re.IGNORECASE)
_ATTRIBUTION_START = re.compile(r"^\s*(?:on|pada)\b.*\d", re.IGNORECASE)
_ATTRIBUTION_END = re.compile(r"^.{0,120}\b(?:wrote|menulis)\s*:\s*$", re.IGNORECASE)
_ORIGINAL = re.compile(
    r"^\s*(?:-{2,}\s*(?:original message|pesan asli|forwarded message|pesan terusan|pesan yang diteruskan)\s*-{2,}"
    r"|(?:begin forwarded message|awal pesan yang diteruskan|pesan yang diteruskan)\s*:)\s*$",
    re.IGNORECASE,
)
_FROM = re.compile(r"^\s*[*_]*(?:from|dari)\s*[*_]*\s*:\s*[*_]*\s*\S", re.IGNORECASE)
_HEADER = re.compile(
    r"^\s*[*_]*(?:sent|date|to|cc|subject|dikirim|terkirim|tanggal|kepada|subjek|perihal|tembusan)\s*[*_]*\s*:",
    re.IGNORECASE,
)
_DEVICE = re.compile(
    r"^\s*(?:sent from my\b|sent from (?:yahoo|outlook|mail|gmail)\b|sent via\b|get outlook for\b"
    r"|dapatkan outlook untuk\b|dikirim dari (?:iphone|ipad|ponsel|yahoo|samsung|perangkat|outlook|android|mail"
    r"|gmail|xiaomi|oppo|vivo|huawei|smartphone)\b).{0,60}$",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(r"^-- ?$")
_FOOTER = re.compile(r"^\s*(?:kode balasan|reply code)\b.{0,60}$", re.IGNORECASE)
_RULE = re.compile(r"^\s*(?:_{5,}|-{5,}|={5,})\s*$")
_CLOSING = re.compile(
    r"^\s*(?:salam(?:\s+hormat)?|hormat\s+(?:saya|kami)|terima\s*kasih(?:\s+banyak)?|makasih|trims|thanks"
    r"(?:\s+a\s+lot)?|thank\s+you|(?:best\s+|kind\s+|warm\s+)?regards|best|cheers|wassalam\S*|tabik)[\s,.!]*$",
    re.IGNORECASE,
)

COVERING_NOTE_LINES = 4
COVERING_NOTE_CHARS = 300


LONGEST_MARKER_LINE = 400


def _is_boundary(lines: list[str], i: int) -> bool:
    line = lines[i]
    if len(line) > LONGEST_MARKER_LINE:
        return bool(_QUOTED.match(line))  # every other marker is a short line; long ones would be slow to test
    if _MARKER.match(line) or _QUOTED.match(line) or _ATTRIBUTION.match(line) or _ORIGINAL.match(line):
        return True
    if _DEVICE.match(line) or _SIGNATURE.match(line) or _FOOTER.match(line):
        return True
    following = [nxt for nxt in lines[i + 1: i + 7] if nxt.strip()]
    if _ATTRIBUTION_START.match(line) and following and _ATTRIBUTION_END.match(lines[i + 1]):
        return True  # an attribution wrapped over two lines
    return bool(_FROM.match(line) and any(_HEADER.match(nxt) for nxt in following[:5]))


def first_boundary(lines: list[str]) -> int:
    """The index of the first line that starts quoted or foreign text (len(lines) when there is none)."""
    return next((i for i in range(len(lines)) if _is_boundary(lines, i)), len(lines))


def _without_closing(lines: list[str]) -> list[str]:
    """Drop a trailing 'Salam, / Budi' or 'Terima kasih' block, which is not part of any answer."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    for i in filled[-6:]:
        after = [lines[j] for j in filled if j > i]
        if _CLOSING.match(lines[i]) and len(after) <= 4 and all(len(a.strip()) <= 60 for a in after) \
                and not any(labels_found(a) for a in after):
            return lines[:i]
    return lines


def _tidy(lines: list[str]) -> str:
    lines = _without_closing(lines)
    end = len(lines)
    while end and (not lines[end - 1].strip() or _RULE.match(lines[end - 1])):
        end -= 1
    return "\n".join(line.rstrip() for line in lines[:end]).strip("\n")


def strip_quote_prefix(text: str) -> str:
    """Remove one level of '>' quoting from every line."""
    return "\n".join(re.sub(r"^\s?>[ ]?", "", line) for line in text.split("\n"))


def _is_covering_note(top: str) -> bool:
    filled = [line for line in top.split("\n") if line.strip()]
    return (len(filled) <= COVERING_NOTE_LINES and len(top) <= COVERING_NOTE_CHARS
            and not labels_found(top) and not starts_with_answer(top))


def quoted_form(lines: list[str]) -> str | None:
    """A filled entry form found in quoted text, un-quoted; None when the quote holds no filled form."""
    unquoted = strip_quote_prefix("\n".join(lines)).split("\n")
    start = next((i for i, line in enumerate(unquoted) if labels_found(line)), None)
    if start is None:
        return None
    block = unquoted[start:]
    end = next((i for i in range(1, len(block)) if _is_boundary(block, i)), len(block))
    form = _tidy(block[:end])
    fields = parse_entry_form(form).fields
    filled = any(fields[key] for key in ("session_date", "start_time", "duration_minutes", "topic", "notes",
                                         "rating"))
    return form if filled else None


def trim_reply(text: str, *, inline_form: bool = True) -> str:
    """The new text of a reply; with `inline_form`, a form filled inside the quote when that is all there is."""
    lines = (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cut = first_boundary(lines)
    top = _tidy(lines[:cut])
    if inline_form and cut < len(lines) and _is_covering_note(top):
        form = quoted_form(lines[cut:])
        if form:
            return form
    return top
