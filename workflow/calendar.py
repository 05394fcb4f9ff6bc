"""Periods, working days and the monthly schedule of an Indonesian government office.

Everything here is a pure function of its arguments: callers pass the current time in, so
schedules can be tested by moving time rather than by waiting for it.

Holidays come from the `holidays` package, category "public" (hari libur nasional) plus, by
default, category "government" (cuti bersama ASN, set each year by SKB 3 Menteri and a
Keppres). Civil servants take cuti bersama off as collective leave and Kemenkeu offices run
only a duty roster on those days, so a prompt or a reminder sent then would sit unread; set
`include_cuti_bersama=False` for offices that work through them. Office-specific closures
(a local holiday, a move, a network outage) go in `closures`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

DEFAULT_TZ = "Asia/Jakarta"

MONTHS = {
    "id": (
        "Januari", "Februari", "Maret", "April", "Mei", "Juni",
        "Juli", "Agustus", "September", "Oktober", "November", "Desember",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
}

_PERIOD = re.compile(r"(\d{4})-(\d{2})")


def parse_period(text: str) -> str:
    """Return `text` as a canonical `YYYY-MM` period, or raise ValueError saying why not."""
    cleaned = str(text).strip()
    match = _PERIOD.fullmatch(cleaned)
    if not match:
        raise ValueError(f"period must look like YYYY-MM (for example 2026-12), got {text!r}")
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12:
        raise ValueError(f"period {text!r} has month {month:02d}; months run from 01 to 12")
    # Year 1 and 9999 would overflow when stepping to the neighbouring month.
    if not 1900 <= year <= 9998:
        raise ValueError(f"period {text!r} has year {year}, outside 1900-9998")
    return cleaned


def _year_month(period: str) -> tuple[int, int]:
    cleaned = parse_period(period)
    return int(cleaned[:4]), int(cleaned[5:])


def _format(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def next_period(period: str) -> str:
    """The month after `period`."""
    year, month = _year_month(period)
    return _format(year + month // 12, month % 12 + 1)


def previous_period(period: str) -> str:
    """The month before `period`."""
    year, month = _year_month(period)
    return _format(year - 1, 12) if month == 1 else _format(year, month - 1)


def period_bounds(period: str) -> tuple[date, date]:
    """The first and the last calendar day of `period`."""
    year, month = _year_month(period)
    following = _year_month(next_period(period))
    return date(year, month, 1), date(*following, 1) - timedelta(days=1)


def label(period: str, lang: str) -> str:
    """A human name for `period`: "Desember 2026" in `id`, "December 2026" in `en`."""
    if lang not in MONTHS:
        raise ValueError(f"language must be one of {', '.join(MONTHS)}, got {lang!r}")
    year, month = _year_month(period)
    return f"{MONTHS[lang][month - 1]} {year}"


@lru_cache(maxsize=64)
def _holidays(year: int, include_cuti_bersama: bool) -> frozenset[date]:
    # Building the table is slow compared with a lookup, and holiday lists never change at run time.
    categories = ("public", "government") if include_cuti_bersama else ("public",)
    return frozenset(holidays.country_holidays("ID", years=year, categories=categories))


def _as_zone(tz: ZoneInfo | str) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


@dataclass(frozen=True)
class OfficeCalendar:
    """Working days and the monthly prompt and reminder schedule of one office."""

    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TZ))
    closures: frozenset[date] = frozenset()
    prompt_working_day: int = 1
    prompt_time: time = time(8, 0)
    reminder_working_days: tuple[int, ...] = (10,)
    reminder_days_before_end: tuple[int, ...] = (3,)
    include_cuti_bersama: bool = True

    # The period helpers do not depend on the office; they are offered here too so callers
    # holding a calendar need only one name.
    parse_period = staticmethod(parse_period)
    next_period = staticmethod(next_period)
    previous_period = staticmethod(previous_period)
    period_bounds = staticmethod(period_bounds)
    label = staticmethod(label)

    def __post_init__(self) -> None:
        # Settings hand us strings and lists; normalise once so the instance stays hashable.
        object.__setattr__(self, "tz", _as_zone(self.tz))
        object.__setattr__(self, "closures", frozenset(self.closures))
        object.__setattr__(self, "reminder_working_days", tuple(self.reminder_working_days))
        object.__setattr__(self, "reminder_days_before_end", tuple(self.reminder_days_before_end))
        if self.prompt_working_day < 1:
            raise ValueError("prompt_working_day counts from 1 (the first working day)")
        if any(n < 1 for n in self.reminder_working_days + self.reminder_days_before_end):
            raise ValueError("reminder days count from 1")

    def is_working_day(self, d: date) -> bool:
        """True unless `d` is a weekend, a public holiday (or cuti bersama) or an office closure."""
        return (
            d.weekday() < 5
            and d not in self.closures
            and d not in _holidays(d.year, self.include_cuti_bersama)
        )

    def working_days(self, period: str) -> list[date]:
        """Every working day of `period`, in order."""
        first, last = period_bounds(period)
        days = (first + timedelta(days=i) for i in range((last - first).days + 1))
        return [d for d in days if self.is_working_day(d)]

    def nth_working_day(self, period: str, n: int) -> date:
        """The n-th working day of `period` (1 is the first, -1 the last)."""
        days = self.working_days(period)
        if n == 0 or abs(n) > len(days):
            raise ValueError(f"{period} has {len(days)} working days; there is no working day {n}")
        return days[n - 1] if n > 0 else days[n]

    def add_working_days(self, d: date, n: int) -> date:
        """The n-th working day after `d`; with n=0, `d` itself or the next working day."""
        if n < 0:
            raise ValueError("add_working_days only moves forward (n >= 0)")
        current = d
        if n == 0:
            while not self.is_working_day(current):
                current += timedelta(days=1)
            return current
        while n:
            current += timedelta(days=1)
            if self.is_working_day(current):
                n -= 1
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end`; negative when `end` is earlier."""
        if end < start:
            return -self.working_days_between(end, start)
        days = (start + timedelta(days=i) for i in range(1, (end - start).days + 1))
        return sum(1 for d in days if self.is_working_day(d))

    def prompt_at(self, period: str) -> datetime:
        """When the monthly prompt for `period` goes out, as an aware datetime in the office zone."""
        day = self.nth_working_day(period, self.prompt_working_day)
        return datetime.combine(day, self.prompt_time, tzinfo=self.tz)

    def reminder_dates(self, period: str) -> list[date]:
        """The reminder days of `period`, sorted, each after the prompt day."""
        days = self.working_days(period)
        chosen = {days[n - 1] for n in self.reminder_working_days if n <= len(days)}
        chosen |= {days[-n] for n in self.reminder_days_before_end if n <= len(days)}
        # In a short month the two rules can meet, or fall on or before the prompt day: remind
        # once, and never before anyone has been asked.
        prompt_day = self.prompt_at(period).date()
        return sorted(d for d in chosen if d > prompt_day)

    def close_at(self, period: str) -> datetime:
        """The first instant after `period`: 00:00 local time on the first day of the next month."""
        year, month = _year_month(next_period(period))
        return datetime(year, month, 1, tzinfo=self.tz)

    def period_of(self, dt: datetime) -> str:
        """The period that the aware datetime `dt` falls in, in the office time zone."""
        local = self.local(dt)
        return _format(local.year, local.month)

    def local(self, dt: datetime) -> datetime:
        """`dt` converted to the office time zone; naive datetimes are refused as ambiguous."""
        if dt.tzinfo is None or dt.utcoffset() is None:
            raise ValueError("expected an aware datetime (with tzinfo), got a naive one")
        return dt.astimezone(self.tz)


def due_prompt_period(cal: OfficeCalendar, now: datetime) -> str | None:
    """The current period if its prompt time has come as of `now`, else None."""
    period = cal.period_of(now)
    return period if now >= cal.prompt_at(period) else None


def due_reminder(cal: OfficeCalendar, now: datetime) -> date | None:
    """Today's local date if today is a reminder day and the prompt time of day has passed."""
    local = cal.local(now)
    today = local.date()
    if today in cal.reminder_dates(cal.period_of(now)) and local.time() >= cal.prompt_time:
        return today
    return None


def is_period_over(cal: OfficeCalendar, period: str, now: datetime) -> bool:
    """True once `now` has reached the end of `period` in the office time zone."""
    return now >= cal.close_at(period)


def periods_to_close(cal: OfficeCalendar, now: datetime, last_closed: str | None) -> list[str]:
    """Finished periods after `last_closed`, oldest first; with None, only the latest finished one."""
    latest = previous_period(cal.period_of(now))
    if last_closed is None:
        return [latest]
    pending = []
    period = next_period(last_closed)
    while period <= latest:  # YYYY-MM strings sort chronologically
        pending.append(period)
        period = next_period(period)
    return pending
