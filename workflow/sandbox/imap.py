"""The sandbox's IMAP side: a small IMAP4rev1 server over the mail store, on its own asyncio thread.

It implements what imap-tools, imaplib and a desktop client need for plain mail handling; the
subset is CAPABILITIES plus the COMMANDS table below `Session`. No TLS, no AUTHENTICATE, no
ENVELOPE, BODYSTRUCTURE or MIME part sections.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections import deque
from datetime import date, datetime, timedelta, timezone
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from email.utils import parsedate_to_datetime
from functools import cached_property
from typing import Callable

from workflow.sandbox.store import (
    DELIMITER,
    INBOX,
    FolderExists,
    MailStore,
    NoSuchFolder,
    normalize_folder,
)

log = logging.getLogger(__name__)

CAPABILITIES = "IMAP4rev1 LITERAL+ IDLE MOVE UIDPLUS UNSELECT CHILDREN NAMESPACE"
SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
IDLE_POLL_SECONDS = 0.2
MAX_LINE = 16 * 1024 * 1024
DEFAULT_MAX_LITERAL = 64 * 1024 * 1024

_LITERAL_AT_END = re.compile(rb"\{(\d+)(\+?)\}\r?\n\Z")
_LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n")
_TAG = re.compile(rb'[^\x00-\x20\x7f-\xff(){%*"\\+]+')
_SEQUENCE_SET = re.compile(r"(\d+|\*)(:(\d+|\*))?(,(\d+|\*)(:(\d+|\*))?)*\Z")
_BODY_ITEM = re.compile(r"(BODY(?:\.PEEK)?)\[([^\]]*)\](?:<(\d+)(?:\.(\d+))?>)?\Z", re.I)
_INTERNALDATE = re.compile(
    r"\s?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)\Z")


class BadCommand(ValueError):
    """The client broke the grammar: answered with BAD."""


class Refused(Exception):
    """A well-formed command that cannot be done: answered with NO (text may carry a code)."""


class TooBig(Exception):
    """A literal beyond the size limit."""


def tokenize(data: bytes) -> list:
    """Split a command, literals inline, into atoms and strings (str), literals (bytes), lists."""
    stack: list[list] = [[]]
    pos, end = 0, len(data)
    while pos < end:
        char = data[pos:pos + 1]
        if char == b" ":
            pos += 1
        elif char in (b"\r", b"\n"):
            break
        elif char == b"(":
            stack[-1].append([])
            stack.append(stack[-1][-1])
            pos += 1
        elif char == b")":
            if len(stack) == 1:
                raise BadCommand("unbalanced parenthesis")
            stack.pop()
            pos += 1
        elif char == b'"':
            value, pos = _quoted(data, pos + 1)
            stack[-1].append(value)
        elif char == b"{":
            match = _LITERAL.match(data, pos)
            if not match:
                raise BadCommand("malformed literal")
            start = match.end()
            stack[-1].append(data[start:start + int(match[1])])
            pos = start + int(match[1])
        else:
            start, depth = pos, 0
            # Brackets may hold spaces and parentheses: BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.10>
            while pos < end and data[pos:pos + 1] not in (b"\r", b"\n") and (
                    depth or data[pos:pos + 1] not in (b" ", b"(", b")")):
                depth += {b"[": 1, b"]": -1}.get(data[pos:pos + 1], 0)
                pos += 1
            stack[-1].append(data[start:pos].decode("utf-8", "surrogateescape"))
    if len(stack) != 1:
        raise BadCommand("unbalanced parenthesis")
    return stack[0]


def _quoted(data: bytes, pos: int) -> tuple[str, int]:
    out = bytearray()
    while pos < len(data):
        char = data[pos]
        if char == 0x22:
            return out.decode("utf-8", "surrogateescape"), pos + 1
        if char == 0x5C:
            pos += 1
            char = data[pos] if pos < len(data) else 0
        if char in (0x0D, 0x0A, 0):
            raise BadCommand("malformed quoted string")
        out.append(char)
        pos += 1
    raise BadCommand("unterminated quoted string")


def astring(token) -> str:
    """An atom, quoted string or literal as text."""
    if isinstance(token, bytes):
        return token.decode("utf-8", "surrogateescape")
    if isinstance(token, str):
        return token
    raise BadCommand("expected a string")


def quote(text: str) -> bytes:
    """A string as the protocol writes it: quoted, or a literal when quoting cannot carry it."""
    raw = text.encode("utf-8", "surrogateescape")
    if re.search(rb"[\r\n\x00\x80-\xff]", raw):
        return b"{%d}\r\n" % len(raw) + raw
    return b'"' + raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def sequence_members(text: str, candidates: list[int], largest: int) -> list[int]:
    """The candidates inside an IMAP sequence set; `*` stands for the largest number in use."""
    if not _SEQUENCE_SET.match(text):
        raise BadCommand(f"invalid sequence set {text}")
    singles, ranges = set(), []
    for part in text.split(","):
        first, colon, last = part.partition(":")
        low = largest if first == "*" else int(first)
        high = low if not colon else largest if last == "*" else int(last)
        if low == high:
            singles.add(low)
        else:
            ranges.append((min(low, high), max(low, high)))
    return [n for n in candidates if n in singles or any(lo <= n <= hi for lo, hi in ranges)]


def format_flags(flags) -> bytes:
    return b"(" + " ".join(sorted(flags)).encode() + b")"


def format_internaldate(moment: datetime) -> bytes:
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return (f'"{moment.day:2d}-{MONTHS[moment.month - 1]}-{moment.year:04d} '
            f'{moment:%H:%M:%S} {sign}{minutes // 60:02d}{minutes % 60:02d}"').encode()


def parse_internaldate(text: str) -> datetime:
    match = _INTERNALDATE.match(text)
    if not match or match[2].title() not in MONTHS:
        raise BadCommand(f"invalid date-time {text}")
    day, month, year, hh, mm, ss, sign, zh, zm = match.groups()
    offset = timedelta(hours=int(zh), minutes=int(zm)) * (-1 if sign == "-" else 1)
    return datetime(int(year), MONTHS.index(month.title()) + 1, int(day), int(hh), int(mm),
                    int(ss), tzinfo=timezone(offset))


def parse_date(token) -> date:
    text = astring(token)
    day, _, rest = text.partition("-")
    month, _, year = rest.partition("-")
    if month.title() not in MONTHS or not day.isdigit() or not year.isdigit():
        raise BadCommand(f"invalid date {text}")
    return date(int(year), MONTHS.index(month.title()) + 1, int(day))


def list_pattern(pattern: str) -> Callable[[str], bool]:
    """A LIST pattern as a test: `*` matches anything, `%` anything but the delimiter."""
    head, sep, rest = pattern.partition(DELIMITER)
    if head.upper() == INBOX:
        pattern = INBOX + sep + rest
    regex = "".join(".*" if c == "*" else "[^/]*" if c == "%" else re.escape(c) for c in pattern)
    return re.compile(regex + r"\Z", re.S).match


def normalize_flag(flag: str) -> str:
    if not flag.startswith("\\"):
        return flag
    for system in SYSTEM_FLAGS:
        if flag.lower() == system.lower():
            return system
    raise BadCommand(f"unknown system flag {flag}")


def split_message(raw: bytes) -> tuple[bytes, bytes]:
    """(header with its blank line, body), as RFC 3501 defines HEADER and TEXT."""
    end = raw.find(b"\r\n\r\n")
    return (raw, b"") if end < 0 else (raw[:end + 4], raw[end + 4:])


def header_fields(header: bytes, names: set[str], keep: bool) -> bytes:
    """Only the header fields named (or all but those), each with its continuation lines."""
    fields: list[bytes] = []
    for line in header.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\r\n" + line
        elif line:
            fields.append(line)
    chosen = [f for f in fields
              if (f.split(b":", 1)[0].strip().decode("latin-1").upper() in names) == keep]
    return b"".join(f + b"\r\n" for f in chosen) + b"\r\n"


class Candidate:
    """One message as SEARCH sees it; reads the message bytes only when a criterion needs them."""

    def __init__(self, seq: int, uid: int, flags: frozenset[str], size: int, when: datetime,
                 load: Callable[[], bytes]) -> None:
        self.seq, self.uid, self.flags, self.size, self.when = seq, uid, flags, size, when
        self._load = load

    @cached_property
    def raw(self) -> bytes:
        return self._load() or b""

    @cached_property
    def headers(self):
        return BytesHeaderParser().parsebytes(self.raw)

    def header_contains(self, name: str, needle: str) -> bool:
        for value in self.headers.get_all(name, []):
            try:
                value = str(make_header(decode_header(str(value))))
            except Exception:  # noqa: BLE001 - undecodable headers are searched as written
                value = str(value)
            if needle.lower() in value.lower():
                return True
        return False

    def text_contains(self, part: bytes, needle: str) -> bool:
        return needle.lower() in part.decode("utf-8", "replace").lower()

    def sent_on(self) -> date | None:
        try:
            return parsedate_to_datetime(self.headers.get("Date", "")).date()
        except (TypeError, ValueError):
            return None


Predicate = Callable[[Candidate], bool]

_FLAG_KEYS = {
    "ANSWERED": ("\\Answered", True), "UNANSWERED": ("\\Answered", False),
    "DELETED": ("\\Deleted", True), "UNDELETED": ("\\Deleted", False),
    "DRAFT": ("\\Draft", True), "UNDRAFT": ("\\Draft", False),
    "FLAGGED": ("\\Flagged", True), "UNFLAGGED": ("\\Flagged", False),
    "SEEN": ("\\Seen", True), "UNSEEN": ("\\Seen", False),
    "RECENT": ("\\Recent", True), "OLD": ("\\Recent", False),
}
_ADDRESS_KEYS = {"FROM", "TO", "CC", "BCC", "SUBJECT"}


def compile_search(tokens: list, largest_seq: int, largest_uid: int) -> Predicate:
    """Turn SEARCH criteria into one predicate; all top-level keys must hold."""
    queue = deque(tokens)
    if queue and isinstance(queue[0], str) and queue[0].upper() == "CHARSET":
        queue.popleft()
        if astring(queue.popleft()).upper() not in ("US-ASCII", "UTF-8"):
            raise Refused("[BADCHARSET (US-ASCII UTF-8)] unsupported charset")
    keys = []
    while queue:
        keys.append(_search_key(queue, largest_seq, largest_uid))
    if not keys:
        raise BadCommand("missing search criteria")
    return lambda c: all(key(c) for key in keys)


def _search_key(queue: deque, largest_seq: int, largest_uid: int) -> Predicate:
    def arg():
        if not queue:
            raise BadCommand("missing search argument")
        return queue.popleft()

    token = arg()
    if isinstance(token, list):
        return compile_search(token, largest_seq, largest_uid)
    word = astring(token).upper()
    if word == "ALL":
        return lambda c: True
    if word in _FLAG_KEYS:
        flag, wanted = _FLAG_KEYS[word]
        return lambda c: (flag in c.flags) == wanted
    if word == "NEW":
        return lambda c: "\\Recent" in c.flags and "\\Seen" not in c.flags
    if word in ("KEYWORD", "UNKEYWORD"):
        flag = astring(arg())
        return lambda c: (flag in c.flags) == (word == "KEYWORD")
    if word in _ADDRESS_KEYS:
        needle = astring(arg())
        return lambda c: c.header_contains(word, needle)
    if word == "HEADER":
        name, needle = astring(arg()), astring(arg())
        return lambda c: c.header_contains(name, needle)
    if word == "BODY":
        needle = astring(arg())
        return lambda c: c.text_contains(split_message(c.raw)[1], needle)
    if word == "TEXT":
        needle = astring(arg())
        return lambda c: c.text_contains(c.raw, needle)
    if word in ("LARGER", "SMALLER"):
        size = int(astring(arg()))
        return lambda c: c.size > size if word == "LARGER" else c.size < size
    if word in ("BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"):
        day = parse_date(arg())
        compare = {"BEFORE": date.__lt__, "ON": date.__eq__,
                   "SINCE": date.__ge__}[word.removeprefix("SENT")]
        if word.startswith("SENT"):
            return lambda c: c.sent_on() is not None and compare(c.sent_on(), day)
        return lambda c: compare(c.when.date(), day)
    if word == "UID":
        text = astring(arg())
        sequence_members(text, [], largest_uid)  # validates the set
        return lambda c: bool(sequence_members(text, [c.uid], largest_uid))
    if word == "NOT":
        inner = _search_key(queue, largest_seq, largest_uid)
        return lambda c: not inner(c)
    if word == "OR":
        left = _search_key(queue, largest_seq, largest_uid)
        right = _search_key(queue, largest_seq, largest_uid)
        return lambda c: left(c) or right(c)
    if _SEQUENCE_SET.match(word):
        return lambda c: bool(sequence_members(word, [c.seq], largest_seq))
    raise BadCommand(f"unsupported search key {word}")


class FetchItem:
    """One requested FETCH data item, parsed once and rendered per message."""

    def __init__(self, token: str) -> None:
        self.name = token.upper()
        self.section: str | None = None
        self.fields: set[str] = set()
        self.partial: tuple[int, int | None] | None = None
        match = _BODY_ITEM.match(token)
        if match:
            self.name = match[1].upper()
            self.section = match[2].upper()
            if match[3] is not None:
                self.partial = (int(match[3]), int(match[4]) if match[4] else None)
            kind = self.section.split(" ", 1)[0]
            if kind in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
                names = tokenize(self.section[len(kind):].encode())
                if not names or not isinstance(names[0], list):
                    raise BadCommand("header field list expected")
                self.fields = {astring(name).upper() for name in names[0]}
            elif kind not in ("", "HEADER", "TEXT"):
                raise BadCommand(f"unsupported body section {self.section}")
        elif self.name not in ("UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "RFC822",
                               "RFC822.HEADER", "RFC822.TEXT"):
            raise BadCommand(f"unsupported fetch item {token}")

    @property
    def marks_seen(self) -> bool:
        return self.name in ("BODY", "RFC822", "RFC822.TEXT")

    @property
    def needs_raw(self) -> bool:
        return self.section is not None or self.name in ("RFC822", "RFC822.HEADER", "RFC822.TEXT")

    def body(self, raw: bytes) -> tuple[bytes, bytes]:
        """(label, content) for the sections that answer with message bytes."""
        header, text = split_message(raw)
        if self.section is None:
            content = {"RFC822": raw, "RFC822.HEADER": header, "RFC822.TEXT": text}[self.name]
            return self.name.encode(), content
        kind = self.section.split(" ", 1)[0]
        content = {"": raw, "HEADER": header, "TEXT": text}.get(kind)
        if content is None:
            content = header_fields(header, self.fields, keep=kind == "HEADER.FIELDS")
        label = f"BODY[{self.section}]"
        if self.partial:
            start, length = self.partial
            content = content[start:None if length is None else start + length]
            label += f"<{start}>"
        return label.encode(), content


def parse_fetch_items(token) -> list[FetchItem]:
    macros = {"FAST": ["FLAGS", "INTERNALDATE", "RFC822.SIZE"]}
    if isinstance(token, list):
        names = [astring(t) for t in token]
    else:
        names = macros.get(astring(token).upper(), [astring(token)])
    if not names:
        raise BadCommand("empty fetch item list")
    return [FetchItem(name) for name in names]


class Session:
    """One client connection: its login, its view of the selected folder, and the commands."""

    def __init__(self, server: "IMAPServer", reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.server, self.store = server, server.store
        self.reader, self.writer = reader, writer
        self.out: list[bytes] = []
        self.address: str | None = None
        self.folder: str | None = None
        self.readonly = False
        # The client's sequence numbers are positions in this list; it changes only when the
        # client is told (EXISTS, EXPUNGE), never behind its back.
        self.uids: list[int] = []
        self.highest = 0
        self.recent: set[int] = set()
        self.signature: tuple[int, int] | None = None

    def send(self, line: bytes) -> None:
        self.out.append(line + b"\r\n")

    async def flush(self) -> None:
        if self.out:
            self.writer.write(b"".join(self.out))
            self.out.clear()
            await self.writer.drain()

    async def run(self) -> None:
        """Greet, then answer commands until LOGOUT or the connection closes."""
        self.send(f"* OK [CAPABILITY {CAPABILITIES}] cld mail sandbox ready".encode())
        await self.flush()
        while True:
            try:
                data = await self.read_command()
            except TooBig as exc:
                tag, synchronizing = exc.args
                if not synchronizing:
                    self.send(b"* BYE literal too large")
                    await self.flush()
                    return
                self.send(tag + b" NO [TOOBIG] literal too large")
                await self.flush()
                continue
            except ValueError:
                self.send(b"* BYE line too long")
                await self.flush()
                return
            if data is None:
                return
            finished = await self.execute(data)
            await self.flush()
            if finished:
                return

    async def read_command(self) -> bytes | None:
        """One command's bytes with its literals inline, or None at end of stream."""
        data = b""
        while True:
            line = await self.reader.readline()
            if not line.endswith(b"\n"):
                return None
            data += line
            match = _LITERAL_AT_END.search(line)
            if not match:
                return data
            size, synchronizing = int(match[1]), not match[2]
            if size > self.server.max_literal:
                raise TooBig(data.split(b" ", 1)[0], synchronizing)
            if synchronizing:
                self.writer.write(b"+ Ready for literal data\r\n")
                await self.writer.drain()
            data += await self.reader.readexactly(size)

    async def execute(self, data: bytes) -> bool:
        """Run one command and answer it; True when the connection should close."""
        # Answer even a garbled command with its tag when there is one: imaplib waits for it.
        word = data.split(b" ", 1)[0].rstrip(b"\r\n")
        tag = word if _TAG.fullmatch(word) else b"*"
        try:
            tokens = tokenize(data)
        except BadCommand as exc:
            self.send(tag + f" BAD {exc}".encode())
            return False
        if not data.strip():
            return False
        if tag == b"*" or len(tokens) < 2 or not isinstance(tokens[1], str):
            self.send(tag + b" BAD missing tag or command")
            return False
        name, args = tokens[1].upper(), tokens[2:]
        is_uid = name == "UID" and bool(args) and isinstance(args[0], str)
        if is_uid:
            name, args = args[0].upper(), args[1:]
        command = COMMANDS.get(("UID " if is_uid else "") + name)
        if command is None:
            self.send(tag + b" BAD unknown command")
            return False
        handler, states = command
        state = "selected" if self.folder else "auth" if self.address else "nonauth"
        if state not in states:
            self.send(tag + b" BAD command not valid in this state")
            return False
        try:
            if self.folder and name in _USES_MESSAGES:
                # New arrivals first, so UIDs the client just learned elsewhere resolve here.
                self.sync(expunge=False)
            text = await handler(self, args, is_uid)
            status = b"OK"
        except BadCommand as exc:
            status, text = b"BAD", str(exc)
        except Refused as exc:
            status, text = b"NO", str(exc)
        except NoSuchFolder:
            status, text = b"NO", "[NONEXISTENT] the folder no longer exists"
        except (IndexError, TypeError, ValueError) as exc:
            status, text = b"BAD", f"invalid arguments ({exc})"
        except ConnectionError:
            raise
        except Exception:  # noqa: BLE001 - a server bug answers NO and keeps the session
            log.exception("IMAP command %s failed", name)
            status, text = b"NO", "[SERVERBUG] internal error"
        if self.folder:
            # RFC 3501 7.4.1: no EXPUNGE while answering FETCH, STORE or SEARCH by number.
            self.sync(expunge=is_uid or name not in ("FETCH", "STORE", "SEARCH"))
        self.send(tag + b" " + status + b" " + text.encode())
        return name == "LOGOUT"

    def sync(self, expunge: bool) -> None:
        """Tell the client about mail that arrived or left since it last heard."""
        try:
            signature = self.store.signature(self.address, self.folder)
            if signature == self.signature:
                return
            current = self.store.uids(self.address, self.folder)
        except NoSuchFolder:
            return
        present = set(current)
        vanished = {uid for uid in self.uids if uid not in present}
        if expunge:
            self.report_expunged(vanished)
        new = [uid for uid in current if uid > self.highest]
        if new:
            self.uids.extend(new)
            self.highest = new[-1]
            if not self.readonly:
                self.recent |= self.store.take_recent(self.address, self.folder)
            self.send(b"* %d EXISTS" % len(self.uids))
            self.send(b"* %d RECENT" % len(self.recent & present))
        if expunge or not vanished:
            self.signature = signature

    def report_expunged(self, uids: set[int]) -> None:
        # Highest sequence number first, so each number is still right when the client reads it.
        for index in range(len(self.uids) - 1, -1, -1):
            if self.uids[index] in uids:
                self.send(b"* %d EXPUNGE" % (index + 1))
                del self.uids[index]
        self.recent -= uids

    def resolve(self, text: str, by_uid: bool) -> list[tuple[int, int]]:
        """(sequence number, UID) of the messages a sequence set names."""
        if by_uid:
            chosen = set(sequence_members(text, self.uids, max(self.uids, default=0)))
            return [(seq, uid) for seq, uid in enumerate(self.uids, 1) if uid in chosen]
        numbers = sequence_members(text, list(range(1, len(self.uids) + 1)), len(self.uids))
        explicit = [int(n) for part in text.split(",") if "*" not in part for n in part.split(":")]
        if any(not 0 < n <= len(self.uids) for n in explicit):
            raise BadCommand("no message has that sequence number")
        return [(seq, self.uids[seq - 1]) for seq in numbers]

    def flags_of(self, uid: int, flags: frozenset[str]) -> frozenset[str]:
        return flags | {"\\Recent"} if uid in self.recent else flags

    def deselect(self) -> None:
        self.folder, self.readonly, self.uids, self.highest = None, False, [], 0
        self.recent, self.signature = set(), None

    def writable(self) -> None:
        if self.readonly:
            raise Refused("[READ-ONLY] the folder was opened with EXAMINE")

    async def cmd_capability(self, args, is_uid) -> str:
        self.send(f"* CAPABILITY {CAPABILITIES}".encode())
        return "CAPABILITY completed"

    async def cmd_noop(self, args, is_uid) -> str:
        return "NOOP completed"

    async def cmd_logout(self, args, is_uid) -> str:
        self.send(b"* BYE cld mail sandbox says goodbye")
        return "LOGOUT completed"

    async def cmd_login(self, args, is_uid) -> str:
        user, password = (astring(arg) for arg in args) if len(args) == 2 else ("", None)
        if not user or password != self.server.password:
            raise Refused("[AUTHENTICATIONFAILED] invalid credentials")
        self.address = self.store.ensure_mailbox(user)
        return f"[CAPABILITY {CAPABILITIES}] LOGIN completed"

    async def cmd_select(self, args, is_uid, readonly: bool = False) -> str:
        self.deselect()
        folder = normalize_folder(astring(args[0]))
        try:
            entries = self.store.entries(self.address, folder)
            recent = set() if readonly else self.store.take_recent(self.address, folder)
            status = self.store.status(self.address, folder)
        except NoSuchFolder:
            raise Refused("[NONEXISTENT] no such folder") from None
        self.folder, self.readonly, self.recent = folder, readonly, recent
        self.uids = [entry.uid for entry in entries]
        self.highest = max(self.uids, default=0)
        self.send(b"* FLAGS (" + " ".join(SYSTEM_FLAGS).encode() + b")")
        permanent = "" if readonly else " ".join(SYSTEM_FLAGS) + " \\*"
        self.send(f"* OK [PERMANENTFLAGS ({permanent})] flags that stay".encode())
        self.send(b"* %d EXISTS" % len(self.uids))
        self.send(b"* %d RECENT" % (status.recent if readonly else len(recent)))
        unseen = [seq for seq, e in enumerate(entries, 1) if "\\Seen" not in e.flags]
        if unseen:
            self.send(b"* OK [UNSEEN %d] first unseen message" % unseen[0])
        self.send(b"* OK [UIDVALIDITY %d] UIDs valid" % status.uidvalidity)
        self.send(b"* OK [UIDNEXT %d] predicted next UID" % status.uidnext)
        return "[READ-ONLY] EXAMINE completed" if readonly else "[READ-WRITE] SELECT completed"

    async def cmd_examine(self, args, is_uid) -> str:
        return await self.cmd_select(args, is_uid, readonly=True)

    async def cmd_create(self, args, is_uid) -> str:
        try:
            self.store.create_folder(self.address, astring(args[0]))
        except FolderExists:
            raise Refused("[ALREADYEXISTS] folder exists") from None
        return "CREATE completed"

    async def cmd_delete(self, args, is_uid) -> str:
        folder = normalize_folder(astring(args[0]))
        if folder == self.folder:
            raise Refused("the selected folder cannot be deleted")
        try:
            self.store.delete_folder(self.address, folder)
        except NoSuchFolder:
            raise Refused("[NONEXISTENT] no such folder") from None
        except ValueError as exc:
            raise Refused(str(exc)) from None
        return "DELETE completed"

    async def cmd_rename(self, args, is_uid) -> str:
        try:
            self.store.rename_folder(self.address, astring(args[0]), astring(args[1]))
        except NoSuchFolder:
            raise Refused("[NONEXISTENT] no such folder") from None
        except FolderExists:
            raise Refused("[ALREADYEXISTS] target exists") from None
        except ValueError as exc:
            raise Refused(str(exc)) from None
        return "RENAME completed"

    async def cmd_subscribe(self, args, is_uid) -> str:
        # Every folder counts as subscribed; LSUB lists them all.
        astring(args[0])
        return "done"

    async def cmd_namespace(self, args, is_uid) -> str:
        self.send(b'* NAMESPACE (("" "/")) NIL NIL')
        return "NAMESPACE completed"

    async def cmd_list(self, args, is_uid, verb: str = "LIST") -> str:
        reference, pattern = astring(args[0]), astring(args[1])
        if not pattern:
            self.send(f'* {verb} (\\Noselect) "{DELIMITER}" ""'.encode())
            return f"{verb} completed"
        matches = list_pattern(reference + pattern)
        names = self.store.folders(self.address)
        for name in names:
            if matches(name):
                children = any(other.startswith(name + DELIMITER) for other in names)
                attributes = "\\HasChildren" if children else "\\HasNoChildren"
                self.send(f'* {verb} ({attributes}) "{DELIMITER}" '.encode() + quote(name))
        return f"{verb} completed"

    async def cmd_lsub(self, args, is_uid) -> str:
        return await self.cmd_list(args, is_uid, verb="LSUB")

    async def cmd_status(self, args, is_uid) -> str:
        folder = normalize_folder(astring(args[0]))
        items = args[1] if isinstance(args[1], list) else args[1:]
        try:
            status = self.store.status(self.address, folder)
        except NoSuchFolder:
            raise Refused("[NONEXISTENT] no such folder") from None
        values = {"MESSAGES": status.messages, "RECENT": status.recent, "UIDNEXT": status.uidnext,
                  "UIDVALIDITY": status.uidvalidity, "UNSEEN": status.unseen}
        pairs = []
        for item in (astring(i).upper() for i in items):
            if item not in values:
                raise BadCommand(f"unknown status item {item}")
            pairs.append(f"{item} {values[item]}")
        self.send(b"* STATUS " + quote(folder) + f" ({' '.join(pairs)})".encode())
        return "STATUS completed"

    async def cmd_append(self, args, is_uid) -> str:
        folder = normalize_folder(astring(args[0]))
        if len(args) < 2 or not isinstance(args[-1], bytes):
            raise BadCommand("message literal expected")
        flags, when = [], None
        for option in args[1:-1]:
            if isinstance(option, list):
                flags = [normalize_flag(astring(f)) for f in option
                         if astring(f).lower() != "\\recent"]
            else:
                when = parse_internaldate(astring(option))
        try:
            uid = self.store.append(self.address, folder, args[-1], flags, when)
            uidvalidity = self.store.status(self.address, folder).uidvalidity
        except NoSuchFolder:
            raise Refused("[TRYCREATE] no such folder") from None
        return f"[APPENDUID {uidvalidity} {uid}] APPEND completed"

    async def cmd_idle(self, args, is_uid) -> str:
        self.send(b"+ idling")
        await self.flush()
        line = asyncio.ensure_future(self.reader.readline())
        try:
            while True:
                if self.folder:
                    self.sync(expunge=True)
                    await self.flush()
                done, _ = await asyncio.wait({line}, timeout=IDLE_POLL_SECONDS)
                if done:
                    break
        finally:
            line.cancel()
        if not line.result():
            raise ConnectionResetError("client left during IDLE")
        if line.result().strip().upper() != b"DONE":
            raise BadCommand("expected DONE")
        return "IDLE terminated"

    async def cmd_check(self, args, is_uid) -> str:
        return "CHECK completed"

    async def cmd_close(self, args, is_uid) -> str:
        if not self.readonly:
            self.store.expunge(self.address, self.folder)
        self.deselect()
        return "CLOSE completed"

    async def cmd_unselect(self, args, is_uid) -> str:
        self.deselect()
        return "UNSELECT completed"

    async def cmd_expunge(self, args, is_uid) -> str:
        self.writable()
        only = [uid for _, uid in self.resolve(astring(args[0]), True)] if is_uid else None
        self.report_expunged(set(self.store.expunge(self.address, self.folder, only)))
        return "EXPUNGE completed"

    async def cmd_search(self, args, is_uid) -> str:
        entries = {e.uid: e for e in self.store.entries(self.address, self.folder)}
        matches = compile_search(args, len(self.uids), max(self.uids, default=0))
        found = []
        for seq, uid in enumerate(self.uids, 1):
            entry = entries.get(uid)
            if entry is None:
                continue
            candidate = Candidate(seq, uid, self.flags_of(uid, entry.flags), entry.size,
                                  entry.internal_date,
                                  lambda uid=uid: self.store.raw(self.address, self.folder, uid))
            if matches(candidate):
                found.append(uid if is_uid else seq)
        self.send(b"* SEARCH" + b"".join(b" %d" % n for n in found))
        return "SEARCH completed"

    async def cmd_fetch(self, args, is_uid) -> str:
        if len(args) != 2:
            raise BadCommand("FETCH takes a sequence set and data items")
        items = parse_fetch_items(args[1])
        targets = self.resolve(astring(args[0]), is_uid)
        if is_uid and not any(item.name == "UID" for item in items):
            items.insert(0, FetchItem("UID"))
        entries = {e.uid: e for e in self.store.entries(self.address, self.folder)}
        needs_raw = any(item.needs_raw for item in items)
        marked: dict[int, frozenset[str]] = {}
        if not self.readonly and any(item.marks_seen for item in items):
            unseen = [uid for _, uid in targets
                      if uid in entries and "\\Seen" not in entries[uid].flags]
            marked = self.store.store_flags(self.address, self.folder, unseen, {"\\Seen"}, "+")
        for seq, uid in targets:
            entry = entries.get(uid)
            raw = self.store.raw(self.address, self.folder, uid) if entry and needs_raw else b""
            if entry is None or raw is None:
                continue  # expunged by another session; the client hears of it later
            current = self.flags_of(uid, marked.get(uid, entry.flags))
            parts = []
            for item in items:
                if item.name == "UID":
                    parts.append(b"UID %d" % uid)
                elif item.name == "FLAGS":
                    parts.append(b"FLAGS " + format_flags(current))
                elif item.name == "INTERNALDATE":
                    parts.append(b"INTERNALDATE " + format_internaldate(entry.internal_date))
                elif item.name == "RFC822.SIZE":
                    parts.append(b"RFC822.SIZE %d" % entry.size)
                else:
                    label, content = item.body(raw)
                    parts.append(label + b" {%d}\r\n" % len(content) + content)
            if uid in marked and not any(item.name == "FLAGS" for item in items):
                parts.append(b"FLAGS " + format_flags(current))
            self.send(b"* %d FETCH (" % seq + b" ".join(parts) + b")")
        return "FETCH completed"

    async def cmd_store(self, args, is_uid) -> str:
        self.writable()
        match = re.fullmatch(r"([+-]?)FLAGS(\.SILENT)?", astring(args[1]).upper())
        if not match:
            raise BadCommand("expected FLAGS, +FLAGS or -FLAGS")
        given = args[2] if len(args) == 3 and isinstance(args[2], list) else args[2:]
        wanted = {normalize_flag(astring(f)) for f in given if astring(f).lower() != "\\recent"}
        targets = self.resolve(astring(args[0]), is_uid)
        changed = self.store.store_flags(self.address, self.folder, [uid for _, uid in targets],
                                         wanted, match[1])
        if not match[2]:
            for seq, uid in targets:
                if uid in changed:
                    prefix = b"UID %d " % uid if is_uid else b""
                    flags = format_flags(self.flags_of(uid, changed[uid]))
                    self.send(b"* %d FETCH (" % seq + prefix + b"FLAGS " + flags + b")")
        return "STORE completed"

    async def cmd_copy(self, args, is_uid, move: bool = False) -> str:
        if move:
            self.writable()
        targets = self.resolve(astring(args[0]), is_uid)
        target = normalize_folder(astring(args[1]))
        try:
            uidvalidity, pairs = self.store.copy(self.address, self.folder,
                                                 [uid for _, uid in targets], target, move=move)
        except NoSuchFolder:
            raise Refused("[TRYCREATE] no such folder") from None
        code = ""
        if pairs:
            old, new = (",".join(str(uid) for uid in column) for column in zip(*pairs))
            code = f"[COPYUID {uidvalidity} {old} {new}] "
        if not move:
            return code + "COPY completed"
        if code:
            self.send(f"* OK {code}moved".encode())
        self.report_expunged({old for old, _ in pairs})
        return "MOVE completed"

    async def cmd_move(self, args, is_uid) -> str:
        return await self.cmd_copy(args, is_uid, move=True)


