"""The structured reply form: its labels, how values are read, and how they are checked.

This module is the single source of truth for the form: templates render it with `render_entry_form`,
and inbound replies are read back with `parse_entry_form`, so the two can never drift apart.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Label:
    """One labelled field of a reply form, with the words people may use for it."""

    key: str
    id: str
    en: str
    aliases: tuple[str, ...] = ()

    def text(self, lang: str = "id") -> str:
        """The label as printed: both languages, the reader's language first."""
        if self.id == self.en:
            return self.id
        return f"{self.en} / {self.id}" if lang == "en" else f"{self.id} / {self.en}"


ENTRY_LABELS: tuple[Label, ...] = (
    Label("session_date", "Tanggal sesi", "Session date"),
    Label("time", "Jam", "Time", ("Waktu",)),
    Label("duration_minutes", "Durasi (menit)", "Duration (minutes)", ("Durasi", "Duration", "Duration (mins)")),
    Label("mentor", "Mentor", "Mentor", ("Coach",)),
    Label("topic", "Topik", "Topic"),
    Label("objectives", "Tujuan pembelajaran", "Learning objectives"),
    Label("notes", "Catatan dan hasil pembelajaran", "Notes and learning outcomes"),
    Label("references", "Sumber referensi", "References"),
    Label("rating", "Penilaian", "Rating"),
    Label("followups", "Isu tindak lanjut", "Follow-up issues"),
    Label("next_steps", "Rencana selanjutnya", "Next steps"),
    Label("needs", "Kebutuhan", "Needs"),
)

# (key, number, Indonesian, English), best first, numbered as the paper diary does: 1 is best.
RATINGS: tuple[tuple[str, int, str, str], ...] = (
    ("very_useful", 1, "Sangat bermanfaat", "Very useful"),
    ("fairly_useful", 2, "Cukup bermanfaat", "Fairly useful"),
    ("ordinary", 3, "Biasa saja", "Ordinary"),
    ("not_useful", 4, "Tidak bermanfaat", "Not useful"),
)

REQUIRED = ("session_date", "topic", "notes", "rating")
LONGEST_SHORT_VALUE = 200  # a date, time or duration longer than this is prose, and not worth slow matching
MAX_MINUTES = 8 * 60
ONE_HOUR = 60

MONTHS_ID = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September",
             "Oktober", "November", "Desember")
MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
             "October", "November", "December")
_MONTH_WORDS = {
    **{name.lower(): n for n, name in enumerate(MONTHS_ID, 1)},
    **{name.lower(): n for n, name in enumerate(MONTHS_EN, 1)},
    "jan": 1, "feb": 2, "peb": 2, "pebruari": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "agu": 8,
    "agt": 8, "ags": 8, "aug": 8, "sep": 9, "sept": 9, "okt": 10, "oct": 10, "nov": 11, "nop": 11,
    "nopember": 11, "des": 12, "dec": 12,
}

# Placeholders people write when a field does not apply.
_NOTHING = {"", "-", "--", "—", "–", "tidak ada", "tdk ada", "tidak ada isu", "none", "n/a", "na", "nil",
            "nihil", "kosong", "no", "nothing", "belum ada"}


@dataclass(frozen=True)
class FieldError:
    """A problem with one field, explained in both languages."""

    field: str
    message_id: str
    message_en: str

    @property
    def message(self) -> str:
        """The bilingual text, Indonesian first."""
        return f"{self.message_id} / {self.message_en}"

    def as_dict(self) -> dict:
        """The JSON shape used by `cld mail parse`."""
        return {"field": self.field, "message": self.message}


