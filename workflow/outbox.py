"""The transactional outbox: mail is queued with the change that causes it and sent after commit."""

from __future__ import annotations

import contextlib
import functools
import logging
import multiprocessing
import queue
import random
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from workflow import clock
from workflow.db import dialect_insert
from workflow.mail.mime import OutgoingMessage
from workflow.mail.transport import PermanentSendError, SmtpSender, TransientSendError
from workflow.models import OutboundMessage, OutboundState
from workflow.settings import Settings

log = logging.getLogger(__name__)


def outbound_values(message: OutgoingMessage, *, kind: str, dedupe_key: str | None = None,
                    employee_id: int | None = None, token_id: int | None = None,
                    in_reply_to_inbound_id: int | None = None) -> dict:
    """Every column of the outbox row for `message` (serialised once, as it will go on the wire), but its id."""
    # The message keeps its addresses as pairs: no parsing of the headers it just wrote.
    recipients = message.recipients()
    del message["Bcc"]
    # Lets mail rules (and the demo's simulated people) tell our kinds of mail apart.
    del message["X-CLD-Kind"]
    message["X-CLD-Kind"] = kind
    now = clock.now()
    return dict(message_id=message["Message-ID"], dedupe_key=dedupe_key, kind=kind, recipients=recipients,
                subject=message["Subject"], raw=message.as_bytes(), employee_id=employee_id, token_id=token_id,
                in_reply_to_inbound_id=in_reply_to_inbound_id, state=OutboundState.PENDING, attempts=0,
                next_attempt_at=now, lease_until=None, last_error="", sent_at=None, created_at=now)


@functools.lru_cache(maxsize=4)
def _enqueue_statement(dialect: str):
    # Built once per dialect: the same statement object keeps its compiled form and cache key, where a
    # fresh `insert().values(...)` per email cost more Python than the round trip.
    table = OutboundMessage.__table__
    return dialect_insert(dialect, table).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(table.c.id)


def enqueue(session: Session, message: OutgoingMessage, *, kind: str, dedupe_key: str | None = None,
            employee_id: int | None = None, token_id: int | None = None,
            in_reply_to_inbound_id: int | None = None) -> int:
    """Queue `message` in the caller's transaction; returns its row id, or the first one queued for `dedupe_key`."""
    values = outbound_values(message, kind=kind, dedupe_key=dedupe_key, employee_id=employee_id, token_id=token_id,
                             in_reply_to_inbound_id=in_reply_to_inbound_id)
    # One statement: the unique dedupe key makes a second cause of the same email (a retry, a racing worker)
    # insert nothing, instead of a look-up, a savepoint and an insert. It goes to the connection, past the
    # ORM; new objects it may refer to (a token just issued) are flushed first, changed ones need not be.
    if session.new:
        session.flush()
    connection = session.connection()
    inserted = connection.execute(_enqueue_statement(connection.dialect.name), values).scalar()
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


CLAIM_BATCH = 25


def claim_batch(session: Session, settings: Settings, exclude: set[int], size: int = CLAIM_BATCH) -> list:
    """Claim up to `size` due messages with a lease in one statement; [] when nothing is due.

    On PostgreSQL the candidates are locked with SKIP LOCKED, so workers flushing at once take disjoint
    batches instead of queueing behind each other; the conditional UPDATE is the backstop everywhere.
    """
    now, connection = clock.now(), session.connection()
    rows = connection.execute(_claim_statement(connection.dialect.name), {
        "now": now, "exclude": list(exclude) or [0], "size": size,
        "lease_until": now + timedelta(seconds=settings.outbox_lease_seconds)}).all()
    if rows:
        _without_waiting_for_disk(session.connection())  # a lost claim leaves the rows pending: sent again
    session.commit()
    return sorted(rows, key=lambda row: row.id)


