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
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from workflow import clock
from workflow.mail.transport import PermanentSendError, SmtpSender, TransientSendError
from workflow.models import OutboundMessage, OutboundState
from workflow.settings import Settings

log = logging.getLogger(__name__)


def enqueue(session: Session, message: EmailMessage, *, kind: str, dedupe_key: str | None = None,
            employee_id: int | None = None, token_id: int | None = None,
            in_reply_to_inbound_id: int | None = None) -> OutboundMessage:
    """Queue `message` in the caller's transaction; a repeated `dedupe_key` returns the first one queued."""
    if dedupe_key is not None:
        existing = session.scalar(select(OutboundMessage).where(OutboundMessage.dedupe_key == dedupe_key))
        if existing is not None:
            return existing
    recipients = [address.lower() for _, address in getaddresses(
        message.get_all("To", []) + message.get_all("Cc", []) + message.get_all("Bcc", [])) if address]
    del message["Bcc"]
    # Lets mail rules (and the demo's simulated people) tell our kinds of mail apart.
    del message["X-CLD-Kind"]
    message["X-CLD-Kind"] = kind
    row = OutboundMessage(message_id=message["Message-ID"].strip(), dedupe_key=dedupe_key, kind=kind,
                          recipients=recipients, subject=str(message["Subject"]),
                          raw=message.as_bytes(policy=email.policy.SMTP), employee_id=employee_id,
                          token_id=token_id, in_reply_to_inbound_id=in_reply_to_inbound_id,
                          next_attempt_at=clock.now())
    # The unique key is the backstop when two workers queue the same cause at once.
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        existing = session.scalar(select(OutboundMessage).where(OutboundMessage.dedupe_key == dedupe_key))
        if existing is None:
            raise
        return existing
    return row


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


def claim_one(session: Session, settings: Settings, exclude: set[int]) -> OutboundMessage | None:
    """Claim the oldest due message with a lease; None when nothing is due."""
    now = clock.now()
    candidates = session.scalars(select(OutboundMessage.id).where(_due(now), OutboundMessage.id.not_in(exclude or {0}))
                                 .order_by(OutboundMessage.next_attempt_at, OutboundMessage.id).limit(20)).all()
    for message_id in candidates:
        claimed = session.execute(
            update(OutboundMessage).where(OutboundMessage.id == message_id, _due(now))
            .values(state=OutboundState.SENDING, lease_until=now + timedelta(seconds=settings.outbox_lease_seconds),
                    attempts=OutboundMessage.attempts + 1)
            .execution_options(synchronize_session=False)).rowcount
        session.commit()
        if claimed == 1:
            return session.get(OutboundMessage, message_id, populate_existing=True)
    return None


def backoff(settings: Settings, attempts: int) -> timedelta:
    """Exponential backoff with full jitter, capped at six hours."""
    ceiling = min(settings.outbox_backoff_seconds * 2 ** max(attempts - 1, 0), 6 * 3600)
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


def send_claimed(session: Session, settings: Settings, sender: SmtpSender, row: OutboundMessage,
                 report: FlushReport) -> None:
    """Send one claimed row and record the outcome."""
    try:
        sender.send(row.raw, settings.reply_address, list(row.recipients))
    except TransientSendError as exc:
        final = row.attempts >= settings.outbox_max_attempts
        row.state = OutboundState.FAILED if final else OutboundState.PENDING
        row.next_attempt_at = clock.now() + backoff(settings, row.attempts)
        row.last_error = str(exc)[:2000]
        row.lease_until = None
        report.failed += final
        report.retried += not final
        log.warning("outbox %s: %s (attempt %s)%s", row.id, exc, row.attempts, ", giving up" if final else "")
    except PermanentSendError as exc:
        row.state = OutboundState.FAILED
        row.last_error = str(exc)[:2000]
        row.lease_until = None
        report.failed += 1
        log.warning("outbox %s: refused for good: %s", row.id, exc)
    else:
        row.state = OutboundState.SENT
        row.sent_at = clock.now()
        row.lease_until = None
        row.last_error = ""
        report.sent += 1
    session.commit()


def flush(factory: sessionmaker, settings: Settings, *, limit: int | None = None, progress=None) -> FlushReport:
    """Send every due message over one SMTP session; return what happened."""
    report = FlushReport()
    tried = 0
    # Only rows put back to PENDING in this run (a transient error with no backoff left) can come due again;
    # sent and failed rows never match `_due`. Excluding every id tried made the NOT IN list grow with the
    # run: O(n^2) bind parameters, minutes at 100k prompts. (Benchmark finding, bench/README.md.)
    retried: set[int] = set()
    with SmtpSender(settings) as sender, factory() as session:
        while limit is None or tried < limit:
            row = claim_one(session, settings, retried)
            if row is None:
                break
            tried += 1
            send_claimed(session, settings, sender, row, report)
            if row.state == OutboundState.PENDING:
                retried.add(row.id)
            if progress is not None:
                progress(1)
            if report.retried and row.state == OutboundState.PENDING and "connect" in row.last_error:
                break  # the server is down: the rest would fail the same way; the sweeper comes back
    return report


def pending_count(session: Session) -> int:
    """How many messages still wait to be sent."""
    from sqlalchemy import func

    return session.scalar(select(func.count()).select_from(OutboundMessage)
                          .where(OutboundMessage.state.in_([OutboundState.PENDING, OutboundState.SENDING])))
