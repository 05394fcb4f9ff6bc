"""Inbound mail as a table of small named stages; each records its decision on the stored message."""

from __future__ import annotations

import functools
import hashlib
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from typing import ClassVar

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from workflow import audit, clock, tokens
from workflow.db import dialect_insert
from workflow.mail import extract, screen as screening, tokens_found, trim
from workflow.models import (Employee, InboundMessage, InboundStatus, OutboundMessage, ReplyToken, TokenPurpose,
                             Unit)
from workflow.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """How a message ended: its status and a short kind ('entry', 'auto_reply', 'bad_form', ...)."""

    status: InboundStatus
    kind: str
    note: str = ""


@dataclass(slots=True)
class ClaimedMessage:
    """A stored message as its claim returned it: what the stages read, and what they decide.

    Plain values, not an ORM object: loading the claimed row into the session and flushing its changes at
    commit cost more Python than the two statements themselves. `process_stored` writes the decision back.
    """

    __tablename__: ClassVar[str] = InboundMessage.__tablename__

    id: int
    raw: bytes
    message_id: str | None
    from_address: str
    subject: str
    received_at: datetime
    duplicate_of: int | None
    trail: list
    status: InboundStatus = InboundStatus.STORED
    kind: str = ""
    token_id: int | None = None
    entry_id: int | None = None
    processed_at: datetime | None = None


@dataclass
class Context:
    """What the stages learn about one stored message as they run."""

    session: Session
    settings: Settings
    row: ClaimedMessage | InboundMessage
    msg: EmailMessage | None = None
    sender: str = ""
    token: ReplyToken | None = None
    person: Employee | None = None
    unit: Unit | None = None
    text: str = ""
    auth_verdict: str = ""
    trail: list[dict] = field(default_factory=list)

    def note(self, stage: str, decision: str, **detail) -> None:
        self.trail.append({"stage": stage, "decision": decision, **detail})


Stage = Callable[[Context], Outcome | None]


def message_key(raw: bytes, message_id: str | None) -> tuple[str, str]:
    """(dedupe key, sha256): the Message-ID when there is one, else the hash of the bytes."""
    digest = hashlib.sha256(raw).hexdigest()
    return (f"mid:{message_id.strip()}" if message_id and message_id.strip() else f"sha256:{digest}"), digest


def store_raw(session: Session, raw: bytes, *, mailbox: str | None = None, uidvalidity: int | None = None,
              uid: int | None = None) -> InboundMessage:
    """Store one raw message before anything else happens to it; the same IMAP UID is stored once."""
    if uid is not None:
        existing = session.scalar(select(InboundMessage).where(InboundMessage.mailbox == mailbox,
                                                               InboundMessage.uidvalidity == uidvalidity,
                                                               InboundMessage.uid == uid))
        if existing is not None:
            return existing
    values = stored_values(raw, mailbox=mailbox, uidvalidity=uidvalidity, uid=uid)
    key = values.pop("key")
    first = session.scalar(select(InboundMessage.id).where(InboundMessage.dedupe_key == key))
    row = InboundMessage(dedupe_key=None if first else key, duplicate_of=first, **values)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return _store_after_race(session, row, key)
    return row


def stored_values(raw: bytes, *, mailbox: str | None, uidvalidity: int | None, uid: int | None) -> dict:
    """The columns of a stored message, read from its headers only (the body is parsed once, by the stages)."""
    msg = extract.parse_headers(raw)
    message_id = _header(msg, "Message-ID")[:900] or None
    key, digest = message_key(raw, message_id)
    return dict(key=key, message_id=message_id, sha256=digest, raw=raw, size=len(raw), mailbox=mailbox,
                uidvalidity=uidvalidity, uid=uid, from_address=_sender(msg)[:320],
                subject=_header(msg, "Subject")[:900], received_at=clock.now())