@dataclass
class FormResult:
    """What was understood from a form, and what needs fixing."""

    fields: dict
    errors: list[FieldError] = field(default_factory=list)
    warnings: list[FieldError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the form can be accepted as it is."""
        return not self.errors


def _words(name: str) -> str:
    """A label's words as a pattern that tolerates spacing, case and 'Follow-up'/'Follow up'."""
    return r"\s+".join(re.escape(word).replace(r"\-", r"[-\s]?") for word in name.split())


def _label_pattern(label: Label) -> re.Pattern:
    names = sorted({label.id, label.en, *label.aliases}, key=len, reverse=True)
    name = "(?:" + "|".join(_words(n) for n in names) + ")"
    # Lines are matched with their whitespace collapsed (see match_label), so single optional spaces suffice.
    return re.compile(
        r"^(?:(?:[-•*·▪◦–]|\d{1,2}[.)]) )?"  # a bullet or a number
        r"[*_]{0,2} ?"
        rf"(?P<first>{name})(?: ?[/|] ?(?P<second>{name}))?"
        r" ?(?:\([^()\n]*\))?"  # a hint such as "(DD/MM/YYYY)"
        r" ?[*_]{0,2} ?(?P<colon>[:：])? ?[*_]{0,2}"
        r"(?P<value>.*)$",
        re.IGNORECASE,
    )


_PATTERNS: dict[str, re.Pattern] = {}


def _pattern(label: Label) -> re.Pattern:
    if label.key + label.id not in _PATTERNS:
        _PATTERNS[label.key + label.id] = _label_pattern(label)
    return _PATTERNS[label.key + label.id]


@functools.lru_cache(maxsize=16)
def _any_label_start(labels: tuple[Label, ...]) -> re.Pattern:
    """What every label's line starts with: the bullet, the emphasis and the first word of one of its names.

    One search that most lines (notes, quoted text) fail at once, before trying each label's own pattern:
    the patterns one after another took a tenth of the inbox job's CPU (py-spy).
    """
    firsts = sorted({_words(name.split()[0]) for label in labels for name in (label.id, label.en, *label.aliases)},
                    key=len, reverse=True)
    return re.compile(r"^(?:(?:[-•*·▪◦–]|\d{1,2}[.)]) )?[*_]{0,2} ?(?:" + "|".join(firsts) + ")", re.IGNORECASE)


def match_label(line: str, labels: tuple[Label, ...] = ENTRY_LABELS) -> tuple[str, str] | None:
    """(key, value on the same line) when `line` starts a labelled field, else None."""
    flat = re.sub(r"[ \t]+", " ", line).strip()  # also keeps long runs of spaces from slowing the match
    if not flat or not (flat[0].isalnum() or flat[0] in "-•*·▪◦–_") or not _any_label_start(labels).match(flat):
        return None
    for label in labels:
        found = _pattern(label).match(flat)
        if not found:
            continue
        # Without a colon only the full bilingual label counts, so prose lines are never mistaken for labels.
        if found["colon"] or (found["second"] and not found["value"].strip()):
            return label.key, found["value"]
    return None


def split_labelled(text: str, labels: tuple[Label, ...] = ENTRY_LABELS) -> tuple[str, list[tuple[str, str]]]:
    """The text before the first label, and each (key, raw value) in order; values run to the next label."""
    preamble: list[str] = []
    parts: list[tuple[str, list[str]]] = []
    for line in text.split("\n"):
        started = match_label(line, labels)
        if started:
            parts.append((started[0], [started[1]]))
        elif parts:
            parts[-1][1].append(line)
        else:
            preamble.append(line)
    return "\n".join(preamble).strip(), [(key, _clean_block(lines)) for key, lines in parts]


def labelled_values(text: str, labels: tuple[Label, ...] = ENTRY_LABELS) -> dict[str, str]:
    """Each field's raw value; when a label repeats, the first non-empty value wins."""
    return dict(_labelled_values(text, labels))


@functools.lru_cache(maxsize=8)
def _labelled_values(text: str, labels: tuple[Label, ...]) -> dict[str, str]:
    # Remembered for the last few texts: a reply is read for its needs and for its form, the same text twice.
    values: dict[str, str] = {}
    for key, value in split_labelled(text, labels)[1]:
        if not values.get(key):
            values[key] = value
    return values


def labels_found(text: str, labels: tuple[Label, ...] = ENTRY_LABELS) -> set[str]:
    """The keys of the labels present in `text`."""
    return {key for key, _ in split_labelled(text, labels)[1]}


def _clean_block(lines: list[str]) -> str:
    text = "\n".join(line.strip() for line in lines).strip()
    emphasised = re.fullmatch(r"(\*\*|\*|__|_)(.+?)\1", text, re.DOTALL)
    return emphasised[2].strip() if emphasised else text


def is_nothing(value: str | None) -> bool:
    """True for an empty value or a placeholder such as '-', 'tidak ada' or 'n/a'."""
    return value is None or value.strip().strip(".").strip().lower() in _NOTHING


def _text_or_none(value: str | None) -> str | None:
    return None if is_nothing(value) else value.strip()


def parse_date(value: str) -> dt.date | None:
    """A date written as ISO, DD/MM/YYYY, DD-MM-YYYY or with a month name in Indonesian or English."""
    if len(value) > LONGEST_SHORT_VALUE:
        return None
    text = value.lower().replace(",", " ")
    for pattern, order in (
        (r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", "ymd"),
        (r"\b(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})\b", "dmy"),
        (r"\b(\d{1,2})(?:st|nd|rd|th)?\s+([a-z]+)\.?\s+(\d{4})\b", "dMy"),
        (r"\b([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?\s+(\d{4})\b", "Mdy"),
    ):
        for found in re.finditer(pattern, text):
            parts = dict(zip(order, found.groups()))
            month = _MONTH_WORDS.get(parts["M"]) if "M" in parts else int(parts["m"])
            if month is None:
                continue
            year = int(parts["y"]) + (2000 if len(parts["y"]) == 2 else 0)
            try:
                return dt.date(year, month, int(parts["d"]))
            except ValueError:
                continue
    return None


def format_date(day: dt.date, lang: str = "id") -> str:
    """'3 Desember 2026' or '3 December 2026'."""
    months = MONTHS_EN if lang == "en" else MONTHS_ID
    return f"{day.day} {months[day.month - 1]} {day.year}"


_CLOCK = r"(\d{1,2})(?:[.:](\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?"
_UNTIL = r"\s*(?:-|–|—|s\.?\s?d\.?|s/d|sampai(?:\s+dengan)?|hingga|to|until|till)\s*"
_AT = r"(?:pukul|pkl\.?|jam|at|from|dari)?\s*"
_SPAN = re.compile(rf"{_AT}{_CLOCK}(?:{_UNTIL}{_AT}{_CLOCK})?\s*(?:wib|wita|wit)?\.?")


def _minute_of_day(hour: str, minute: str | None, half: str | None) -> int | None:
    h, m = int(hour), int(minute or 0)
    if half:
        if not 1 <= h <= 12:
            return None
        h = h % 12 + (12 if half.startswith("p") else 0)
    return h * 60 + m if h <= 23 and m <= 59 else None


def parse_time_span(value: str) -> tuple[int | None, int | None] | None:
    """(start, end) in minutes after midnight for '09.00-10.00', '9-10', 'pukul 9.30 s.d. 10.15'; None if unreadable."""
    if len(value) > LONGEST_SHORT_VALUE:
        return None
    found = _SPAN.fullmatch(value.strip().lower())
    if not found:
        return None
    h1, m1, half1, h2, m2, half2 = found.groups()
    if half2 and not half1 and h2:
        half1 = half2 if int(h1) <= int(h2) else None
    start = _minute_of_day(h1, m1, half1)
    end = _minute_of_day(h2, m2, half2) if h2 else None
    if start is None or (h2 and end is None):
        return None
    return start, end


def clock_text(minute: int | None) -> str | None:
    """Minutes after midnight as 'HH:MM'."""
    return None if minute is None else f"{minute // 60:02d}:{minute % 60:02d}"


_DURATION = re.compile(
    r"(?:(?P<h>\d+(?:\.\d+)?)\s*(?:jam|hours?|hrs?|h)(?![a-z]))?\s*"
    r"(?:(?P<m>\d+)\s*(?:menit|mnt|minutes?|mins?|m|')?)?"
)


def parse_duration(value: str) -> int | None:
    """Minutes from '45', '45 menit', '1 jam', '1,5 jam', '1 jam 30 menit', '90 minutes'; None if unreadable."""
    if len(value) > LONGEST_SHORT_VALUE:
        return None
    text = value.lower().replace(",", ".").strip().rstrip(".")
    text = re.sub(r"^(?:±|\+/-|sekitar|kurang lebih|kira-kira|approx\.?|about|around)\s*", "", text)
    found = _DURATION.fullmatch(text)
    if not found or not (found["h"] or found["m"]):
        return None
    return round(float(found["h"] or 0) * 60) + int(found["m"] or 0)


def _rating_legend_lines() -> set[str]:
    return {_squash(f"{n} = {id_text} / {en_text}") for _, n, id_text, en_text in RATINGS}


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


_RATING_WORDS = sorted(
    [(id_text.lower(), key) for key, _, id_text, _ in RATINGS]
    + [(en_text.lower(), key) for key, _, _, en_text in RATINGS]
    + [("tdk bermanfaat", "not_useful"), ("quite useful", "fairly_useful"), ("biasa", "ordinary")],
    key=lambda pair: len(pair[0]),
    reverse=True,
)


def parse_rating(value: str) -> str | None:
    """The rating key from a number 1-4 or its words in either language; None if unclear or contradictory."""
    lines = [line for line in value.split("\n") if line.strip()]
    legend = _rating_legend_lines()
    if legend <= {_squash(line) for line in lines}:
        # The untouched legend from our form is a hint, not an answer.
        lines = [line for line in lines if _squash(line) not in legend]
    text = " " + _squash(" ".join(lines)) + " "
    text = re.sub(r"\s*(?:/|dari|of|out of)\s*4\b", " ", text)
    if re.search(r"(?<![a-z])(?:luar biasa|tidak biasa|tdk biasa|not ordinary)(?![a-z])", text):
        # "Luar biasa" is praise ("outstanding"), not "Biasa saja": too unclear to guess which rating it means.
        return None
    keys = set()
    for words, key in _RATING_WORDS:
        # Longest phrases first, removed once found: "tidak bermanfaat" must not also count as "bermanfaat".
        pattern = rf"(?<![a-z]){re.escape(words)}(?![a-z])"
        if re.search(pattern, text):
            keys.add(key)
            text = re.sub(pattern, " ", text)
    by_number = {str(n): key for key, n, _, _ in RATINGS}
    keys |= {by_number[d] for d in re.findall(r"(?<![\d.,])([1-4])(?![\d.,]\d)", text)}
    if re.search(r"(?<![\d.,])(?:[05-9]|\d{2,})(?![\d])", text) or re.search(r"\b(bermanfaat|useful)\b", text):
        return None
    return keys.pop() if len(keys) == 1 else None


_BULLET = re.compile(r"^\s*(?:[-•*·▪◦–]|\d{1,2}[.)])\s+")
_UNIT = re.compile(r"\s*[\[(]\s*unit\b\s*:?\s*([^\])]*?)\s*[\])]\s*$", re.IGNORECASE)


def parse_followups(value: str | None) -> list[dict]:
    """Issues, one per line or bullet, each {'text', 'unit'}; 'tidak ada'/'none'/'-' give an empty list."""
    if is_nothing(value):
        return []
    lines = [line.rstrip() for line in value.split("\n") if line.strip()]
    bulleted = any(_BULLET.match(line) for line in lines)
    items: list[str] = []
    for line in lines:
        if bulleted and not _BULLET.match(line) and items:
            items[-1] += " " + line.strip()  # a wrapped continuation of the previous bullet
        else:
            items.append(_BULLET.sub("", line).strip())
    issues = []
    for item in items:
        if is_nothing(item):
            continue
        unit = _UNIT.search(item, max(0, len(item) - 200))
        text = item[: unit.start()].strip() if unit else item
        issues.append({"text": text.strip(), "unit": (unit[1].strip() or None) if unit else None})
    return [issue for issue in issues if issue["text"]]


def _legend_en() -> str:
    return ", ".join(f"{n} = {en}" for _, n, _, en in RATINGS)


def _legend_id() -> str:
    return ", ".join(f"{n} = {id_text}" for _, n, id_text, _ in RATINGS)


def _period_bounds(period: str) -> tuple[dt.date, dt.date]:
    found = re.fullmatch(r"(\d{4})-(\d{2})", period.strip())
    if not found or not 1 <= int(found[2]) <= 12:
        raise ValueError(f"period must look like YYYY-MM, not {period!r}")
    first = dt.date(int(found[1]), int(found[2]), 1)
    next_month = (first + dt.timedelta(days=32)).replace(day=1)
    return first, next_month - dt.timedelta(days=1)


def _period_name(first: dt.date, lang: str) -> str:
    return f"{(MONTHS_EN if lang == 'en' else MONTHS_ID)[first.month - 1]} {first.year}"


def _read_date(raw: str | None, result: FormResult, period: str | None, today: dt.date | None) -> None:
    if is_nothing(raw):
        return
    day = parse_date(raw)
    if day is None:
        result.errors.append(FieldError(
            "session_date",
            f'Tanggal sesi "{raw}" tidak dapat dibaca. Tulis misalnya 03/12/2026 atau 3 Desember 2026.',
            f'The session date "{raw}" could not be read. Write it like 03/12/2026 or 3 December 2026.'))
        return
    result.fields["session_date"] = day.isoformat()
    if period:
        first, last = _period_bounds(period)
        if not first <= day <= last:
            result.errors.append(FieldError(
                "session_date",
                f"Tanggal sesi {format_date(day)} berada di luar periode {_period_name(first, 'id')}.",
                f"The session date {format_date(day, 'en')} is outside the period {_period_name(first, 'en')}."))
            return
    if today and day > today:
        result.errors.append(FieldError(
            "session_date",
            f"Tanggal sesi {format_date(day)} belum terjadi (hari ini {format_date(today)}).",
            f"The session date {format_date(day, 'en')} is in the future (today is {format_date(today, 'en')})."))


def _read_time(raw: str | None, result: FormResult) -> int | None:
    """Records start and end; returns the span in minutes when both ends are known."""
    if is_nothing(raw):
        return None
    span = parse_time_span(raw)
    if span is None:
        result.errors.append(FieldError(
            "time",
            f'Jam "{raw}" tidak dapat dibaca. Tulis misalnya 09.00-10.00.',
            f'The time "{raw}" could not be read. Write it like 09.00-10.00.'))
        return None
    start, end = span
    result.fields["start_time"], result.fields["end_time"] = clock_text(start), clock_text(end)
    if end is not None and end <= start:
        result.errors.append(FieldError(
            "time",
            f"Jam selesai ({clock_text(end)}) harus setelah jam mulai ({clock_text(start)}).",
            f"The end time ({clock_text(end)}) must be after the start time ({clock_text(start)})."))
        return None
    return None if end is None else end - start


def _read_duration(raw: str | None, span: int | None, result: FormResult) -> None:
    minutes = None
    if not is_nothing(raw):
        minutes = parse_duration(raw)
        if minutes is None:
            result.errors.append(FieldError(
                "duration_minutes",
                f'Durasi "{raw}" tidak dapat dibaca. Tulis jumlah menit, misalnya 60 atau 90 menit.',
                f'The duration "{raw}" could not be read. Write the minutes, like 60 or 90 minutes.'))
            return
        if span is not None and abs(span - minutes) > 5:
            result.warnings.append(FieldError(
                "duration_minutes",
                f"Durasi {minutes} menit berbeda dengan jam sesi ({span} menit); kami memakai durasi yang ditulis.",
                f"The duration of {minutes} minutes differs from the session time ({span} minutes); "
                "we used the duration as written."))
    elif span is not None:
        minutes = span
    result.fields["duration_minutes"] = minutes
    if minutes is None:
        return
    if minutes <= 0 or minutes > MAX_MINUTES:
        result.errors.append(FieldError(
            "duration_minutes",
            f"Durasi {minutes} menit tidak wajar; isi antara 1 dan {MAX_MINUTES} menit (8 jam).",
            f"A duration of {minutes} minutes is not plausible; give between 1 and {MAX_MINUTES} minutes (8 hours)."))
    elif minutes > ONE_HOUR:
        result.fields["over_hour"] = True
        result.warnings.append(FieldError(
            "duration_minutes",
            f"Sesi berlangsung {minutes} menit, lebih dari satu jam; akan dicatat dalam laporan.",
            f"The session lasted {minutes} minutes, more than one hour; it will be noted in the report."))


def _read_rating(raw: str | None, result: FormResult) -> None:
    if is_nothing(raw):
        return
    rating = parse_rating(raw)
    if rating is None:
        result.errors.append(FieldError(
            "rating",
            f'Penilaian "{_squash(raw)}" tidak dikenali. Isi salah satu: {_legend_id()}.',
            f'The rating "{_squash(raw)}" was not understood. Use one of: {_legend_en()}.'))
    result.fields["rating"] = rating


_MISSING = {
    "session_date": ("Tanggal sesi belum diisi.", "The session date is missing."),
    "topic": ("Topik belum diisi.", "The topic is missing."),
    "notes": ("Catatan dan hasil pembelajaran belum diisi.", "The notes and learning outcomes are missing."),
    "rating": (f"Penilaian belum diisi. Isi salah satu: {_legend_id()}.",
               f"The rating is missing. Use one of: {_legend_en()}."),
    "duration_minutes": ("Durasi belum diisi. Tulis Durasi (menit) atau Jam mulai dan selesai, misalnya 09.00-10.00.",
                         "The duration is missing. Give the Duration (minutes) or the start and end Time, "
                         "like 09.00-10.00."),
}


def empty_entry_fields() -> dict:
    """The entry fields with nothing understood yet."""
    return {"session_date": None, "start_time": None, "end_time": None, "duration_minutes": None, "mentor": None,
            "topic": None, "objectives": None, "notes": None, "references": None, "rating": None,
            "followups": [], "next_steps": None, "needs": None, "over_hour": False}


def parse_entry_form(text: str, *, period: str | None = None, today: dt.date | None = None) -> FormResult:
    """Read a filled diary form; `period` ('YYYY-MM') and `today` let the session date be checked."""
    raw = labelled_values(text)
    result = FormResult(fields=empty_entry_fields())
    _read_date(raw.get("session_date"), result, period, today)
    span = _read_time(raw.get("time"), result)
    _read_duration(raw.get("duration_minutes"), span, result)
    _read_rating(raw.get("rating"), result)
    for key in ("mentor", "topic", "objectives", "notes", "references", "next_steps", "needs"):
        result.fields[key] = _text_or_none(raw.get(key))
    result.fields["followups"] = parse_followups(raw.get("followups"))
    reported = {error.field for error in result.errors}
    if "time" in reported:
        reported.add("duration_minutes")  # the time error already explains why there is no duration
    for key in (*REQUIRED, "duration_minutes"):
        if result.fields[key] is None and key not in reported:
            result.errors.append(FieldError(key, *_MISSING[key]))
    return result


def parse_needs(text: str) -> str | None:
    """The value of 'Kebutuhan / Needs:' in a reply, or None when absent or empty."""
    return _text_or_none(labelled_values(text).get("needs"))


def _label(key: str) -> Label:
    return next(label for label in ENTRY_LABELS if label.key == key)


def _rendered_value(key: str, values: dict) -> str:
    if key == "session_date" and values.get("session_date"):
        return dt.date.fromisoformat(values["session_date"]).strftime("%d/%m/%Y")
    if key == "time" and values.get("start_time"):
        start, end = values["start_time"].replace(":", "."), (values.get("end_time") or "").replace(":", ".")
        return f"{start}-{end}" if end else start
    if key == "rating" and values.get("rating"):
        return next(f"{n} ({id_text} / {en_text})" for k, n, id_text, en_text in RATINGS if k == values["rating"])
    if key == "followups":
        return "\n".join(f"- {item['text']}" + (f" [Unit: {item['unit']}]" if item.get("unit") else "")
                         for item in values.get("followups") or [])
    value = values.get(key)
    return "" if value is None else str(value)


def render_entry_form(values: dict | None, lang: str = "id") -> str:
    """The form as plain text, blank or refilled with `values` (the fields of a FormResult)."""
    values = values or {}
    lines: list[str] = []
    for label in ENTRY_LABELS:
        value = _rendered_value(label.key, values)
        if label.key == "followups" and value:
            lines += [f"{label.text(lang)}:", value]
        else:
            lines.append(f"{label.text(lang)}: {value}".rstrip())
        if label.key == "rating":
            lines += [f"  {n} = {id_text} / {en_text}" for _, n, id_text, en_text in RATINGS]
    return "\n".join(lines) + "\n"