_USES_MESSAGES = {"FETCH", "STORE", "SEARCH", "COPY", "MOVE", "EXPUNGE"}
_ANY = ("nonauth", "auth", "selected")
_AUTH = ("auth", "selected")
_SELECTED = ("selected",)
COMMANDS: dict[str, tuple[Callable, tuple[str, ...]]] = {
    "CAPABILITY": (Session.cmd_capability, _ANY),
    "NOOP": (Session.cmd_noop, _ANY),
    "LOGOUT": (Session.cmd_logout, _ANY),
    "LOGIN": (Session.cmd_login, ("nonauth",)),
    "SELECT": (Session.cmd_select, _AUTH),
    "EXAMINE": (Session.cmd_examine, _AUTH),
    "CREATE": (Session.cmd_create, _AUTH),
    "DELETE": (Session.cmd_delete, _AUTH),
    "RENAME": (Session.cmd_rename, _AUTH),
    "SUBSCRIBE": (Session.cmd_subscribe, _AUTH),
    "UNSUBSCRIBE": (Session.cmd_subscribe, _AUTH),
    "NAMESPACE": (Session.cmd_namespace, _AUTH),
    "LIST": (Session.cmd_list, _AUTH),
    "LSUB": (Session.cmd_lsub, _AUTH),
    "STATUS": (Session.cmd_status, _AUTH),
    "APPEND": (Session.cmd_append, _AUTH),
    "IDLE": (Session.cmd_idle, _AUTH),
    "CHECK": (Session.cmd_check, _SELECTED),
    "CLOSE": (Session.cmd_close, _SELECTED),
    "UNSELECT": (Session.cmd_unselect, _SELECTED),
    "EXPUNGE": (Session.cmd_expunge, _SELECTED),
    "SEARCH": (Session.cmd_search, _SELECTED),
    "FETCH": (Session.cmd_fetch, _SELECTED),
    "STORE": (Session.cmd_store, _SELECTED),
    "COPY": (Session.cmd_copy, _SELECTED),
    "MOVE": (Session.cmd_move, _SELECTED),
    "UID EXPUNGE": (Session.cmd_expunge, _SELECTED),
    "UID SEARCH": (Session.cmd_search, _SELECTED),
    "UID FETCH": (Session.cmd_fetch, _SELECTED),
    "UID STORE": (Session.cmd_store, _SELECTED),
    "UID COPY": (Session.cmd_copy, _SELECTED),
    "UID MOVE": (Session.cmd_move, _SELECTED),
}


