"""The sandbox's mail store: one SQLite file holding every mailbox, folder and message.

SQLite rather than Maildir because UIDs, UIDVALIDITY and flags must survive restarts and change
atomically while the SMTP thread and the IMAP thread write at once; WAL mode also lets a second
process (a human poking at the store) read while the sandbox runs.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Iterable

INBOX = "INBOX"
DELIMITER = "/"
STORE_FILENAME = "mail.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS folder (
    id INTEGER PRIMARY KEY,
    address TEXT NOT NULL,
    name TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    uidnext INTEGER NOT NULL DEFAULT 1,
    UNIQUE (address, name)
);
CREATE TABLE IF NOT EXISTS message (
    folder_id INTEGER NOT NULL REFERENCES folder (id) ON DELETE CASCADE,
    uid INTEGER NOT NULL,
    flags TEXT NOT NULL DEFAULT '',
    internal_date TEXT NOT NULL,
    recent INTEGER NOT NULL DEFAULT 1,
    size INTEGER NOT NULL,
    raw BLOB NOT NULL,
    PRIMARY KEY (folder_id, uid)
);
"""


class NoSuchFolder(LookupError):
    """The folder does not exist in this mailbox."""


class FolderExists(ValueError):
    """A folder of that name already exists."""


@dataclass(frozen=True)
class FolderStatus:
    """Counters of one folder, as SELECT and STATUS report them."""

    uidvalidity: int
    uidnext: int
    messages: int
    recent: int
    unseen: int


@dataclass(frozen=True)
class Entry:
    """A message's metadata without its bytes."""

    uid: int
    flags: frozenset[str]
    internal_date: datetime
    size: int


@dataclass(frozen=True)
class StoredMessage:
    """A stored message, for humans and tests."""

    uid: int
    flags: frozenset[str]
    internal_date: datetime
    raw: bytes = field(repr=False)

    @property
    def message(self) -> Message:
        """The parsed message."""
        return message_from_bytes(self.raw)

    @property
    def subject(self) -> str:
        """The Subject header, as written."""
        return str(self.message.get("Subject", ""))


def normalize_address(address: str) -> str:
    """Lower-case an address and drop any +detail, giving the mailbox it belongs to."""
    address = address.strip().strip("<>").lower()
    local, _, domain = address.rpartition("@")
    if not local:
        local, domain = domain, "localhost"
    return f"{local.split('+', 1)[0]}@{domain}"


def normalize_folder(name: str) -> str:
    """INBOX is case-insensitive (RFC 3501 5.1); every other name is kept as given."""
    name = name.rstrip(DELIMITER)
    head, sep, rest = name.partition(DELIMITER)
    return INBOX + sep + rest if head.upper() == INBOX else name


def crlf(raw: bytes) -> bytes:
    """Give every line a CRLF ending, so RFC822.SIZE counts what IMAP clients receive."""
    return re.sub(rb"\r?\n", b"\r\n", raw)


def parse_flags(text: str) -> frozenset[str]:
    return frozenset(text.split())


