"""One-word answers: a signer's SETUJU / REVISI and a unit's PROSES / SELESAI.

The first meaningful line decides, and only when it is unmistakable: a negation, a question, both words
or a word that appears only in quoted text never approves or resolves anything; the sender is asked again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from workflow.mail.forms import FieldError, Label, parse_date, parse_followups, split_labelled

APPROVE_WORDS = ("setuju", "disetujui", "ok", "oke", "okay", "approve", "approved")
REVISE_WORDS = ("revisi", "revise", "revision", "perbaiki")
PROGRESS_WORDS = ("proses", "diproses", "sedang diproses", "dalam proses", "in progress", "in-progress",
                  "on progress", "progress")
RESOLVED_WORDS = ("selesai", "sudah selesai", "telah selesai", "resolved", "done", "tuntas", "completed")
_NEGATIONS = r"tidak|tdk|tak|ga|gak|nggak|enggak|belum|blm|bukan|jangan|not|no|never|don't|dont|do not|" \
             r"cannot|can't|won't|isn't|is not"

DECISION_LABELS: tuple[Label, ...] = (
    Label("review", "Reviu", "Review", ("Ulasan", "Alasan", "Reasons", "Catatan reviu")),
    Label("followup_notes", "Catatan tindak lanjut", "Follow-up notes"),
    Label("followups", "Isu tindak lanjut", "Follow-up issues"),
    Label("next_steps", "Rencana selanjutnya", "Next steps"),
)

_GREETING = re.compile(
    r"^(?:yth\.?|dear|hi|hai|halo|hello|selamat\s+(?:pagi|siang|sore|malam)|assalamu\S*|good\s+\w+)\b[^\n]{0,60}$",
    re.IGNORECASE,
)


def _alternatives(words: tuple[str, ...]) -> str:
    return "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in sorted(words, key=len, reverse=True))


_APPROVE, _REVISE = _alternatives(APPROVE_WORDS), _alternatives(REVISE_WORDS)
_PROGRESS, _RESOLVED = _alternatives(PROGRESS_WORDS), _alternatives(RESOLVED_WORDS)
_SUBJECT = r"(?:(?:saya|kami|aku|i|we)\s+)?(?:(?:sudah|telah)\s+)?"


@dataclass
class DecisionResult:
    """A signer's answer to a sign-off request."""

    decision: str | None
    review: str | None = None
    followup_notes: str | None = None
    followups: list[dict] = field(default_factory=list)
    next_steps: str | None = None
    errors: list[FieldError] = field(default_factory=list)


@dataclass
class FollowupStatusResult:
    """A unit's answer to a follow-up issue."""

    status: str | None
    note: str | None = None
    target_date: str | None = None
    errors: list[FieldError] = field(default_factory=list)


def _flat(line: str) -> str:
    return re.sub(r"\s+", " ", line.replace("’", "'").replace("*", "")).strip()


def _own_lines(text: str) -> list[str]:
    """The lines before any quoted ('>') line: words in quoted text never count as an answer."""
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.lstrip().startswith(">"):
            break
        lines.append(line)
    return lines


def _first_line(lines: list[str]) -> tuple[str, list[str]]:
    """The deciding line (greetings without answer words skipped) and the lines after it."""
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        if _GREETING.match(line.strip()) and not _has_any_word(line):
            continue
        return line.strip(), lines[index + 1:]
    return "", []


def _has_any_word(line: str) -> bool:
    every = "|".join((_APPROVE, _REVISE, _PROGRESS, _RESOLVED))
    return re.search(rf"(?<![\w'])(?:{every})(?![\w'])", _flat(line), re.I) is not None


def _opening(line: str, words: str) -> re.Match | None:
    return re.match(rf"^[^\w']*{_SUBJECT}(?P<word>{words})(?![\w'])(?P<after>.*)$", _flat(line), re.I)


def _doubtful(after: str, opposite: str) -> bool:
    """True when what follows the answer word questions, negates or contradicts it."""
    before_separator = re.split(r"[-–—:,;.!]", after, maxsplit=1)[0]
    return (
        "?" in before_separator
        or re.match(rf"^\s*(?:atau|or|{_NEGATIONS})(?![\w'])(?!\s+ada\b)", after, re.I) is not None
        or re.search(rf"(?<![\w'])(?:{opposite})(?![\w'])", after, re.I) is not None
    )


def _rest(after: str) -> str:
    return re.sub(r"^[\s\-–—:,;.!]+", "", after).strip()


def answer_kind(text: str) -> str | None:
    """'decision' or 'followup' when the first meaningful line carries such a word (even negated), else None."""
    line, _ = _first_line(_own_lines(text))
    flat = _flat(line)
    if re.search(rf"(?<![\w'])(?:{_APPROVE}|{_REVISE})(?![\w'])", flat, re.I) and len(flat) < 200:
        return "decision"
    if re.search(rf"(?<![\w'])(?:{_PROGRESS}|{_RESOLVED})(?![\w'])", flat, re.I) and len(flat) < 200:
        return "followup"
    return None


