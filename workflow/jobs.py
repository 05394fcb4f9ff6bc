"""The jobs: the CLI runs them in-process, the Celery tasks run the same functions under the worker."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import sessionmaker

from workflow import clock, outbox, prompts
from workflow.db import engine_for, session_factory, session_scope
from workflow.models import AuditEvent
from workflow.settings import Settings, get_settings


def _factory(settings: Settings) -> sessionmaker:
    return session_factory(engine_for(settings))


def heartbeat(value: int) -> int:
    """Write a heartbeat audit row and echo `value`: proves a worker reaches the database."""
    with session_scope(engine_for(get_settings())) as session:
        session.add(AuditEvent(actor="worker", subject_type="heartbeat", subject_id=value, event="heartbeat",
                               detail={"at": clock.now().isoformat()}))
    return value


def send_due_prompts(now: datetime | None = None, settings: Settings | None = None, progress=None,
                     send: bool = False) -> dict:
    """Prompts, reminders and the supervisors' briefs due as of `now`; with `send`, mailed as they are queued."""
    from workflow import briefs

    settings = settings or get_settings()
    factory = _factory(settings)

    def queue() -> dict:
        result = prompts.send_due_prompts(factory, settings, now, progress).as_dict()
        result["briefs"] = briefs.send_due_briefs(factory, settings, now)
        return result

    return _sending(factory, settings, queue) if send else queue()


def _sending(factory: sessionmaker, settings: Settings, queue) -> dict:
    """Run `queue()` while the outbox sends what it queues; the result has what was sent under "sent"."""
    with outbox.sending_alongside(factory, settings) as sent:
        result = queue()
    result["sent"] = sent.as_dict()
    return result


def flush_outbox(settings: Settings | None = None, progress=None) -> dict:
    """Send everything due in the outbox."""
    settings = settings or get_settings()
    return outbox.flush(_factory(settings), settings, progress=progress).as_dict()


def close_period(period: str, settings: Settings | None = None) -> dict:
    """Close one period: missed sessions recorded, supervisors told."""
    from workflow import digest

    settings = settings or get_settings()
    return prompts.close_period(_factory(settings), settings, period, on_close=digest.on_close(settings)).as_dict()


def close_due_periods(now: datetime | None = None, settings: Settings | None = None) -> dict:
    """Close every finished period."""
    from workflow import digest

    settings = settings or get_settings()
    reports = prompts.close_due_periods(_factory(settings), settings, now, on_close=digest.on_close(settings))
    return {"closed": [r.as_dict() for r in reports]}


def poll_inbox(settings: Settings | None = None, progress=None, send: bool = False) -> dict:
    """Fetch, store, process and file new mail once; with `send`, the answers are mailed as they are queued."""
    from workflow import inbox

    settings = settings or get_settings()
    factory = _factory(settings)

    def queue() -> dict:
        return inbox.poll_inbox(factory, settings, progress).as_dict()

    return _sending(factory, settings, queue) if send else queue()


def run_escalations(now: datetime | None = None, settings: Settings | None = None) -> dict:
    """Both ladders: pending sign-offs and overdue follow-up issues."""
    from workflow import escalations

    settings = settings or get_settings()
    return escalations.run(_factory(settings), settings, now or clock.now())


def process_inbound(row_id: int, settings: Settings | None = None) -> str:
    """Run the stages over one stored inbound message (several workers can share a burst); its status."""
    from workflow import inbound

    settings = settings or get_settings()
    return inbound.process_stored(_factory(settings), settings, row_id).value