class IMAPServer:
    """The IMAP server on its own thread and event loop; `port` is known once `start()` returns."""

    def __init__(self, store: MailStore, host: str = "127.0.0.1", port: int = 0,
                 password: str = "sandbox", max_literal: int = DEFAULT_MAX_LITERAL) -> None:
        self.store, self.host, self.port = store, host, port
        self.password, self.max_literal = password, max_literal
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._sessions: set[asyncio.Task] = set()
        self._error: BaseException | None = None

    def start(self) -> None:
        """Bind the port and serve on a background thread."""
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="cld-sandbox-imap",
                                        daemon=True)
        self._thread.start()
        ready.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error

    def stop(self) -> None:
        """Drop every connection and stop serving."""
        if self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._thread = None

    def _run(self, ready: threading.Event) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        try:
            server = loop.run_until_complete(
                asyncio.start_server(self._serve, self.host, self.port, limit=MAX_LINE))
        except BaseException as exc:  # noqa: BLE001 - handed to start() to raise
            self._error = exc
            ready.set()
            loop.close()
            return
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        try:
            loop.run_forever()
        finally:
            server.close()
            for task in self._sessions:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*self._sessions, return_exceptions=True))
            loop.run_until_complete(server.wait_closed())
            loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._sessions.add(task)
        try:
            await Session(self, reader, writer).run()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # stop() cancels sessions; ending normally keeps Python 3.11's stream callback from
            # logging the cancellation as an error.
            pass
        except Exception:  # noqa: BLE001 - one broken session must not stop the server
            log.exception("IMAP session failed")
        finally:
            self._sessions.discard(task)
            writer.close()