def store_fetched(session: Session, fetched: list[tuple[int, bytes]], *, mailbox: str, uidvalidity: int) -> int:
    """Store a batch of fetched (uid, raw) messages with a few statements; the caller commits. Returns how many.

    Same rules as `store_raw`, in bulk: a UID already stored is skipped, the first copy of a Message-ID
    holds the dedupe key and later copies (in the database or earlier in the batch) point at it. Rows that
    a racing writer took in the meantime are left to `store_raw`, one by one.
    """
    uids = [uid for uid, _raw in fetched]
    known = set(session.scalars(select(InboundMessage.uid).where(
        InboundMessage.mailbox == mailbox, InboundMessage.uidvalidity == uidvalidity, InboundMessage.uid.in_(uids))))
    rows = [stored_values(raw, mailbox=mailbox, uidvalidity=uidvalidity, uid=uid)
            for uid, raw in fetched if uid not in known]
    if not rows:
        return 0
    firsts = dict(session.execute(select(InboundMessage.dedupe_key, InboundMessage.id).where(
        InboundMessage.dedupe_key.in_({row["key"] for row in rows}))).all())
    unique, copies, seen = [], [], set()
    for row in rows:
        key = row.pop("key")
        if key in firsts or key in seen:
            copies.append((key, row))
        else:
            seen.add(key)
            unique.append({**row, "dedupe_key": key, "duplicate_of": None})
    stored = 0
    if unique:
        connection = session.connection()
        inserted = connection.execute(_store_statement(connection.dialect.name), unique).all()
        firsts.update(dict(inserted))
        stored += len(inserted)
        if len(inserted) < len(unique):
            done = {key for key, _id in inserted}
            for row in unique:
                if row["dedupe_key"] not in done:
                    store_raw(session, row["raw"], mailbox=mailbox, uidvalidity=uidvalidity, uid=row["uid"])
                    stored += 1
    for key, row in copies:
        if key in firsts:
            session.add(InboundMessage(dedupe_key=None, duplicate_of=firsts[key], **row))
        else:  # its first copy was taken by a racing writer: the careful path finds it
            store_raw(session, row["raw"], mailbox=mailbox, uidvalidity=uidvalidity, uid=row["uid"])
        stored += 1
    session.flush()
    return stored


@functools.lru_cache(maxsize=4)
def _store_statement(dialect: str):
    # Built once per dialect, the rows given as parameters: a `.values(batch)` was compiled anew per batch.
    table = InboundMessage.__table__
    return dialect_insert(dialect, table).on_conflict_do_nothing().returning(table.c.dedupe_key, table.c.id)


def _store_after_race(session: Session, row: InboundMessage, key: str) -> InboundMessage:
    """A racing poller stored the same UID, or the first copy of this Message-ID, a moment ago."""
    if row.uid is not None:
        same_uid = session.scalar(select(InboundMessage).where(InboundMessage.mailbox == row.mailbox,
                                                               InboundMessage.uidvalidity == row.uidvalidity,
                                                               InboundMessage.uid == row.uid))
        if same_uid is not None:
            return same_uid
    copy = InboundMessage(**{c: getattr(row, c) for c in (
        "message_id", "sha256", "raw", "size", "mailbox", "uidvalidity", "uid", "from_address", "subject",
        "received_at")}, dedupe_key=None,
        duplicate_of=session.scalar(select(InboundMessage.id).where(InboundMessage.dedupe_key == key)))
    session.add(copy)
    session.flush()
    return copy


def _header(msg, name: str) -> str:
    try:
        # PostgreSQL text cannot hold NUL: one NUL in a Subject made the row unstorable, and the inbox job
        # then failed on that message at every poll, holding up everything behind it.
        return extract.header_text(msg, name).replace("\x00", "").strip()
    except Exception:  # a broken header must not stop the message from being stored
        return ""


def _sender(msg) -> str:
    try:
        written = extract.address_header_texts(msg, "From")
        return parseaddr(written[0].replace("\x00", ""))[1].lower() if written else ""
    except Exception:
        return ""


def stage_parse(ctx: Context) -> Outcome | None:
    ctx.msg = extract.parse_bytes(ctx.row.raw)
    ctx.sender = ctx.row.from_address
    if len(ctx.row.raw) > ctx.settings.max_message_bytes:
        ctx.note("parse", "too large", size=len(ctx.row.raw))
        from workflow import diary

        return diary.answer_too_large(ctx)
    ctx.note("parse", "ok")
    return None


def stage_dedupe(ctx: Context) -> Outcome | None:
    if ctx.row.duplicate_of is not None:
        ctx.note("dedupe", "duplicate", of=ctx.row.duplicate_of)
        return Outcome(InboundStatus.IGNORED, "duplicate", f"same message as #{ctx.row.duplicate_of}")
    ctx.note("dedupe", "first copy")
    return None


def own_addresses(settings: Settings) -> list[str]:
    return [settings.reply_address]


def stage_screen(ctx: Context) -> Outcome | None:
    verdict = screening.classify_automatic(ctx.msg, own_addresses(ctx.settings))
    if verdict is None:
        ctx.note("screen", "written by a person")
        return None
    ctx.note("screen", verdict.kind, reason=verdict.reason)
    if verdict.kind == "bounce":
        _record_bounces(ctx, verdict.bounced_recipients)
    return Outcome(InboundStatus.IGNORED, verdict.kind, verdict.reason)


def _record_bounces(ctx: Context, recipients: list[str]) -> None:
    from workflow.office import employee_by_address

    for address in recipients:
        person = employee_by_address(ctx.session, address)
        if person is not None:
            person.bounced_at = clock.now()
            audit.record(ctx.session, actor="inbound", subject=person, event="employee.bounced",
                         inbound_id=ctx.row.id)


