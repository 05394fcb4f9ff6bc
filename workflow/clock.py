"""The one clock. Tests and `--now` move time by setting it; nothing else calls datetime.now()."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import datetime, timezone

_source: Callable[[], datetime] = lambda: datetime.now(timezone.utc)  # noqa: E731


def now() -> datetime:
    """The current instant, aware, in UTC."""
    return _source().astimezone(timezone.utc)


def set_clock(source: Callable[[], datetime]) -> None:
    """Replace the clock (for tests, the demo and `--now`)."""
    global _source
    _source = source


@contextlib.contextmanager
def frozen_at(instant: datetime) -> Iterator[None]:
    """Run a block as if the time were `instant`."""
    if instant.tzinfo is None:
        raise ValueError("a frozen instant must carry its time zone")
    previous = _source
    set_clock(lambda: instant)
    try:
        yield
    finally:
        set_clock(previous)


def parse_instant(text: str) -> datetime:
    """Parse an ISO-8601 instant with its offset, as given to `--now`."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"{text!r} needs a UTC offset, e.g. 2026-12-01T08:00+07:00")
    return value