@functools.lru_cache(maxsize=4)
def _claim_statement(dialect: str):
    # Built once per dialect and run on the connection: a new statement per claim (its cache key, the
    # ORM's handling of RETURNING) cost the sender more than the claim's round trip.
    table = _TABLE
    now = bindparam("now", type_=table.c.next_attempt_at.type)
    due = or_((table.c.state == OutboundState.PENDING) & (table.c.next_attempt_at <= now),
              # A sender that died mid-send left its lease behind: take the row over once the lease ends.
              (table.c.state == OutboundState.SENDING) & (table.c.lease_until < now))
    candidates = (select(table.c.id).where(due, table.c.id.not_in(bindparam("exclude", expanding=True)))
                  .order_by(table.c.next_attempt_at, table.c.id).limit(bindparam("size")))
    if dialect == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    return (update(table).where(table.c.id.in_(candidates.scalar_subquery()), due)
            .values(state=OutboundState.SENDING, attempts=table.c.attempts + 1,
                    lease_until=bindparam("lease_until", type_=table.c.lease_until.type))
            .returning(table.c.id, table.c.raw, table.c.recipients, table.c.attempts))


def claim_one(session: Session, settings: Settings, exclude: set[int]):
    """Claim the oldest due message (a batch of one); None when nothing is due."""
    rows = claim_batch(session, settings, exclude, size=1)
    return rows[0] if rows else None


def backoff(settings: Settings, attempts: int) -> timedelta:
    """Exponential backoff with full jitter, capped at six hours."""
    ceiling = min(settings.outbox_backoff_seconds * 2 ** max(attempts - 1, 0), 6 * 3600)
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


def send_claimed(session: Session, settings: Settings, sender: SmtpSender, row, report: FlushReport,
                 sent: SentMarker) -> str:
    """Send one claimed row: "sent" (handed to `sent`, marked soon), "retry", "failed" or "unreachable"."""
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
    """Record these accepted messages as sent, in one statement and commit (see SentMarker)."""
    if sent:
        connection = session.connection()
        _without_waiting_for_disk(connection)
        connection.execute(_MARK_SENT, {"ids": list(sent), "sent_at": clock.now()})
        session.commit()
        sent.clear()


def _without_waiting_for_disk(connection) -> None:
    """Let this transaction's commit return before PostgreSQL has flushed it to disk (synchronous_commit off).

    For the outbox's own bookkeeping only. Were the database server to crash within the next fraction of
    a second, the commit would be lost and the messages sent again with the same Message-ID: the very
    window a crash of ours between the SMTP server's 250 and the commit already has (docs/reliability.md).
    Waiting for the disk here, for every few messages, cost about as much as sending one (benchmark finding).
    """
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")


_TABLE = OutboundMessage.__table__
# Built once and sent to the connection: through the ORM's bulk-update path this statement cost more
# than the commit it rides with (benchmark finding, bench/README.md).
_MARK_SENT = (update(_TABLE).where(_TABLE.c.id.in_(bindparam("ids", expanding=True)))
              .values(state=OutboundState.SENT, sent_at=bindparam("sent_at", type_=_TABLE.c.sent_at.type),
                      lease_until=None, last_error=""))


def flush(factory: sessionmaker, settings: Settings, *, limit: int | None = None, progress=None,
          connections: int | None = None) -> FlushReport:
    """Send every due message, over `settings.smtp_connections` SMTP sessions at once; return what happened."""
    count = 1 if limit is not None else connections or settings.smtp_connections

    def work(report: FlushReport, counted) -> None:
        with SmtpSender(settings) as sender:
            send_due(factory, settings, sender, report, limit=limit, progress=counted)

    if count <= 1:
        report = FlushReport()
        work(report, progress)
        return report
    return _on_threads(count, work, progress)


def _on_threads(count: int, work, progress) -> FlushReport:
    """Run work(report, progress) on `count` threads; their reports summed; the first error raised here."""
    lock = threading.Lock()

    def counted(n: int = 1) -> None:
        with lock:
            progress(n)

    reports = [FlushReport() for _ in range(count)]
    errors: list[BaseException] = []

    def run(report: FlushReport) -> None:
        try:
            work(report, counted if progress is not None else None)
        except BaseException as exc:  # handed to the caller below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(r,), name=f"cld-outbox-{k}", daemon=True)
               for k, r in enumerate(reports)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return FlushReport(sent=sum(r.sent for r in reports), retried=sum(r.retried for r in reports),
                       failed=sum(r.failed for r in reports))


