"""The data model: SQLAlchemy 2.0 typed models, portable between SQLite and PostgreSQL."""

from __future__ import annotations

import enum
from datetime import date, datetime, time, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    Time,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from workflow import clock

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out, also on SQLite which forgets the offset."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


def _enum(kind: type[enum.Enum]) -> Enum:
    # Stored as plain strings (no native PG enum) so adding a state is a code change, not a migration.
    return Enum(kind, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])


class Language(str, enum.Enum):
    ID = "id"
    EN = "en"


class PromptState(str, enum.Enum):
    SENT = "sent"
    ANSWERED = "answered"
    MISSED = "missed"


class EntryState(str, enum.Enum):
    AWAITING_SIGNOFF = "awaiting_signoff"
    REVISION_REQUESTED = "revision_requested"
    SIGNED = "signed"


class SignoffState(str, enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"
    REVISION = "revision"
    SUPERSEDED = "superseded"


class FollowUpState(str, enum.Enum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"


class TokenPurpose(str, enum.Enum):
    PROMPT = "prompt"
    SIGNOFF = "signoff"
    FOLLOWUP = "followup"


class InboundStatus(str, enum.Enum):
    STORED = "stored"
    PROCESSED = "processed"
    IGNORED = "ignored"
    ANSWERED = "answered"  # a user error, answered with what to fix
    REFUSED = "refused"  # authentication failed; never applied
    REVIEW = "review"  # needs a person (e.g. DMARC fail)
    FAILED = "failed"  # a system error; kept for `cld inbox retry`


class OutboundState(str, enum.Enum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class Unit(Base):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    head_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id", use_alter=True))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    head: Mapped[Employee | None] = relationship(foreign_keys=[head_id], post_update=True)


class Employee(Base):
    __tablename__ = "employees"

    id: Mapped[int] = mapped_column(primary_key=True)
    nip: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), index=True)
    aliases: Mapped[list[Any]] = mapped_column(default=list)
    position: Mapped[str] = mapped_column(String(200), default="")
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    supervisor_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    language: Mapped[Language] = mapped_column(_enum(Language), default=Language.ID)
    is_head: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    bounced_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    unit: Mapped[Unit | None] = relationship(foreign_keys=[unit_id])
    supervisor: Mapped[Employee | None] = relationship(remote_side=[id])

    def addresses(self) -> set[str]:
        """Every address this person may write from."""
        return {self.email.lower(), *(a.lower() for a in self.aliases or [])}


class Prompt(Base):
    __tablename__ = "prompts"
    __table_args__ = (UniqueConstraint("period", "employee_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(7), index=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    state: Mapped[PromptState] = mapped_column(_enum(PromptState), default=PromptState.SENT)
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    last_reminded_on: Mapped[date | None] = mapped_column(Date)
    needs: Mapped[str | None] = mapped_column(Text)
    needs_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    employee: Mapped[Employee] = relationship()


class Entry(Base):
    __tablename__ = "entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id"), index=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), index=True)
    period: Mapped[str] = mapped_column(String(7), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[EntryState] = mapped_column(_enum(EntryState), default=EntryState.AWAITING_SIGNOFF)
    session_date: Mapped[date] = mapped_column(Date)
    start_time: Mapped[time | None] = mapped_column(Time)
    end_time: Mapped[time | None] = mapped_column(Time)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    over_hour: Mapped[bool] = mapped_column(Boolean, default=False)
    mentor_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    mentor_name: Mapped[str] = mapped_column(String(200), default="")
    topic: Mapped[str] = mapped_column(Text)
    objectives: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    references: Mapped[str] = mapped_column(Text, default="")
    rating: Mapped[str] = mapped_column(String(20))
    next_steps: Mapped[str] = mapped_column(Text, default="")
    signer_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    review: Mapped[str] = mapped_column(Text, default="")
    followup_notes: Mapped[str] = mapped_column(Text, default="")
    reviewer_next_steps: Mapped[str] = mapped_column(Text, default="")
    source_message_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    employee: Mapped[Employee] = relationship(foreign_keys=[employee_id])
    mentor: Mapped[Employee | None] = relationship(foreign_keys=[mentor_id])
    signer: Mapped[Employee | None] = relationship(foreign_keys=[signer_id])
    prompt: Mapped[Prompt] = relationship()


class ReplyToken(Base):
    __tablename__ = "reply_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    short_code: Mapped[str] = mapped_column(String(16), unique=True)
    purpose: Mapped[TokenPurpose] = mapped_column(_enum(TokenPurpose))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    owner_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    prompt_id: Mapped[int | None] = mapped_column(ForeignKey("prompts.id"))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("entries.id"))
    entry_version: Mapped[int | None] = mapped_column(Integer)
    followup_id: Mapped[int | None] = mapped_column(ForeignKey("followups.id"))
    one_time: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    owner: Mapped[Employee | None] = relationship()
    owner_unit: Mapped[Unit | None] = relationship()
    prompt: Mapped[Prompt | None] = relationship()


