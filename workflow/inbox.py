"""The inbox job: fetch new mail by UID, store it raw, run the stages, file it. Mail is never deleted."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

from imap_tools import AND, MailMessage
from imap_tools.errors import MailboxFolderCreateError, MailboxMoveError
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from workflow import inbound
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
    """Poll the service mailbox once: store everything new, process it, move it to its folder."""
    report = PollReport()
    with open_imap(settings) as mailbox:
        mailbox.email_message_class = RawMessage
        ensure_folders(mailbox)
        folder = settings.imap_folder
        mailbox.folder.set(folder)
        uidvalidity = int(mailbox.folder.status(folder, ["UIDVALIDITY"])["UIDVALIDITY"])
        new_uids = fetch_and_store(mailbox, factory, folder, uidvalidity, report)
        for row_id in pending_rows(factory):
            status = inbound.process_stored(factory, settings, row_id)
            report.statuses[status.value] = report.statuses.get(status.value, 0) + 1
            if progress:
                progress(1)
        report.moved = file_messages(mailbox, factory, folder, uidvalidity)
        log.info("inbox: %s new, %s filed, %s", len(new_uids), report.moved, report.statuses)
    return report


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
        cursor = session.get(InboxCursor, folder)
        if cursor is None or cursor.uidvalidity != uidvalidity:
            # A new UIDVALIDITY means old UIDs mean nothing: read the folder again (stored copies dedupe).
            cursor = session.merge(InboxCursor(mailbox=folder, uidvalidity=uidvalidity, last_uid=0))
            session.commit()
        last_uid = cursor.last_uid
    # `UID n:*` always includes the newest message, even below n: keep only what is really new.
    uids = sorted(int(u) for u in mailbox.uids(AND(uid=f"{last_uid + 1}:*")) if int(u) > last_uid)
    for start in range(0, len(uids), FETCH_BATCH):
        batch = uids[start:start + FETCH_BATCH]
        for message in mailbox.fetch(AND(uid=",".join(map(str, batch))), mark_seen=False, bulk=True):
            with factory() as session:
                inbound.store_raw(session, message.raw_bytes, mailbox=folder, uidvalidity=uidvalidity, uid=int(message.uid))
                session.merge(InboxCursor(mailbox=folder, uidvalidity=uidvalidity,
                                          last_uid=max(int(message.uid), last_uid)))
                last_uid = max(int(message.uid), last_uid)
                session.commit()
            report.fetched += 1
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
            for row_id, _uid in items:
                session.get(InboundMessage, row_id).folder_moved_to = target
            session.commit()
    return moved