class MailStore:
    """Mailboxes on disk under `root`; safe to share between threads."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        # One connection behind one lock: the sandbox's load is tiny and this keeps every
        # multi-statement change (copy, move, expunge) atomic without per-thread connections.
        self._db = sqlite3.connect(
            self.root / STORE_FILENAME, check_same_thread=False, isolation_level=None, timeout=10
        )
        self._lock = threading.RLock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database file."""
        with self._lock:
            self._db.close()

    def _transaction(self) -> "_Transaction":
        return _Transaction(self)

    def _folder_row(self, address: str, folder: str) -> tuple[int, int, int]:
        row = self._db.execute(
            "SELECT id, uidvalidity, uidnext FROM folder WHERE address = ? AND name = ?",
            (normalize_address(address), normalize_folder(folder)),
        ).fetchone()
        if row is None:
            raise NoSuchFolder(folder)
        return row

    def _insert_folder(self, address: str, name: str) -> None:
        # UIDVALIDITY must change when a name is reused, so never hand out the same value twice.
        (highest,) = self._db.execute("SELECT max(uidvalidity) FROM folder").fetchone()
        uidvalidity = max(int(time.time()), (highest or 0) + 1)
        self._db.execute(
            "INSERT INTO folder (address, name, uidvalidity) VALUES (?, ?, ?)",
            (address, name, uidvalidity),
        )

    def _add(self, folder_row: tuple[int, int, int], raw: bytes, flags: Iterable[str],
             internal_date: datetime | None) -> int:
        folder_id, _, uid = folder_row
        raw = crlf(raw)
        date = (internal_date or datetime.now(timezone.utc).astimezone()).isoformat()
        self._db.execute(
            "INSERT INTO message (folder_id, uid, flags, internal_date, size, raw)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (folder_id, uid, " ".join(sorted(set(flags))), date, len(raw), raw),
        )
        self._db.execute("UPDATE folder SET uidnext = ? WHERE id = ?", (uid + 1, folder_id))
        return uid

    def ensure_mailbox(self, address: str) -> str:
        """Create the mailbox with its INBOX if it is new; return its normalized address."""
        address = normalize_address(address)
        with self._transaction():
            exists = self._db.execute(
                "SELECT 1 FROM folder WHERE address = ? AND name = ?", (address, INBOX)
            ).fetchone()
            if not exists:
                self._insert_folder(address, INBOX)
        return address

    def deliver(self, recipient: str, raw: bytes, mail_from: str | None = None) -> tuple[str, int]:
        """Deliver into the recipient's INBOX as an LDA would; return (address, uid)."""
        # Like Dovecot's LDA: Delivered-To keeps the full +detail address, which is what carries
        # the reply token; Return-Path keeps the envelope sender, which bounce screening reads.
        prefix = b""
        if mail_from is not None:
            prefix += b"Return-Path: <" + mail_from.strip("<>").encode() + b">\r\n"
        prefix += b"Delivered-To: " + recipient.strip().strip("<>").encode() + b"\r\n"
        address = self.ensure_mailbox(recipient)
        return address, self.append(address, INBOX, prefix + raw)

    def append(self, address: str, folder: str, raw: bytes, flags: Iterable[str] = (),
               internal_date: datetime | None = None) -> int:
        """Add a message to a folder and return its UID."""
        with self._transaction():
            return self._add(self._folder_row(address, folder), raw, flags, internal_date)

    def addresses(self) -> list[str]:
        """Every mailbox address in the store."""
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT address FROM folder ORDER BY address")
            return [address for (address,) in rows]

    def folders(self, address: str) -> list[str]:
        """The folder names of one mailbox, sorted."""
        with self._lock:
            rows = self._db.execute(
                "SELECT name FROM folder WHERE address = ? ORDER BY name",
                (normalize_address(address),),
            )
            return [name for (name,) in rows]

    def create_folder(self, address: str, folder: str) -> None:
        """Create a folder and any missing parents (RFC 3501 6.3.3)."""
        address, folder = normalize_address(address), normalize_folder(folder)
        with self._transaction():
            existing = set(self.folders(address))
            if folder in existing:
                raise FolderExists(folder)
            self._create_with_parents(address, folder, existing)

    def delete_folder(self, address: str, folder: str) -> None:
        """Delete a folder and its messages; INBOX and folders with children stay."""
        folder = normalize_folder(folder)
        if folder == INBOX:
            raise ValueError("INBOX cannot be deleted")
        with self._transaction():
            folder_id = self._folder_row(address, folder)[0]
            if any(name.startswith(folder + DELIMITER) for name in self.folders(address)):
                raise ValueError(f"{folder} has child folders")
            self._db.execute("DELETE FROM folder WHERE id = ?", (folder_id,))

    def rename_folder(self, address: str, old: str, new: str) -> None:
        """Rename a folder and its children, keeping their UIDVALIDITY."""
        address, old, new = normalize_address(address), normalize_folder(old), normalize_folder(new)
        if INBOX in (old, new):
            raise ValueError("INBOX cannot be renamed here")
        with self._transaction():
            self._folder_row(address, old)
            names = set(self.folders(address))
            if new in names:
                raise FolderExists(new)
            for name in sorted(names):
                if name == old or name.startswith(old + DELIMITER):
                    self._db.execute(
                        "UPDATE folder SET name = ? WHERE address = ? AND name = ?",
                        (new + name[len(old):], address, name),
                    )
            parent = new.rpartition(DELIMITER)[0]
            if parent:
                self._create_with_parents(address, parent, set(self.folders(address)))

    def _create_with_parents(self, address: str, folder: str, existing: set[str]) -> None:
        parts = folder.split(DELIMITER)
        for depth in range(1, len(parts) + 1):
            name = DELIMITER.join(parts[:depth])
            if name and name not in existing:
                self._insert_folder(address, name)

    def status(self, address: str, folder: str) -> FolderStatus:
        """UIDVALIDITY, UIDNEXT and message counts of a folder."""
        with self._lock:
            folder_id, uidvalidity, uidnext = self._folder_row(address, folder)
            messages, recent, seen = self._db.execute(
                "SELECT count(*), coalesce(sum(recent), 0),"
                " coalesce(sum(' ' || flags || ' ' LIKE '% \\Seen %'), 0)"
                " FROM message WHERE folder_id = ?",
                (folder_id,),
            ).fetchone()
            return FolderStatus(uidvalidity, uidnext, messages, recent, messages - seen)

    def signature(self, address: str, folder: str) -> tuple[int, int]:
        """(count, highest UID): cheap to poll, and it changes whenever mail arrives or leaves."""
        with self._lock:
            folder_id = self._folder_row(address, folder)[0]
            return self._db.execute(
                "SELECT count(*), coalesce(max(uid), 0) FROM message WHERE folder_id = ?",
                (folder_id,),
            ).fetchone()

    def uids(self, address: str, folder: str) -> list[int]:
        """The UIDs of a folder, ascending."""
        with self._lock:
            folder_id = self._folder_row(address, folder)[0]
            rows = self._db.execute(
                "SELECT uid FROM message WHERE folder_id = ? ORDER BY uid", (folder_id,)
            )
            return [uid for (uid,) in rows]

    def entries(self, address: str, folder: str) -> list[Entry]:
        """Metadata of every message in a folder, in UID order."""
        with self._lock:
            folder_id = self._folder_row(address, folder)[0]
            rows = self._db.execute(
                "SELECT uid, flags, internal_date, size FROM message"
                " WHERE folder_id = ? ORDER BY uid",
                (folder_id,),
            ).fetchall()
        return [Entry(uid, parse_flags(flags), datetime.fromisoformat(date), size)
                for uid, flags, date, size in rows]

    def raw(self, address: str, folder: str, uid: int) -> bytes | None:
        """The bytes of one message, or None if it is gone."""
        with self._lock:
            folder_id = self._folder_row(address, folder)[0]
            row = self._db.execute(
                "SELECT raw FROM message WHERE folder_id = ? AND uid = ?", (folder_id, uid)
            ).fetchone()
            return None if row is None else bytes(row[0])

    def messages(self, address: str, folder: str = INBOX) -> list[StoredMessage]:
        """Every message of a folder with its bytes, in UID order."""
        with self._lock:
            folder_id = self._folder_row(address, folder)[0]
            rows = self._db.execute(
                "SELECT uid, flags, internal_date, raw FROM message"
                " WHERE folder_id = ? ORDER BY uid",
                (folder_id,),
            ).fetchall()
        return [StoredMessage(uid, parse_flags(flags), datetime.fromisoformat(date), bytes(raw))
                for uid, flags, date, raw in rows]

    def take_recent(self, address: str, folder: str) -> set[int]:
        """Clear \\Recent in a folder and return the UIDs that had it (one session gets them)."""
        with self._transaction():
            folder_id = self._folder_row(address, folder)[0]
            rows = self._db.execute(
                "SELECT uid FROM message WHERE folder_id = ? AND recent = 1", (folder_id,)
            ).fetchall()
            self._db.execute("UPDATE message SET recent = 0 WHERE folder_id = ?", (folder_id,))
            return {uid for (uid,) in rows}

    def store_flags(self, address: str, folder: str, uids: Iterable[int], flags: Iterable[str],
                    mode: str) -> dict[int, frozenset[str]]:
        """Add ('+'), remove ('-') or replace ('') flags; return the new flags by UID."""
        flags = set(flags)
        changed = {}
        with self._transaction():
            folder_id = self._folder_row(address, folder)[0]
            for uid in uids:
                row = self._db.execute(
                    "SELECT flags FROM message WHERE folder_id = ? AND uid = ?", (folder_id, uid)
                ).fetchone()
                if row is None:
                    continue
                current = set(parse_flags(row[0]))
                new = current | flags if mode == "+" else current - flags if mode == "-" else flags
                self._db.execute(
                    "UPDATE message SET flags = ? WHERE folder_id = ? AND uid = ?",
                    (" ".join(sorted(new)), folder_id, uid),
                )
                changed[uid] = frozenset(new)
        return changed

    def copy(self, address: str, source: str, uids: Iterable[int], target: str,
             move: bool = False) -> tuple[int, list[tuple[int, int]]]:
        """Copy (or move) messages; return the target's UIDVALIDITY and (old, new) UID pairs."""
        pairs = []
        with self._transaction():
            source_id = self._folder_row(address, source)[0]
            target_row = self._folder_row(address, target)
            for uid in uids:
                row = self._db.execute(
                    "SELECT flags, internal_date, raw FROM message WHERE folder_id = ? AND uid = ?",
                    (source_id, uid),
                ).fetchone()
                if row is None:
                    continue
                flags, date, raw = row
                target_row = self._folder_row(address, target)
                new_uid = self._add(target_row, bytes(raw), parse_flags(flags),
                                    datetime.fromisoformat(date))
                pairs.append((uid, new_uid))
                if move:
                    self._db.execute(
                        "DELETE FROM message WHERE folder_id = ? AND uid = ?", (source_id, uid)
                    )
        return target_row[1], pairs

    def expunge(self, address: str, folder: str, uids: Iterable[int] | None = None) -> list[int]:
        """Remove messages flagged \\Deleted (only among `uids` if given); return their UIDs."""
        only = None if uids is None else set(uids)
        with self._transaction():
            folder_id = self._folder_row(address, folder)[0]
            doomed = [
                uid for uid, flags in self._db.execute(
                    "SELECT uid, flags FROM message WHERE folder_id = ? ORDER BY uid", (folder_id,)
                ).fetchall()
                if "\\Deleted" in parse_flags(flags) and (only is None or uid in only)
            ]
            self._db.executemany(
                "DELETE FROM message WHERE folder_id = ? AND uid = ?",
                [(folder_id, uid) for uid in doomed],
            )
        return doomed


class _Transaction:
    """Hold the store's lock and wrap the block in BEGIN IMMEDIATE ... COMMIT; nests harmlessly."""

    def __init__(self, store: MailStore) -> None:
        self.store = store
        self.outermost = False

    def __enter__(self) -> None:
        self.store._lock.acquire()
        self.outermost = not self.store._db.in_transaction
        if self.outermost:
            self.store._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if self.outermost:
                self.store._db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.store._lock.release()