def send_due(factory: sessionmaker, settings: Settings, sender: SmtpSender, report: FlushReport, *,
             limit: int | None = None, progress=None) -> bool:
    """Send what is due now over `sender`, batch by batch; False when the server could not be reached."""
    tried = 0
    # Only rows put back to PENDING in this run (a transient error with no backoff left) can come due again;
    # sent and failed rows are never due (see _claim_statement). Excluding every id tried made the NOT IN list grow with the
    # run: O(n^2) bind parameters, minutes at 100k prompts. (Benchmark finding, bench/README.md.)
    retried: set[int] = set()
    marker = SentMarker(factory)
    try:
        with factory() as session:
            while (limit is None or tried < limit) and not marker.failed:
                size = CLAIM_BATCH if limit is None else min(CLAIM_BATCH, limit - tried)
                batch = claim_batch(session, settings, retried, size=size)
                if not batch:
                    break
                for index, row in enumerate(batch):
                    tried += 1
                    outcome = send_claimed(session, settings, sender, row, report, marker)
                    if outcome in ("retry", "unreachable"):
                        retried.add(row.id)
                    if outcome == "unreachable":
                        # The server is down: the rest would fail the same way. Give them back now rather
                        # than leave them leased; the sweeper tries again later.
                        _release(session, [r.id for r in batch[index + 1:]])
                        return False
                    if progress is not None:
                        progress(1)
    finally:
        marker.close()
    return True


MARK_EVERY, MARK_WAIT = 5, 0.02


