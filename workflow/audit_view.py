"""`cld audit ENTRY_ID`: every event of an entry and every message about it, in time order.

A disputed approval is traced from the signature to the exact inbound email (its Message-ID, sender,
authentication verdict and stage trail), and from there to every email we sent about the entry.
Token texts are secrets and are never shown; tokens appear by id only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import typer
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from workflow.models import (
    AuditEvent,
    Entry,
    FollowUp,
    InboundMessage,
    OutboundMessage,
    ReplyToken,
    Signature,
    SignoffRequest,
)


@dataclass
class Line:
    """One thing that happened, for the trail."""

    at: datetime
    source: str  # audit | inbound | outbound | signature
    text: str


def entry_trail(session: Session, entry_id: int) -> list[Line]:
    """Everything recorded about an entry: its audit rows, its prompt's, its sign-offs', signatures', follow-ups',
    and the inbound and outbound messages that touched it; oldest first."""
    entry = session.get(Entry, entry_id)
    if entry is None:
        raise LookupError(f"no entry {entry_id}")
    requests = session.scalars(select(SignoffRequest).where(SignoffRequest.entry_id == entry_id)).all()
    signatures = session.scalars(select(Signature).where(Signature.entry_id == entry_id)).all()
    issues = session.scalars(select(FollowUp).where(FollowUp.entry_id == entry_id)).all()
    issue_ids = [i.id for i in issues] or [0]
    token_ids = set(session.scalars(select(ReplyToken.id).where(or_(
        ReplyToken.entry_id == entry_id, ReplyToken.prompt_id == entry.prompt_id,
        ReplyToken.followup_id.in_(issue_ids)))))
    inbound_ids = {i for i in [entry.source_message_id, *(r.decision_message_id for r in requests)] if i}
    inbound_ids |= set(session.scalars(select(InboundMessage.id).where(or_(
        InboundMessage.entry_id == entry_id, InboundMessage.token_id.in_(token_ids or {0})))))
    subjects = {("entries", entry_id), ("prompts", entry.prompt_id)}
    subjects |= {("signoff_requests", r.id) for r in requests} | {("signatures", s.id) for s in signatures}
    subjects |= {("followups", i.id) for i in issues}
    events = [e for e in session.scalars(select(AuditEvent).where(AuditEvent.subject_type.in_(
        {t for t, _ in subjects} | {"inbound_messages"})).order_by(AuditEvent.id))
        if (e.subject_type, e.subject_id) in subjects
        or (e.subject_type == "inbound_messages" and e.subject_id in inbound_ids)]
    inbound_ids |= {e.detail.get("inbound_id") for e in events if isinstance(e.detail.get("inbound_id"), int)}
    inbound = session.scalars(select(InboundMessage).where(InboundMessage.id.in_(inbound_ids or {0}))).all()
    # The outbox's dedupe keys name the cause of each email (see the callers of replies.notify/answer).
    prefixes = [f"{kind}:{entry_id}:" for kind in ("receipt", "signoff", "signed", "revision", "mentor")]
    prefixes += [f"{kind}:{r.id}:" for r in requests for kind in ("signoff-escalation", "signoff-renewed")]
    prefixes += [f"followup:{i}:" for i in issue_ids if i]
    prefixes += [f"foreign:{m.id}" for m in inbound]
    outbound = session.scalars(select(OutboundMessage).where(or_(
        OutboundMessage.token_id.in_(token_ids or {0}),
        OutboundMessage.in_reply_to_inbound_id.in_([i.id for i in inbound] or [0]),
        *(OutboundMessage.dedupe_key.startswith(p) for p in prefixes)))).all()

    lines = [Line(e.at, "audit", _event(e)) for e in events]
    lines += [Line(m.received_at, "inbound", _inbound(m)) for m in inbound]
    lines += [Line(m.sent_at or m.created_at, "outbound", _outbound(m)) for m in outbound]
    lines += [Line(s.signed_at, "signature", _signature(s, entry)) for s in signatures]
    return sorted(lines, key=lambda line: (line.at, ("inbound", "audit", "signature", "outbound").index(line.source)))


def _event(e: AuditEvent) -> str:
    states = f" {e.from_state or ''}->{e.to_state}" if e.to_state else ""
    detail = ", ".join(f"{k}={v}" for k, v in sorted(e.detail.items())) if e.detail else ""
    return f"{e.event} {e.subject_type}#{e.subject_id}{states} by {e.actor}" + (f" ({detail})" if detail else "")


def _inbound(m: InboundMessage) -> str:
    decided = next((t for t in reversed(m.trail or []) if t.get("stage") == "authenticate"), {})
    verdict = decided.get("verdict") or decided.get("decision") or "-"
    return (f"inbound #{m.id} {m.status.value}/{m.kind} from {m.from_address or '?'} Message-ID {m.message_id or '-'} "
            f"subject {' '.join((m.subject or '').split())[:80]!r} token#{m.token_id or '-'} "
            f"sha256 {m.sha256[:16]} auth: {verdict}")


def _outbound(m: OutboundMessage) -> str:
    return (f"outbound #{m.id} {m.kind} {m.state.value} to {', '.join(m.recipients)} Message-ID {m.message_id} "
            f"attempts {m.attempts}" + (f" in reply to inbound #{m.in_reply_to_inbound_id}"
                                         if m.in_reply_to_inbound_id else ""))


def _signature(s: Signature, entry: Entry) -> str:
    from workflow.signoff import content_hash

    intact = entry.version == s.entry_version and content_hash(entry) == s.content_hash
    return (f"signature #{s.id} of v{s.entry_version} by {s.signer.name} <{s.signer.email}> from Message-ID "
            f"{s.message_id}; {s.auth_verdict}; content {s.content_hash[:16]} "
            f"({'matches the entry now' if intact else 'entry changed since'}); chain {s.chain_hash[:16]} "
            f"after {s.previous_hash[:16]}")


def render(session: Session, entry_id: int, tz) -> str:
    """The trail as text, one line per event, in the office time zone."""
    entry = session.get(Entry, entry_id)
    if entry is None:
        raise LookupError(f"no entry {entry_id}")
    head = (f"entry #{entry.id} v{entry.version} {entry.state.value}: {entry.employee.name} <{entry.employee.email}>,"
            f" period {entry.period}, session {entry.session_date.isoformat()}, topic "
            f"{' '.join(entry.topic.split())[:80]!r}")
    body = [f"{line.at.astimezone(tz):%Y-%m-%d %H:%M:%S %z}  {line.source:<9} {line.text}"
            for line in entry_trail(session, entry_id)]
    return "\n".join([head, *body])


def audit_command(entry_id: int = typer.Argument(..., help="The entry's id (see `cld diary` or a report).")) -> None:
    """Show every event of an entry and the emails behind them, to trace a disputed approval."""
    from workflow.db import engine_for, session_factory
    from workflow.settings import get_settings

    settings = get_settings()
    with session_factory(engine_for(settings))() as session:
        try:
            typer.echo(render(session, entry_id, settings.tz))
        except LookupError as exc:
            typer.echo(f"cld: {exc}", err=True)
            raise typer.Exit(1)
