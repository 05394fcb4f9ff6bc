"""Sign-off by reply: the request to the signer, the SETUJU / REVISI decision, and the signature chain."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, time

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workflow import audit, clock, replies, tokens
from workflow.audit import TransitionError
from workflow.inbound import Context, Outcome
from workflow.mail.decisions import parse_decision
from workflow.mail.forms import RATINGS, format_date, render_entry_form
from workflow.models import (Employee, Entry, EntryState, FollowUp, InboundStatus, ReplyToken, Signature,
                             SignoffRequest, SignoffState, TokenPurpose)
from workflow.office import head_of_office
from workflow.prompts import mailto
from workflow.settings import Settings

ZERO_HASH = "0" * 64
CONTENT_FIELDS = ("period", "version", "session_date", "start_time", "end_time", "duration_minutes", "mentor_id",
                  "mentor_name", "topic", "objectives", "notes", "references", "rating", "next_steps", "review",
                  "followup_notes", "reviewer_next_steps")
ANSWER_LABELS = ("Reviu / Review:", "Catatan tindak lanjut / Follow-up notes:", "Isu tindak lanjut / Follow-up issues:",
                 "Rencana selanjutnya / Next steps:")


def request_signoff(session: Session, settings: Settings, entry: Entry) -> SignoffRequest:
    """Ask the signer to decide on this version of `entry`; earlier pending requests are superseded."""
    existing = _request_for(session, entry.id, entry.version)
    if existing is not None:
        return existing
    for old in session.scalars(select(SignoffRequest).where(SignoffRequest.entry_id == entry.id,
                                                            SignoffRequest.state == SignoffState.PENDING)).all():
        audit.transition(session, old, SignoffState.SUPERSEDED, allowed_from=[SignoffState.PENDING],
                         actor="signoff", event="signoff.superseded", by_version=entry.version)
    signer, informed = signer_for(session, settings, entry)
    entry.signer_id = signer.id
    # Token and request in one flush (the relationship orders the two INSERTs).
    token = tokens.new_token(TokenPurpose.SIGNOFF, one_time=True, owner_id=signer.id, entry_id=entry.id,
                             entry_version=entry.version, days=settings.token_days)
    request = SignoffRequest(entry_id=entry.id, entry_version=entry.version, signer_id=signer.id, token=token,
                             requested_on=_today(settings))
    try:
        with session.begin_nested():
            session.add(request)
    except IntegrityError:
        # The same version was requested a moment ago by another worker; its email is already queued.
        return _request_for(session, entry.id, entry.version)
    _announce_request(session, settings, entry, request.id, signer, informed, token)
    return request


def request_first_signoff(session: Session, settings: Settings, entry: Entry, issues: list[FollowUp]) -> int:
    """`request_signoff` for an entry created in this very transaction, with these issues; returns the request's id.

    No earlier request, no racing worker and no other issue can exist yet, so the look-ups guarding against
    them are skipped, and the token and request are two plain INSERTs: the unit of work for the two
    objects cost more than the statements.
    """
    signer, informed = signer_for(session, settings, entry)
    [token] = tokens.issue_many(session, TokenPurpose.SIGNOFF, [
        {"owner_id": signer.id, "entry_id": entry.id, "entry_version": entry.version}],
        days=settings.token_days, one_time=True)
    request_id = session.connection().execute(_INSERT_REQUEST, dict(
        entry_id=entry.id, entry_version=entry.version, signer_id=signer.id, token_id=token.id,
        state=SignoffState.PENDING, requested_on=_today(settings), escalation_level=0, decision_note="",
        created_at=clock.now())).scalar_one()
    _announce_request(session, settings, entry, request_id, signer, informed, token, issues=issues)
    return request_id


_INSERT_REQUEST = insert(SignoffRequest.__table__).returning(SignoffRequest.__table__.c.id)


def _announce_request(session: Session, settings: Settings, entry: Entry, request_id: int, signer: Employee,
                      informed: Employee | None, token, issues: list[FollowUp] | None = None) -> None:
    """The audit row and the emails of a new request: to the signer, and to a mentor who is only told."""
    audit.record_row(session, SignoffRequest.__tablename__, request_id, actor="signoff", event="signoff.requested",
                     to_state="pending", signer=signer.email, version=entry.version)
    view = entry_view(session, settings, entry, issues=issues)
    send_request(session, settings, entry, signer, token, dedupe=f"signoff:{entry.id}:{entry.version}", view=view)
    if informed is not None:
        replies.notify(session, settings, informed, "mentor_informed",
                       {**view, "person_name": informed.name, "signer_name": signer.name},
                       dedupe=f"mentor:{entry.id}:{entry.version}:{informed.id}")


def signer_for(session: Session, settings: Settings, entry: Entry) -> tuple[Employee, Employee | None]:
    """(who signs, who is only told): the direct supervisor signs unless `mentor_signs` hands it to the mentor."""
    employee = entry.employee
    supervisor = active_superior(session, employee)
    # The relationship, not mentor_id: a new entry's mentor is set as an object before its INSERT.
    mentor = entry.mentor if entry.mentor is not None and entry.mentor.id != employee.id else None
    if mentor is not None and not mentor.active:
        mentor = None
    if mentor is not None and (settings.mentor_signs or supervisor is None):
        return mentor, supervisor if supervisor is not None and supervisor.id != mentor.id else None
    if supervisor is None:
        raise LookupError(f"{employee.name} ({employee.nip}) has no active supervisor to sign the entry")
    return supervisor, mentor if mentor is not None and mentor.id != supervisor.id else None


def active_superior(session: Session, person: Employee) -> Employee | None:
    """The nearest active person above `person`; the head of office when the line ends without one."""
    seen, current = {person.id}, person.supervisor
    while current is not None and current.id not in seen:
        if current.active:
            return current
        seen.add(current.id)
        current = current.supervisor
    head = head_of_office(session)
    return head if head is not None and head.id != person.id else None


def _issue(session: Session, settings: Settings, owner: Employee, entry: Entry) -> ReplyToken:
    return tokens.issue(session, TokenPurpose.SIGNOFF, one_time=True, owner_id=owner.id, entry_id=entry.id,
                        entry_version=entry.version, days=settings.token_days)


def _request_for(session: Session, entry_id: int | None, version: int | None) -> SignoffRequest | None:
    return session.scalar(select(SignoffRequest).where(SignoffRequest.entry_id == entry_id,
                                                       SignoffRequest.entry_version == version))


def _today(settings: Settings) -> date:
    return clock.now().astimezone(settings.tz).date()


def send_request(session: Session, settings: Settings, entry: Entry, person: Employee, token: ReplyToken,
                 *, dedupe: str, kind: str = "signoff_request", view: dict | None = None, **extra) -> None:
    """Queue a request to decide on `entry` (or an escalated copy) to `person`, who answers through `token`."""
    context = {**(view or entry_view(session, settings, entry)), **answer_links(settings, token, entry),
               "person_name": person.name, "previous_reasons": previous_reasons(session, entry), **extra}
    replies.notify(session, settings, person, kind, context, dedupe=dedupe,
                   reply_to=settings.reply_address_for(token.token), token_id=token.id)


def answer_links(settings: Settings, token: ReplyToken, entry: Entry) -> dict:
    """The reply address, codes and one-click SETUJU / REVISI mailto: links for a decision token."""
    reply_to = settings.reply_address_for(token.token)
    subject = f"Re: [CLD-{token.short_code}] {entry.employee.name}"
    return {"short_code": token.short_code, "reply_code": token.token, "reply_address": reply_to,
            "approve_href": mailto(reply_to, subject, "SETUJU\n\n" + "\n".join(ANSWER_LABELS) + "\n"),
            "revise_href": mailto(reply_to, subject, "REVISI\n\nAlasan / Reasons: \n")}


def previous_reasons(session: Session, entry: Entry) -> str:
    """What the signer asked to change last time, shown beside a resubmitted entry."""
    if entry.version == 1:
        return ""  # a first version has never been sent back
    last = session.scalar(select(SignoffRequest).where(SignoffRequest.entry_id == entry.id,
                                                       SignoffRequest.state == SignoffState.REVISION)
                          .order_by(SignoffRequest.entry_version.desc()))
    return last.decision_note if last is not None else ""


def rating_text(rating: str | None) -> str:
    """'4 · Sangat bermanfaat / Very useful'."""
    return next((f"{n} · {id_text} / {en_text}" for key, n, id_text, en_text in RATINGS if key == rating), "-")


def _clock(value: time | None) -> str:
    return value.strftime("%H.%M") if value else ""


def entry_view(session: Session, settings: Settings, entry: Entry, issues: list[FollowUp] | None = None) -> dict:
    """Everything a reader needs to judge an entry, for the templates (`issues`: its issues, when known)."""
    employee = entry.employee
    span = "–".join(part for part in (_clock(entry.start_time), _clock(entry.end_time)) if part)
    if issues is None:
        issues = session.scalars(select(FollowUp).where(FollowUp.entry_id == entry.id, FollowUp.source == "entry")
                                 .order_by(FollowUp.id)).all()
    return {
        "employee_name": employee.name, "employee_nip": employee.nip, "employee_position": employee.position,
        "employee_unit": employee.unit.name if employee.unit else "-", "period": entry.period,
        "version": entry.version, "entry_id": entry.id,
        "session_date_id": format_date(entry.session_date, "id"),
        "session_date_en": format_date(entry.session_date, "en"),
        "time_span": span or "-", "duration_minutes": entry.duration_minutes, "over_hour": entry.over_hour,
        "mentor": entry.mentor.name if entry.mentor else (entry.mentor_name or "-"), "topic": entry.topic,
        "objectives": entry.objectives or "-", "notes": entry.notes or "-", "references": entry.references or "-",
        "rating": rating_text(entry.rating), "next_steps": entry.next_steps or "-",
        "issues": [{"text": i.text, "unit": i.unit.name} for i in issues],
    }


def apply_decision(ctx: Context) -> Outcome:
    """Apply a signer's SETUJU / REVISI to the entry version its token stands for."""
    session, token, person = ctx.session, ctx.token, ctx.person
    entry = session.get(Entry, token.entry_id)
    request = _request_for(session, token.entry_id, token.entry_version)
    ctx.row.entry_id = entry.id if entry else None
    if entry is None or request is None or request.state == SignoffState.SUPERSEDED \
            or token.entry_version != entry.version:
        return _refuse(ctx, entry, "old_version")
    if request.state != SignoffState.PENDING:
        return answer_already_decided(ctx)
    result = parse_decision(ctx.text)
    if result.decision is None or result.errors:
        _answer(ctx, "decision_unclear", {**entry_view(session, ctx.settings, entry),
                                          **answer_links(ctx.settings, token, entry),
                                          "errors": [{"id": e.message_id, "en": e.message_en}
                                                     for e in result.errors],
                                          "understood": result.decision or ""}, with_token=True)
        return Outcome(InboundStatus.ANSWERED, "decision_unclear", result.errors[0].field if result.errors else "")
    approve = result.decision == "approve"
    try:
        audit.transition(session, request, SignoffState.APPROVED if approve else SignoffState.REVISION,
                         allowed_from=[SignoffState.PENDING], actor=person.email,
                         event="signoff.approved" if approve else "signoff.revision", inbound_id=ctx.row.id)
    except TransitionError:
        return answer_already_decided(ctx)
    if not tokens.consume(session, token):
        raise TransitionError(f"sign-off token {token.id} was used while its request was still pending")
    request.decided_at, request.decided_by_id, request.decision_message_id = clock.now(), person.id, ctx.row.id
    request.decision_note = result.review or ""
    if approve:
        return _approve(ctx, entry, result)
    return _revise(ctx, entry, request)


