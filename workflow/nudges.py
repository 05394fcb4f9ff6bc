"""Nudges that respect people: at most one reminder a week per person, across every flow of cld."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from workflow.models import OutboundMessage

# The monthly prompt counts as a nudge (a reminder shortly after it is noise), but it is never held
# back itself: it is the month's invitation, not a reminder.
NUDGE_KINDS = ("prompt", "reminder", "signoff_reminder")


def recently_nudged(session: Session, employee_id: int, now: datetime, days: int) -> bool:
    """True when `employee_id` got a prompt or a reminder in the last `days` days."""
    since = now - timedelta(days=days)
    return bool(session.scalar(select(exists().where(
        OutboundMessage.employee_id == employee_id, OutboundMessage.kind.in_(NUDGE_KINDS),
        OutboundMessage.created_at > since))))
