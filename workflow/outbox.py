"""The transactional outbox: mail is queued with the change that causes it and sent after commit."""

from __future__ import annotations

import email.policy
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import getaddresses

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from workflow import clock
from workflow.db import insert_skipping_conflicts
from workflow.mail.transport import PermanentSendError, SmtpSender, TransientSendError
from workflow.models import OutboundMessage, OutboundState
from workflow.settings import Settings

log = logging.getLogger(__name__)


def outbound_row(message: EmailMessage, *, kind: str, dedupe_key: str | None = None, employee_id: int | None = None,
                 token_id: int | None = None, in_reply_to_inbound_id: int | None = None) -> OutboundMessage:
    """The outbox row for `message`, serialised once, as it will go on the wire."""
    recipients = [address.lower() for _, address in getaddresses(
        message.get_all("To", []) + message.get_all("Cc", []) + message.get_all("Bcc", [])) if address]
    del message["Bcc"]
    # Lets mail rules (and the demo's simulated people) tell our kinds of mail apart.
    del message["X-CLD-Kind"]
    message["X-CLD-Kind"] = kind
    return OutboundMessage(message_id=message["Message-ID"].strip(), dedupe_key=dedupe_key, kind=kind,
                           recipients=recipients, subject=str(message["Subject"]),
                           raw=message.as_bytes(policy=email.policy.SMTP), employee_id=employee_id,
                           token_id=token_id, in_reply_to_inbound_id=in_reply_to_inbound_id,
                           next_attempt_at=clock.now())


def enqueue(session: Session, message: EmailMessage, *, kind: str, dedupe_key: str | None = None,
            employee_id: int | None = None, token_id: int | None = None,
            in_reply_to_inbound_id: int | None = None) -> int:
    """Queue `message` in the caller's transaction; returns its row id, or the first one queued for `dedupe_key`."""
    row = outbound_row(message, kind=kind, dedupe_key=dedupe_key, employee_id=employee_id, token_id=token_id,
                       in_reply_to_inbound_id=in_reply_to_inbound_id)
    values = {column.key: getattr(row, column.key) for column in OutboundMessage.__table__.columns
              if column.key != "id" and getattr(row, column.key) is not None}
    # One statement: the unique dedupe key makes a second cause of the same email (a retry, a racing worker)
    # insert nothing, instead of a look-up, a savepoint and an insert.
    inserted = session.execute(insert_skipping_conflicts(session, OutboundMessage).values(**values)
                               .on_conflict_do_nothing(index_elements=["dedupe_key"])
                               .returning(OutboundMessage.id)).scalar()
    if inserted is not None:
        return inserted
    return session.scalar(select(OutboundMessage.id).where(OutboundMessage.dedupe_key == dedupe_key))


@dataclass
class FlushReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0

    def as_dict(self) -> dict:
        return {"sent": self.sent, "retried": self.retried, "failed": self.failed}


def _due(now: datetime):
    return or_(
        (OutboundMessage.state == OutboundState.PENDING) & (OutboundMessage.next_attempt_at <= now),
        # A sender that died mid-send left its lease behind: take the row over once the lease ends.
        (OutboundMessage.state == OutboundState.SENDING) & (OutboundMessage.lease_until < now),
    )


CLAIM_BATCH = 25
MARK_EVERY = 5


def claim_batch(session: Session, settings: Settings, exclude: set[int], size: int = CLAIM_BATCH) -> list:
    """Claim up to `size` due messages with a lease in one statement; [] when nothing is due.

    On PostgreSQL the candidates are locked with SKIP LOCKED, so workers flushing at once take disjoint
    batches instead of queueing behind each other; the conditional UPDATE is the backstop everywhere.
    """
    now = clock.now()
    candidates = (select(OutboundMessage.id).where(_due(now), OutboundMessage.id.not_in(exclude or {0}))
                  .order_by(OutboundMessage.next_attempt_at, OutboundMessage.id).limit(size))
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    rows = session.execute(
        update(OutboundMessage).where(OutboundMessage.id.in_(candidates.scalar_subquery()), _due(now))
        .values(state=OutboundState.SENDING, lease_until=now + timedelta(seconds=settings.outbox_lease_seconds),
                attempts=OutboundMessage.attempts + 1)
        .returning(OutboundMessage.id, OutboundMessage.raw, OutboundMessage.recipients, OutboundMessage.attempts)
        .execution_options(synchronize_session=False)).all()
    session.commit()
    return sorted(rows, key=lambda row: row.id)