def _approve(ctx: Context, entry: Entry, result) -> Outcome:
    session, settings, person = ctx.session, ctx.settings, ctx.person
    audit.transition(session, entry, EntryState.SIGNED, allowed_from=[EntryState.AWAITING_SIGNOFF],
                     actor=person.email, event="entry.signed", version=entry.version)
    entry.review = result.review or ""
    entry.followup_notes = result.followup_notes or ""
    entry.reviewer_next_steps = result.next_steps or ""
    entry.signer_id = person.id
    signature = sign(session, entry, person, message_id=ctx.row.message_id or f"inbound:{ctx.row.id}",
                     auth_verdict=ctx.auth_verdict)
    from workflow import followups

    opened = followups.open_issues(session, settings, entry, result.followups, source="review", raised_by=person)
    replies.notify(session, settings, entry.employee, "signoff_approved", {
        **entry_view(session, settings, entry), "signer_name": person.name,
        "signed_on_id": format_date(_today(settings), "id"), "signed_on_en": format_date(_today(settings), "en"),
        "review": entry.review, "followup_notes": entry.followup_notes,
        "reviewer_next_steps": entry.reviewer_next_steps,
        "opened": [{"text": f.text, "unit": f.unit.name, "deadline_id": format_date(f.deadline, "id"),
                    "deadline_en": format_date(f.deadline, "en")} for f in opened]},
        dedupe=f"signed:{entry.id}:{entry.version}")
    return Outcome(InboundStatus.PROCESSED, "signed", f"signature {signature.id}")