class SignoffRequest(Base):
    __tablename__ = "signoff_requests"
    __table_args__ = (UniqueConstraint("entry_id", "entry_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id"))
    entry_version: Mapped[int] = mapped_column(Integer)
    signer_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    token_id: Mapped[int | None] = mapped_column(ForeignKey("reply_tokens.id"))
    state: Mapped[SignoffState] = mapped_column(_enum(SignoffState), default=SignoffState.PENDING)
    requested_on: Mapped[date] = mapped_column(Date)
    reminded_at: Mapped[datetime | None]
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    escalated_to_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    decision_message_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))
    # The review given with SETUJU or the reasons given with REVISI, as the signer wrote them.
    decision_note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    entry: Mapped[Entry] = relationship()
    token: Mapped[ReplyToken | None] = relationship(foreign_keys=[token_id])
    signer: Mapped[Employee] = relationship(foreign_keys=[signer_id])
    escalated_to: Mapped[Employee | None] = relationship(foreign_keys=[escalated_to_id])
    decided_by: Mapped[Employee | None] = relationship(foreign_keys=[decided_by_id])


class Signature(Base):
    __tablename__ = "signatures"
    __table_args__ = (UniqueConstraint("entry_id", "entry_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id"))
    entry_version: Mapped[int] = mapped_column(Integer)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), index=True)
    signer_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    signed_at: Mapped[datetime]
    message_id: Mapped[str] = mapped_column(String(998))
    auth_verdict: Mapped[str] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(64))
    previous_hash: Mapped[str] = mapped_column(String(64))
    chain_hash: Mapped[str] = mapped_column(String(64))

    entry: Mapped[Entry] = relationship()
    signer: Mapped[Employee] = relationship(foreign_keys=[signer_id])


class FollowUp(Base):
    __tablename__ = "followups"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("entries.id"), index=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), index=True)
    raised_by_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    source: Mapped[str] = mapped_column(String(16))  # entry | review
    text: Mapped[str] = mapped_column(Text)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    unit_as_written: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[FollowUpState] = mapped_column(_enum(FollowUpState), default=FollowUpState.OPEN)
    deadline: Mapped[date] = mapped_column(Date)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    resolution_note: Mapped[str] = mapped_column(Text, default="")
    resolved_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    unit: Mapped[Unit] = relationship()
    employee: Mapped[Employee] = relationship(foreign_keys=[employee_id])
    entry: Mapped[Entry | None] = relationship()


class InboundMessage(Base):
    __tablename__ = "inbound_messages"
    __table_args__ = (
        UniqueConstraint("mailbox", "uidvalidity", "uid"),
        Index("ix_inbound_messages_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Message-ID (or the bytes' hash when there is none) of the first copy; later copies keep NULL
    # and point at it, so a message delivered twice is stored twice and applied once.
    dedupe_key: Mapped[str | None] = mapped_column(String(998), unique=True)
    duplicate_of: Mapped[int | None] = mapped_column(Integer)
    message_id: Mapped[str | None] = mapped_column(String(998))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    mailbox: Mapped[str | None] = mapped_column(String(200))
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    uid: Mapped[int | None] = mapped_column(BigInteger)
    # Indexed for the per-sender answer limit (replies.answers_today).
    from_address: Mapped[str] = mapped_column(String(320), default="", index=True)
    subject: Mapped[str] = mapped_column(String(998), default="")
    status: Mapped[InboundStatus] = mapped_column(_enum(InboundStatus), default=InboundStatus.STORED)
    kind: Mapped[str] = mapped_column(String(32), default="")
    # Plain ids, not foreign keys: a stored message must never be refused by the database.
    token_id: Mapped[int | None] = mapped_column(Integer)
    entry_id: Mapped[int | None] = mapped_column(Integer)
    trail: Mapped[list[Any]] = mapped_column(default=list)
    error: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    folder_moved_to: Mapped[str | None] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(default=clock.now)
    processed_at: Mapped[datetime | None]


class OutboundMessage(Base):
    __tablename__ = "outbound_messages"
    __table_args__ = (Index("ix_outbound_messages_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(998), unique=True)
    # Natural key of the reason for sending, so one cause never queues two emails.
    dedupe_key: Mapped[str | None] = mapped_column(String(400), unique=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    recipients: Mapped[list[Any]] = mapped_column(default=list)
    subject: Mapped[str] = mapped_column(String(998))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    employee_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    token_id: Mapped[int | None] = mapped_column(ForeignKey("reply_tokens.id"))
    in_reply_to_inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"), index=True)
    state: Mapped[OutboundState] = mapped_column(_enum(OutboundState), default=OutboundState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=clock.now)
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class InboxCursor(Base):
    """How far the inbox job has read a folder; a new UIDVALIDITY starts it again."""

    __tablename__ = "inbox_cursors"

    mailbox: Mapped[str] = mapped_column(String(200), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)


class PeriodClose(Base):
    __tablename__ = "period_closes"

    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    closed_at: Mapped[datetime] = mapped_column(default=clock.now)


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=clock.now)
    actor: Mapped[str] = mapped_column(String(320))
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(60))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
