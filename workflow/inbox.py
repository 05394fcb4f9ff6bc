"""The inbox job: fetch new mail by UID, store it raw, run the stages, file it. Mail is never deleted."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from imap_tools import AND, H, MailMessage
from imap_tools.errors import MailboxFolderCreateError, MailboxMoveError
from sqlalchemy import select, text, update
from sqlalchemy.orm import sessionmaker

from workflow import inbound
from workflow.db import insert_skipping_conflicts
from workflow.mail.transport import open_imap
from workflow.models import InboundMessage, InboundStatus, InboxCursor
from workflow.settings import Settings

log = logging.getLogger(__name__)

PROCESSED, IGNORED, FAILED = "CLD/Processed", "CLD/Ignored", "CLD/Failed"
FOLDER_FOR = {
    InboundStatus.PROCESSED: PROCESSED, InboundStatus.ANSWERED: PROCESSED,
    InboundStatus.IGNORED: IGNORED,
    InboundStatus.REFUSED: FAILED, InboundStatus.REVIEW: FAILED, InboundStatus.FAILED: FAILED,
}
FETCH_BATCH = 100


@dataclass
class PollReport:
    fetched: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    moved: int = 0

    def as_dict(self) -> dict:
        return {"fetched": self.fetched, "statuses": dict(self.statuses), "moved": self.moved}


def poll_inbox(factory: sessionmaker, settings: Settings, progress=None) -> PollReport:
    """Poll the service mailbox once: store everything new, process it, move it to its folder.

    Several pollers may run at once (the watcher, a beat tick on a worker). Processing is safe in parallel
    (each stored message is claimed), but fetching and filing are not: two IMAP MOVEs of one message can
    leave two copies. So one poller at a time holds the folder's lock and fetches and files; the others
    only help process what is stored.
    """
    report = PollReport()
    with open_imap(settings) as mailbox, folder_lock(factory, settings) as leader:
        mailbox.email_message_class = RawMessage
        ensure_folders(mailbox)
        folder = settings.imap_folder
        mailbox.folder.set(folder)
        uidvalidity = int(mailbox.folder.status(folder, ["UIDVALIDITY"])["UIDVALIDITY"])
        if leader:
            fetch_and_store(mailbox, factory, folder, uidvalidity, report)
        for row_id in pending_rows(factory):
            status = inbound.process_stored(factory, settings, row_id)
            report.statuses[status.value] = report.statuses.get(status.value, 0) + 1
            if progress:
                progress(1)
        if leader:
            report.moved = file_messages(mailbox, factory, folder, uidvalidity)
        log.info("inbox: %s new, %s filed, %s%s", report.fetched, report.moved, report.statuses,
                 "" if leader else " (another poller holds the folder)")
    return report


@contextlib.contextmanager
def folder_lock(factory: sessionmaker, settings: Settings) -> Iterator[bool]:
    """Yield True when this poller may fetch and file the folder; the lock dies with its holder.

    PostgreSQL: a session advisory lock on a connection of its own, released by the server if the
    process dies. SQLite (one machine): an exclusive lock on a file in the data directory.
    """
    name = f"{settings.imap_user}@{settings.imap_host}:{settings.imap_port}/{settings.imap_folder}"
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
    engine = factory.kw["bind"]
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            held = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar()
            connection.commit()
            try:
                yield bool(held)
            finally:
                if held:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                    connection.commit()
        return
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.data_dir / f"inbox-{key & 0xFFFFFFFF:08x}.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_folders(mailbox) -> None:
    """Create CLD/Processed, CLD/Ignored and CLD/Failed when absent."""
    existing = {f.name for f in mailbox.folder.list()}
    for name in (PROCESSED, IGNORED, FAILED):
        if name not in existing:
            try:
                mailbox.folder.create(name)
            except MailboxFolderCreateError:
                # Another poller created it a moment ago; anything else is a real problem.
                if not mailbox.folder.exists(name):
                    raise


def fetch_and_store(mailbox, factory: sessionmaker, folder: str, uidvalidity: int, report: PollReport) -> list[int]:
    """Store every message above the cursor, one commit each, before anything else happens to it."""
    with factory() as session:
        session.execute(insert_skipping_conflicts(session, InboxCursor)
                        .values(mailbox=folder, uidvalidity=uidvalidity, last_uid=0)
                        .on_conflict_do_nothing(index_elements=["mailbox"]))
        cursor = session.get(InboxCursor, folder)
        if cursor.uidvalidity != uidvalidity:
            # A new UIDVALIDITY means old UIDs mean nothing: read the folder again (stored copies dedupe).
            cursor.uidvalidity, cursor.last_uid = uidvalidity, 0
        last_uid = cursor.last_uid
        session.commit()
    # `UID n:*` always includes the newest message, even below n: keep only what is really new.
    uids = sorted(int(u) for u in mailbox.uids(AND(uid=f"{last_uid + 1}:*")) if int(u) > last_uid)
    for start in range(0, len(uids), FETCH_BATCH):
        batch = uids[start:start + FETCH_BATCH]
        fetched = [(int(m.uid), m.raw_bytes) for m in mailbox.fetch(AND(uid=",".join(map(str, batch))),
                                                                      mark_seen=False, bulk=True)]
        if not fetched:
            continue
        # One transaction per fetched batch: every message is stored (and the cursor moved past it) before
        # any is processed, with a handful of statements instead of eight round trips a message.
        with factory() as session:
            inbound.store_fetched(session, fetched, mailbox=folder, uidvalidity=uidvalidity)
            top = max(uid for uid, _raw in fetched)
            session.execute(update(InboxCursor).where(InboxCursor.mailbox == folder, InboxCursor.last_uid < top)
                            .values(last_uid=top).execution_options(synchronize_session=False))
            session.commit()
        report.fetched += len(fetched)
    return uids


class RawMessage(MailMessage):
    """A fetched message that keeps the exact bytes the server sent (and skips parsing them twice)."""

    def __init__(self, fetch_data: list) -> None:  # no super().__init__: it would parse the message again
        self.raw_bytes, self._raw_uid_data, self._raw_flag_data = self._get_message_data_parts(fetch_data)


def pending_rows(factory: sessionmaker) -> list[int]:
    """Stored messages not yet processed, oldest first (also those a crash left behind)."""
    with factory() as session:
        return list(session.scalars(select(InboundMessage.id).where(InboundMessage.status == InboundStatus.STORED)
                                    .order_by(InboundMessage.id)))


def _move_present(mailbox, uids: list[int], target: str) -> int:
    """Move those of `uids` still in the folder; a racing poller may have moved some already."""
    for _attempt in range(3):
        present = {int(u) for u in mailbox.uids(AND(uid=",".join(map(str, uids))))} if uids else set()
        still = [str(uid) for uid in uids if uid in present]
        if not still:
            return 0
        try:
            mailbox.move(still, target, chunks=500)
            return len(still)
        except MailboxMoveError:
            continue  # some vanished between the check and the move: look again
    raise MailboxMoveError(command_result=("NO", [b"messages kept changing under the move"]), expected="OK")


def file_messages(mailbox, factory: sessionmaker, folder: str, uidvalidity: int) -> int:
    """Move processed messages still in the inbox to the folder their status calls for."""
    with factory() as session:
        rows = session.execute(select(InboundMessage.id, InboundMessage.uid, InboundMessage.status).where(
            InboundMessage.mailbox == folder, InboundMessage.uidvalidity == uidvalidity,
            InboundMessage.folder_moved_to.is_(None), InboundMessage.status != InboundStatus.STORED)).all()
    by_folder: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for row_id, uid, status in rows:
        by_folder[FOLDER_FOR[status]].append((row_id, uid))
    moved = 0
    for target, items in by_folder.items():
        moved += _move_present(mailbox, [uid for _, uid in items], target)
        with factory() as session:
            ids = [row_id for row_id, _uid in items]
            for start in range(0, len(ids), 1000):
                session.execute(update(InboundMessage).where(InboundMessage.id.in_(ids[start:start + 1000]))
                                .values(folder_moved_to=target).execution_options(synchronize_session=False))
            session.commit()
    return moved


def refile_after_retry(settings: Settings, factory: sessionmaker, row_id: int) -> bool:
    """Move a retried message out of CLD/Failed to the folder its new status calls for; False if not found.

    The message's UID in CLD/Failed is not known (the move gave it a new one), so it is found by Message-ID.
    """
    with factory() as session:
        row = session.get(InboundMessage, row_id)
        target = FOLDER_FOR.get(row.status)
        if row.message_id is None or target in (None, FAILED) or row.folder_moved_to != FAILED:
            return False
        message_id = row.message_id
    with open_imap(settings) as mailbox:
        mailbox.folder.set(FAILED)
        uids = mailbox.uids(AND(header=[H("Message-ID", message_id)]))
        if not uids:
            return False
        mailbox.move(uids, target)
    with factory() as session:
        session.get(InboundMessage, row_id).folder_moved_to = target
        session.commit()
    return True