def _revise(ctx: Context, entry: Entry, request: SignoffRequest) -> Outcome:
    session, settings, person = ctx.session, ctx.settings, ctx.person
    audit.transition(session, entry, EntryState.REVISION_REQUESTED, allowed_from=[EntryState.AWAITING_SIGNOFF],
                     actor=person.email, event="entry.revision_requested", version=entry.version)
    employee = entry.employee
    # A fresh PROMPT token bound to the entry: the employee's corrected form revises it, not a new entry.
    token = tokens.issue(session, TokenPurpose.PROMPT, days=settings.token_days, owner_id=employee.id,
                         prompt_id=entry.prompt_id, entry_id=entry.id)
    replies.notify(session, settings, employee, "revision_request", {
        **entry_view(session, settings, entry), "signer_name": person.name, "reasons": request.decision_note,
        "short_code": token.short_code, "reply_code": token.token,
        "form": render_entry_form(form_values(entry), employee.language.value)},
        dedupe=f"revision:{entry.id}:{entry.version}", reply_to=settings.reply_address_for(token.token),
        token_id=token.id)
    return Outcome(InboundStatus.PROCESSED, "revision_requested", f"entry {entry.id} v{entry.version}")


def form_values(entry: Entry) -> dict:
    """The entry as the fields of a FormResult, to refill the form."""
    return {"session_date": entry.session_date.isoformat(),
            "start_time": entry.start_time.strftime("%H:%M") if entry.start_time else None,
            "end_time": entry.end_time.strftime("%H:%M") if entry.end_time else None,
            "duration_minutes": entry.duration_minutes, "mentor": entry.mentor_name or None, "topic": entry.topic,
            "objectives": entry.objectives or None, "notes": entry.notes or None,
            "references": entry.references or None, "rating": entry.rating, "next_steps": entry.next_steps or None,
            # Issues already raised stay open on their own; repeating them would raise them twice.
            "followups": [], "needs": None}