def stage_route(ctx: Context) -> Outcome | None:
    settings, msg = ctx.settings, ctx.msg
    found = tokens.find(ctx.session, tokens_found.token_from_addresses(msg, settings.reply_local_part))
    how = "reply address"
    if found is None:
        for message_id in tokens_found.message_ids_referenced(msg):
            token_id = ctx.session.scalar(select(OutboundMessage.token_id).where(
                OutboundMessage.message_id == f"<{message_id}>", OutboundMessage.token_id.is_not(None)))
            if token_id is not None:
                found, how = ctx.session.get(ReplyToken, token_id), "In-Reply-To/References"
                break
    if found is None:
        found, how = tokens.find_by_short_code(ctx.session, tokens_found.short_code_from_subject(ctx.row.subject)), \
            "subject code"
    if found is None:
        body = extract.reply_text(msg, limit=ctx.settings.max_text_chars)
        found, how = tokens.find(ctx.session, tokens_found.token_from_body(body)), "body footer"
    if found is None:
        ctx.note("route", "no token")
        from workflow import diary

        return diary.answer_unrouted(ctx)
    ctx.token = found
    # The token itself is a secret: the trail names it by id only.
    ctx.note("route", found.purpose.value, token_id=found.id, via=how)
    return None


def stage_authenticate(ctx: Context) -> Outcome | None:
    token, sender = ctx.token, ctx.sender
    allowed = _allowed_senders(ctx)
    if sender not in allowed:
        ctx.note("authenticate", "sender is not the token's owner")
        from workflow import diary

        return diary.refuse_foreign_sender(ctx)
    verdict = _dmarc_verdict(ctx)
    ctx.auth_verdict = f"from={sender}; {verdict or 'no trusted Authentication-Results'}"
    if verdict and ("dmarc=fail" in verdict or "dkim=fail" in verdict):
        ctx.note("authenticate", "authentication failed", verdict=verdict)
        return Outcome(InboundStatus.REVIEW, "auth_failed", verdict)
    unusable = tokens.unusable_reason(token)
    if unusable is not None:
        ctx.note("authenticate", f"token {unusable}")
        from workflow import diary

        return diary.answer_unusable_token(ctx, unusable)
    ctx.note("authenticate", "ok", verdict=ctx.auth_verdict)
    return None


def _allowed_senders(ctx: Context) -> set[str]:
    token = ctx.token
    if token.owner is not None:
        ctx.person = token.owner
        return token.owner.addresses() if token.owner.active else set()
    if token.owner_unit is not None:
        ctx.unit = token.owner_unit
        allowed = {token.owner_unit.email.lower()} if token.owner_unit.email else set()
        if token.owner_unit.head is not None:
            allowed |= token.owner_unit.head.addresses()
        from workflow.office import employee_by_address

        ctx.person = employee_by_address(ctx.session, ctx.sender)
        return allowed
    return set()


def _dmarc_verdict(ctx: Context) -> str:
    trusted = ctx.settings.trusted_authserv_id
    if not trusted:
        return ""
    for value in ctx.msg.get_all("Authentication-Results", []) or []:
        text = " ".join(str(value).split()).lower()
        if text.split(";", 1)[0].strip() == trusted.lower():
            return "; ".join(part.strip() for part in text.split(";")[1:] if part.strip())
    return ""


def stage_extract(ctx: Context) -> Outcome | None:
    full = extract.reply_text(ctx.msg, limit=ctx.settings.max_text_chars)
    ctx.text = trim.trim_reply(full)
    ctx.note("extract", "text", chars=len(ctx.text))
    return None


def stage_apply(ctx: Context) -> Outcome | None:
    from workflow import diary, followups, signoff

    handler = {TokenPurpose.PROMPT: diary.apply_reply, TokenPurpose.SIGNOFF: signoff.apply_decision,
               TokenPurpose.FOLLOWUP: followups.apply_status}[ctx.token.purpose]
    outcome = handler(ctx)
    ctx.note("apply", outcome.kind, status=outcome.status.value)
    return outcome


STAGES: list[tuple[str, Stage]] = [
    ("parse", stage_parse),
    ("dedupe", stage_dedupe),
    ("screen", stage_screen),
    ("route", stage_route),
    ("authenticate", stage_authenticate),
    ("extract", stage_extract),
    ("apply", stage_apply),
]