def starts_with_answer(text: str) -> bool:
    """True when the reply opens with an answer word, so any quoted form below it is ours, not theirs."""
    line, _ = _first_line(_own_lines(text))
    every = "|".join((_APPROVE, _REVISE, _PROGRESS, _RESOLVED, _NEGATIONS))
    return re.match(rf"^[^\w']*{_SUBJECT}(?:{every})(?![\w'])", _flat(line), re.I) is not None


_ASK_AGAIN = (
    "Kami tidak dapat memastikan keputusan Anda. Balas dengan SETUJU di baris pertama untuk menyetujui, "
    "atau REVISI diikuti alasannya untuk meminta perbaikan.",
    "We could not tell your decision. Reply with APPROVE on the first line to approve, "
    "or REVISE followed by your reasons to ask for changes.",
)
_NEGATED = (
    "Balasan Anda berisi kata penolakan atau pertanyaan, jadi belum kami anggap sebagai persetujuan. "
    "Untuk meminta perbaikan balas REVISI diikuti alasannya; untuk menyetujui balas SETUJU.",
    "Your reply contains a negation or a question, so we did not take it as an approval. "
    "To ask for changes reply REVISE followed by your reasons; to approve reply APPROVE.",
)


def _join(*parts: str | None) -> str | None:
    text = "\n".join(p for p in parts if p and p.strip()).strip()
    return text or None


def parse_decision(text: str) -> DecisionResult:
    """Read SETUJU/APPROVE or REVISI/REVISE (with reasons) and the optional labelled review parts."""
    line, following = _first_line(_own_lines(text))
    approve, revise = _opening(line, _APPROVE), _opening(line, _REVISE)
    found = approve or revise
    if not found:
        negated = re.search(rf"(?<![\w'])(?:{_NEGATIONS})(?![\w'])", _flat(line), re.I) and answer_kind(line)
        return DecisionResult(None, errors=[FieldError("decision", *(_NEGATED if negated else _ASK_AGAIN))])
    if _doubtful(found["after"], _REVISE if approve else _APPROVE):
        return DecisionResult(None, errors=[FieldError("decision", *_NEGATED)])
    preamble, parts = split_labelled("\n".join(following), DECISION_LABELS)
    values: dict[str, str] = {}
    for key, value in parts:
        values[key] = _join(values.get(key), value) or ""
    result = DecisionResult(
        "approve" if approve else "revise",
        review=_join(_rest(found["after"]), preamble, values.get("review")),
        followup_notes=_join(values.get("followup_notes")),
        followups=parse_followups(values.get("followups")),
        next_steps=_join(values.get("next_steps")),
    )
    if result.decision == "revise" and not result.review:
        result.errors.append(FieldError(
            "review",
            "Mohon tuliskan alasan revisi setelah kata REVISI, agar pegawai tahu apa yang harus diperbaiki.",
            "Please write the reasons after the word REVISE, so the employee knows what to change."))
    return result


_TARGET = re.compile(
    r"^\s*(?:target|tenggat|batas waktu|perkiraan selesai|estimasi selesai|deadline|due|due date)"
    r"(?:\s+(?:tanggal|date))?\s*[:：]?\s*(?P<value>.+)$",
    re.IGNORECASE,
)
_STATUS_ASK_AGAIN = (
    "Kami tidak dapat memastikan status isu ini. Balas dengan PROSES (boleh dengan Target: tanggal) "
    "atau SELESAI diikuti catatan penyelesaiannya di baris pertama.",
    "We could not tell the status of this issue. Reply with IN PROGRESS (optionally with Target: date) "
    "or RESOLVED followed by a note on the first line.",
)


def parse_followup_status(text: str) -> FollowupStatusResult:
    """Read PROSES/IN PROGRESS (with an optional target date) or SELESAI/RESOLVED (with a note)."""
    line, following = _first_line(_own_lines(text))
    progress, resolved = _opening(line, _PROGRESS), _opening(line, _RESOLVED)
    if resolved and _doubtful(resolved["after"], "belum|masih belum"):
        resolved = None
    if progress and "?" in re.split(r"[-–—:,;.!]", progress["after"], maxsplit=1)[0]:
        progress = None
    found = progress or resolved
    if not found:
        return FollowupStatusResult(None, errors=[FieldError("status", *_STATUS_ASK_AGAIN)])
    rest = _rest(found["after"])
    body, target_text = [], None
    for extra in following:
        target = _TARGET.match(extra)
        if target and target_text is None:
            target_text = target["value"].strip()
        else:
            body.append(extra)
    result = FollowupStatusResult("in_progress" if progress else "resolved", note=_join(rest, "\n".join(body)))
    if progress:
        in_line = _TARGET.match(rest)
        target_text = target_text or (in_line["value"] if in_line else rest if parse_date(rest) else None)
        if target_text:
            day = parse_date(target_text)
            result.target_date = day.isoformat() if day else None
            if day is None:
                result.errors.append(FieldError(
                    "target_date",
                    f'Tanggal target "{target_text}" tidak dapat dibaca. Tulis misalnya Target: 20/12/2026.',
                    f'The target date "{target_text}" could not be read. Write it like Target: 20/12/2026.'))
    return result