def _answer(ctx: Context, kind: str, context: dict, *, with_token: bool = False) -> None:
    person, token = ctx.person, ctx.token
    extra = {"short_code": token.short_code, "reply_code": token.token} if with_token else {}
    name = person.name if person else ""
    replies.answer(ctx.session, ctx.settings, ctx.row, kind, {"person_name": name, "name": name, **extra, **context},
                   lang=person.language.value if person else "id", name=person.name if person else "",
                   reply_to=ctx.settings.reply_address_for(token.token) if with_token else None)


def _refuse(ctx: Context, entry: Entry | None, reason: str, **extra) -> Outcome:
    view = entry_view(ctx.session, ctx.settings, entry) if entry else {"topic": "-", "employee_name": "-"}
    current = entry is not None and entry.state == EntryState.AWAITING_SIGNOFF
    _answer(ctx, "decision_refused", {**view, "reason": reason, "awaiting_revision":
                                      entry is not None and entry.state == EntryState.REVISION_REQUESTED,
                                      "newer_pending": current, "renewed": False, **extra})
    return Outcome(InboundStatus.ANSWERED, f"decision_{reason}", "")


def already_decided_context(session: Session, token: ReplyToken, settings: Settings | None = None) -> dict:
    """Who decided the request `token` belongs to, what, and when: for the 'already decided' answer."""
    from workflow.settings import get_settings

    tz = (settings or get_settings()).tz
    request = _request_for(session, token.entry_id, token.entry_version)
    entry = session.get(Entry, token.entry_id)
    decided = request.decided_at.astimezone(tz).date() if request is not None and request.decided_at else None
    return {
        "decision": request.state.value if request is not None else "",
        "decided_by_name": request.decided_by.name if request is not None and request.decided_by else "-",
        "decided_on_id": format_date(decided, "id") if decided else "-",
        "decided_on_en": format_date(decided, "en") if decided else "-",
        "employee_name": entry.employee.name if entry else "-", "topic": entry.topic if entry else "-",
        "session_date_id": format_date(entry.session_date, "id") if entry else "-",
        "session_date_en": format_date(entry.session_date, "en") if entry else "-",
    }


def answer_already_decided(ctx: Context) -> Outcome:
    """Tell the writer this request was already decided, by whom and when; nothing changes."""
    _answer(ctx, "already_decided", already_decided_context(ctx.session, ctx.token, ctx.settings))
    return Outcome(InboundStatus.ANSWERED, "already_decided", "")