class SentMarker:
    """Records accepted messages as sent on a thread of its own while the SMTP session goes on.

    A crash after the server accepted a message and before its mark is committed sends it again when its
    lease ends: a duplicate with the same Message-ID, which mail clients fold together. Marking from a
    second thread keeps that window to the message or two accepted while the last mark was being written,
    without the sender waiting for the database between messages (it did, every fifth message, and that
    cost as much as sending one; benchmark finding). Under load the marks simply grow into batches.
    """

    def __init__(self, factory: sessionmaker) -> None:
        self._factory = factory
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="cld-outbox-marks", daemon=True)
        self._thread.start()

    @property
    def failed(self) -> bool:
        return self._error is not None

    def append(self, row_id: int) -> None:
        """Mark this row sent, soon."""
        self._queue.put(row_id)

    def close(self) -> None:
        """Write the last marks; raise here what went wrong on the marking thread."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        try:
            with self._factory() as session:
                finished = False
                while not finished:
                    waiting = [self._queue.get()]
                    # A few at a time, or what came within a moment: a commit per message would load the
                    # database for nothing, a long wait would widen the window.
                    deadline = time.monotonic() + MARK_WAIT
                    while None not in waiting and len(waiting) < MARK_EVERY:
                        try:
                            waiting.append(self._queue.get(timeout=max(deadline - time.monotonic(), 0)))
                        except queue.Empty:
                            break
                    finished = None in waiting
                    mark_sent(session, [row_id for row_id in waiting if row_id is not None])
        except BaseException as exc:  # re-raised in the sending thread by close()
            self._error = exc


@contextlib.contextmanager
def sending_alongside(factory: sessionmaker, settings: Settings, progress=None) -> Iterator[FlushReport]:
    """Send the mail a block queues while the block still runs; when it ends, everything due is sent.

    For the jobs that queue a lot at once (the prompt day, a burst of replies): the first prompts are on
    their way while later ones are still being written, instead of everyone waiting for the last one. The
    report is complete once the block has ended.

    The sender runs in a forked child process where it can (Linux, and not inside a daemonic process such
    as a Celery pool worker): a thread beside a busy job waits for the interpreter lock after every SMTP
    reply, and sent a fifth of what it sends on its own (benchmark finding). Elsewhere, or when progress
    is to be reported, it runs on threads of this process.
    """
    sender = _SenderProcess(factory, settings) if progress is None and _can_fork() else \
        _SenderThreads(factory, settings, progress)
    total = FlushReport()
    sender.start()
    try:
        yield total
    finally:
        report = sender.finish()
    total.sent, total.retried, total.failed = report.sent, report.retried, report.failed


def _can_fork() -> bool:
    return sys.platform.startswith("linux") and not multiprocessing.current_process().daemon


def send_until(factory: sessionmaker, settings: Settings, finishing, progress=None) -> FlushReport:
    """Send what comes due until `finishing` is set, then what is left; over `smtp_connections` sessions."""

    def work(report: FlushReport, counted) -> None:
        with SmtpSender(settings) as sender:
            while True:
                last_round = finishing.is_set()
                before = report.sent + report.failed + report.retried
                if not send_due(factory, settings, sender, report, progress=counted):
                    return  # unreachable: what is left stays queued for the next flush, as with `flush`
                if last_round:
                    return
                if report.sent + report.failed + report.retried == before:
                    # Until the first mail has gone, look often: on the prompt day the sender is the slower
                    # side, and a quarter second lost before the first batch is a quarter second at the end.
                    finishing.wait(IDLE_WAIT if before else FIRST_WAIT)

    return _on_threads(settings.smtp_connections, work, progress)


class _SenderThreads:
    """send_until on threads of this process."""

    def __init__(self, factory: sessionmaker, settings: Settings, progress) -> None:
        self._finishing = threading.Event()
        self._outcome: dict = {}

        def run() -> None:
            try:
                self._outcome["report"] = send_until(factory, settings, self._finishing, progress)
            except BaseException as exc:  # raised in the caller's thread by finish()
                self._outcome["error"] = exc

        self._thread = threading.Thread(target=run, name="cld-outbox", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def finish(self) -> FlushReport:
        self._finishing.set()
        self._thread.join()
        if "error" in self._outcome:
            raise self._outcome["error"]
        return self._outcome["report"]


class _SenderProcess:
    """send_until in a forked child with database connections of its own; its report comes back by pipe."""

    def __init__(self, factory: sessionmaker, settings: Settings) -> None:
        context = multiprocessing.get_context("fork")
        self._finishing = context.Event()
        self._reports, child_end = context.Pipe(duplex=False)
        url = factory.kw["bind"].url.render_as_string(hide_password=False)
        self._process = context.Process(target=_send_in_child, args=(url, settings, self._finishing, child_end),
                                        name="cld-outbox", daemon=True)

    def start(self) -> None:
        self._process.start()

    def finish(self) -> FlushReport:
        self._finishing.set()
        self._process.join()
        if not self._reports.poll():
            raise RuntimeError(f"the outbox's sending process ended without a report (exit code "
                               f"{self._process.exitcode}); what it did not send stays queued")
        kind, value = self._reports.recv()
        if kind == "error":
            raise RuntimeError(f"the outbox's sending process failed; what it did not send stays queued:\n{value}")
        return FlushReport(**value)


def _send_in_child(url: str, settings: Settings, finishing, reports) -> None:
    # A new engine: the parent's pooled connections came along with the fork and must not be touched
    # (closing one would end the parent's session on the server). The process ends with os._exit, which
    # leaves them alone.
    try:
        from workflow.db import make_engine, session_factory

        engine = make_engine(url)
        report = send_until(session_factory(engine), settings, finishing)
        engine.dispose()
        reports.send(("report", report.as_dict()))
    except BaseException:
        reports.send(("error", traceback.format_exc()))


# How long an idle sender waits before looking for newly queued mail again. A quarter of a second lets
# the mail a busy job queues meanwhile go as one batch: looking every 50 ms claimed, sent and marked a
# message or two at a time, and the sender's CPU per message during a poll was 60 % higher (benchmark
# finding). The block's end is not delayed by it: `finishing` wakes the sender at once.
IDLE_WAIT, FIRST_WAIT = 0.25, 0.02


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