def process(session: Session, settings: Settings, row: ClaimedMessage) -> Outcome:
    """Run the stages over one stored message; the caller commits."""
    ctx = Context(session, settings, row)
    outcome = Outcome(InboundStatus.FAILED, "no stage decided")
    for _name, stage in STAGES:
        result = stage(ctx)
        if result is not None:
            outcome = result
            break
    # Written here, with the outcome, rather than by the stage: an early assignment is flushed by the next
    # query as an UPDATE of its own.
    if ctx.token is not None:
        row.token_id = ctx.token.id
    row.status = outcome.status
    row.kind = outcome.kind
    row.trail = [*(row.trail or []), *ctx.trail]
    row.processed_at = clock.now()
    audit.record(session, actor="inbound", subject=row, event=f"inbound.{outcome.kind}", to_state=outcome.status.value)
    return outcome


_TABLE = InboundMessage.__table__
# Built once (its cache key is not recomputed for every message), and run on the connection: the claim
# returns the columns the stages read, and the decision goes back in one UPDATE.
_CLAIM = (update(_TABLE).where(_TABLE.c.id == bindparam("row_id"), _TABLE.c.status == InboundStatus.STORED)
          .values(attempts=_TABLE.c.attempts + 1)
          .returning(*(_TABLE.c[name] for name in ("id", "raw", "message_id", "from_address", "subject",
                                                    "received_at", "duplicate_of", "trail"))))
_DECIDED = (update(_TABLE).where(_TABLE.c.id == bindparam("row_id"))
            .values(status=bindparam("new_status", type_=_TABLE.c.status.type), kind=bindparam("new_kind"),
                    token_id=bindparam("new_token_id"), entry_id=bindparam("new_entry_id"),
                    trail=bindparam("new_trail", type_=_TABLE.c.trail.type),
                    processed_at=bindparam("new_processed_at", type_=_TABLE.c.processed_at.type)))


def _write_decision(session: Session, row: ClaimedMessage) -> None:
    session.connection().execute(_DECIDED, {
        "row_id": row.id, "new_status": row.status, "new_kind": row.kind, "new_token_id": row.token_id,
        "new_entry_id": row.entry_id, "new_trail": row.trail, "new_processed_at": row.processed_at})


def process_stored(factory: sessionmaker, settings: Settings, row_id: int) -> InboundStatus:
    """Process one stored message in its own transaction; a crash of ours is recorded, never lost."""
    with factory() as session:
        # The claim: only one worker's UPDATE matches a stored row; the others wait on its lock, then see
        # it processed and leave it alone. A crash rolls the claim back with everything else.
        # RETURNING reads the claimed row in the same round trip.
        claimed = session.connection().execute(_CLAIM, {"row_id": row_id}).first()
        if claimed is None:
            session.rollback()
            return session.scalar(select(InboundMessage.status).where(InboundMessage.id == row_id)) \
                or InboundStatus.FAILED
        row = ClaimedMessage(**{**claimed._mapping, "trail": claimed.trail or []})
        try:
            outcome = process(session, settings, row)
            _write_decision(session, row)
            session.commit()
            log.info("inbound %s: %s (%s)", row_id, outcome.status.value, outcome.kind)
            return outcome.status
        except Exception as exc:
            session.rollback()
            if isinstance(exc, DBAPIError) and exc.connection_invalidated:
                # The database went away (restart, failover, pg_terminate_backend), not the message: the claim
                # was rolled back with the rest, so it stays STORED and the next run takes it up. Marking it
                # FAILED would have parked a good message until a person ran `cld inbox retry`.
                log.warning("inbound %s: database connection lost (%s); left stored for the next run", row_id,
                            type(exc.orig).__name__)
                return InboundStatus.STORED
            error = traceback.format_exc()
            log.exception("inbound %s: system error; kept in CLD/Failed for `cld inbox retry %s`", row_id, row_id)
    with factory() as session:
        row = session.get(InboundMessage, row_id)
        row.status = InboundStatus.FAILED
        row.kind = "system_error"
        row.error = error[-20000:].replace("\x00", "")
        row.processed_at = clock.now()
        session.commit()
    return InboundStatus.FAILED


def retry(factory: sessionmaker, settings: Settings, row_id: int) -> InboundStatus:
    """Run a failed message through the stages again (`cld inbox retry ID`)."""
    with factory() as session:
        row = session.get(InboundMessage, row_id)
        if row is None:
            raise LookupError(f"no inbound message {row_id}")
        if row.status not in (InboundStatus.FAILED, InboundStatus.REVIEW):
            raise ValueError(f"inbound message {row_id} is {row.status.value}, not failed or in review")
        row.status = InboundStatus.STORED
        row.trail = [*(row.trail or []), {"stage": "retry", "decision": "requested", "at": clock.now().isoformat()}]
        session.commit()
    return process_stored(factory, settings, row_id)


def recipients_of(msg) -> list[str]:
    """Every address the message was sent to."""
    return [a.lower() for _, a in getaddresses(msg.get_all("To", []) + msg.get_all("Cc", [])) if a]