def answer_unusable(ctx: Context, reason: str) -> Outcome:
    """The answer to a SIGNOFF token that is 'used' or 'expired' (for diary.answer_unusable_token)."""
    if reason == "used":
        return answer_already_decided(ctx)
    session, token = ctx.session, ctx.token
    entry = session.get(Entry, token.entry_id)
    request = _request_for(session, token.entry_id, token.entry_version)
    if request is not None and request.state in (SignoffState.APPROVED, SignoffState.REVISION):
        return answer_already_decided(ctx)
    if request is None or request.state != SignoffState.PENDING or entry is None or entry.version != request.entry_version:
        return _refuse(ctx, entry, "old_version")
    # Still waiting for a decision: send the writer a fresh request rather than leave them without a way to answer.
    fresh = _issue(ctx.session, ctx.settings, ctx.person, entry)
    send_request(session, ctx.settings, request.entry, ctx.person, fresh, dedupe=f"signoff-renewed:{request.id}:{token.id}")
    audit.record(session, actor="signoff", subject=request, event="signoff.token_renewed", for_person=ctx.person.email)
    return _refuse(ctx, entry, "expired", renewed=True)


def canonical_content(entry: Entry) -> str:
    """The signed content of an entry as canonical JSON: same content, same text, on any database."""
    values = {"entry_id": entry.id, "employee_id": entry.employee_id}
    for name in CONTENT_FIELDS:
        values[name] = _plain(getattr(entry, name))
    return json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _plain(value):
    # Values assigned in this session may still be strings; the database hands back dates and times.
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return value


def content_hash(entry: Entry) -> str:
    """SHA-256 of the canonical content."""
    return hashlib.sha256(canonical_content(entry).encode("utf-8")).hexdigest()


def chain(previous_hash: str, content: str) -> str:
    """The chain link: SHA-256 over the previous link and this content hash."""
    return hashlib.sha256((previous_hash + content).encode("ascii")).hexdigest()


def sign(session: Session, entry: Entry, signer: Employee, *, message_id: str, auth_verdict: str) -> Signature:
    """Record the signature of `entry` as it is now, chained to the employee's previous signature."""
    # Lock the employee so two signatures for one person never chain onto the same predecessor.
    session.execute(select(Employee.id).where(Employee.id == entry.employee_id).with_for_update())
    session.flush()
    session.refresh(entry)
    previous = session.scalar(select(Signature.chain_hash).where(Signature.employee_id == entry.employee_id)
                              .order_by(Signature.id.desc()).limit(1)) or ZERO_HASH
    digest = content_hash(entry)
    signature = Signature(entry_id=entry.id, entry_version=entry.version, employee_id=entry.employee_id,
                          signer_id=signer.id, signed_at=clock.now(), message_id=message_id[:998],
                          auth_verdict=(auth_verdict or "")[:200], content_hash=digest, previous_hash=previous,
                          chain_hash=chain(previous, digest))
    session.add(signature)
    session.flush()
    audit.record(session, actor=signer.email, subject=signature, event="signature.created", entry_id=entry.id,
                 version=entry.version, content_hash=digest)
    return signature


def verify_chain(session: Session, employee: Employee) -> list[str]:
    """Problems with an employee's signatures: entries changed after signing, a broken chain; empty when intact."""
    problems: list[str] = []
    previous = ZERO_HASH
    signed_ids = set()
    for signature in session.scalars(select(Signature).where(Signature.employee_id == employee.id)
                                     .order_by(Signature.id)).all():
        entry = signature.entry
        signed_ids.add(entry.id)
        name = describe(entry)
        if signature.previous_hash != previous:
            problems.append(f"{name}: the signature chain is broken before this entry (a signature was removed "
                            "or altered)")
        if chain(signature.previous_hash, signature.content_hash) != signature.chain_hash:
            problems.append(f"{name}: the signature record itself was altered")
        if entry.version != signature.entry_version or content_hash(entry) != signature.content_hash:
            problems.append(f"{name}: changed after it was signed")
        previous = signature.chain_hash
    for entry in session.scalars(select(Entry).where(Entry.employee_id == employee.id,
                                                     Entry.state == EntryState.SIGNED)).all():
        if entry.id not in signed_ids:
            problems.append(f"{describe(entry)}: marked signed but has no signature")
    return problems


def describe(entry: Entry) -> str:
    """'entry #12 of 2026-12-03 (topic)', to name an entry in a report."""
    topic = " ".join(entry.topic.split())
    return f"entry #{entry.id} of {entry.session_date.isoformat()} ({topic[:60]})"