def claim_one(session: Session, settings: Settings, exclude: set[int]):
    """Claim the oldest due message (a batch of one); None when nothing is due."""
    rows = claim_batch(session, settings, exclude, size=1)
    return rows[0] if rows else None


def backoff(settings: Settings, attempts: int) -> timedelta:
    """Exponential backoff with full jitter, capped at six hours."""
    ceiling = min(settings.outbox_backoff_seconds * 2 ** max(attempts - 1, 0), 6 * 3600)
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


def send_claimed(session: Session, settings: Settings, sender: SmtpSender, row, report: FlushReport,
                 sent: list[int]) -> str:
    """Send one claimed row: "sent" (added to `sent`, recorded later), "retry", "failed" or "unreachable"."""
    try:
        sender.send(row.raw, settings.reply_address, list(row.recipients))
    except TransientSendError as exc:
        final = row.attempts >= settings.outbox_max_attempts
        _record(session, row.id, state=OutboundState.FAILED if final else OutboundState.PENDING,
                next_attempt_at=clock.now() + backoff(settings, row.attempts), last_error=str(exc)[:2000])
        report.failed += final
        report.retried += not final
        log.warning("outbox %s: %s (attempt %s)%s", row.id, exc, row.attempts, ", giving up" if final else "")
        if final:
            return "failed"
        return "unreachable" if "connect" in str(exc) else "retry"
    except PermanentSendError as exc:
        _record(session, row.id, state=OutboundState.FAILED, last_error=str(exc)[:2000])
        report.failed += 1
        log.warning("outbox %s: refused for good: %s", row.id, exc)
        return "failed"
    sent.append(row.id)
    report.sent += 1
    return "sent"


def _record(session: Session, row_id: int, **values) -> None:
    session.execute(update(OutboundMessage).where(OutboundMessage.id == row_id)
                    .values(lease_until=None, **values).execution_options(synchronize_session=False))
    session.commit()


def mark_sent(session: Session, sent: list[int]) -> None:
    """Record accepted messages as sent, a few at a time.

    A crash after the server accepted a message and before this commit sends it again when its lease ends:
    a duplicate with the same Message-ID, which mail clients fold together. Marking every few messages keeps
    that window small without paying a commit per message.
    """
    if sent:
        session.execute(update(OutboundMessage).where(OutboundMessage.id.in_(sent))
                        .values(state=OutboundState.SENT, sent_at=clock.now(), lease_until=None, last_error="")
                        .execution_options(synchronize_session=False))
        session.commit()
        sent.clear()


def flush(factory: sessionmaker, settings: Settings, *, limit: int | None = None, progress=None) -> FlushReport:
    """Send every due message over one SMTP session; return what happened."""
    report = FlushReport()
    tried = 0
    # Only rows put back to PENDING in this run (a transient error with no backoff left) can come due again;
    # sent and failed rows never match `_due`. Excluding every id tried made the NOT IN list grow with the
    # run: O(n^2) bind parameters, minutes at 100k prompts. (Benchmark finding, bench/README.md.)
    retried: set[int] = set()
    sent: list[int] = []
    with SmtpSender(settings) as sender, factory() as session:
        reachable = True
        while reachable and (limit is None or tried < limit):
            size = CLAIM_BATCH if limit is None else min(CLAIM_BATCH, limit - tried)
            batch = claim_batch(session, settings, retried, size=size)
            if not batch:
                break
            for index, row in enumerate(batch):
                tried += 1
                outcome = send_claimed(session, settings, sender, row, report, sent)
                if outcome in ("retry", "unreachable"):
                    retried.add(row.id)
                if outcome == "unreachable":
                    # The server is down: the rest would fail the same way. Give them back now rather than
                    # leave them leased; the sweeper tries again later.
                    _release(session, [r.id for r in batch[index + 1:]])
                    reachable = False
                    break
                if len(sent) >= MARK_EVERY:
                    mark_sent(session, sent)
                if progress is not None:
                    progress(1)
            mark_sent(session, sent)
    return report


def _release(session: Session, ids: list[int]) -> None:
    if ids:
        session.execute(update(OutboundMessage).where(OutboundMessage.id.in_(ids))
                        .values(state=OutboundState.PENDING, lease_until=None,
                                attempts=OutboundMessage.attempts - 1)
                        .execution_options(synchronize_session=False))
        session.commit()


def pending_count(session: Session) -> int:
    """How many messages still wait to be sent."""
    from sqlalchemy import func

    return session.scalar(select(func.count()).select_from(OutboundMessage)
                          .where(OutboundMessage.state.in_([OutboundState.PENDING, OutboundState.SENDING])))
