"""Follow-up issues: opened from an entry or a review, sent to the responsible unit, answered by reply."""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from workflow import audit, clock, replies, tokens
from workflow.inbound import Context, Outcome
from workflow.mail.decisions import parse_followup_status
from workflow.mail.forms import format_date
from workflow.models import (Employee, Entry, FollowUp, FollowUpState, InboundStatus, ReplyToken, TokenPurpose,
                             Unit)
from workflow.office import general_affairs_unit, office_calendar
from workflow.prompts import mailto
from workflow.settings import Settings

# Words that name the kind of unit rather than which one: "Seksi Lelang" means the auction section.
_GENERIC = {"seksi", "subbagian", "subbag", "sub", "bagian", "bag", "unit", "kantor", "sie", "dan", "and", "of",
            "the"}
# A unit's reply token must outlive its ladder (deadline + three steps); older ones are renewed on each step.
TOKEN_MIN_DAYS = 60


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", (text or "").lower())


def _significant(text: str) -> list[str]:
    return [word for word in _words(text) if word not in _GENERIC]


def _nicknames(unit: Unit) -> set[str]:
    """The mailbox's local part and the initials of the name: 'lelang', 'pl'; 'kihi' for KIHI."""
    names = {"".join(word[0] for word in _significant(unit.name))}
    if unit.email:
        names |= set(_words(unit.email.split("@")[0]))
    return {name for name in names if len(name) >= 2}


def match_unit(units: list[Unit], written: str | None) -> Unit | None:
    """The one unit `written` names: exactly, by its distinctive words, its initials or mailbox; None if unsure."""
    if not written or not _words(written):
        return None
    key = " ".join(_words(written))
    exact = [unit for unit in units if " ".join(_words(unit.name)) == key]
    if len(exact) == 1:
        return exact[0]
    wanted = set(_significant(written))
    if not wanted:
        return None
    found = [unit for unit in units if wanted <= set(_significant(unit.name))
             or (len(wanted) == 1 and wanted <= _nicknames(unit))]
    return found[0] if len(found) == 1 else None


def _today(settings: Settings) -> date:
    return clock.now().astimezone(settings.tz).date()


def open_issues(session: Session, settings: Settings, entry: Entry, items: list[dict], *, source: str,
                raised_by: Employee) -> list[FollowUp]:
    """Open one issue per item, each with its unit, deadline, reply token and notice; returns those opened.

    An item whose text is already open for this entry and source is not opened twice (a resubmitted form).
    """
    units = list(session.scalars(select(Unit).where(Unit.active).order_by(Unit.id)))
    fallback = general_affairs_unit(session, settings) or entry.employee.unit
    deadline = office_calendar(settings).add_working_days(_today(settings), settings.followup_deadline_days)
    opened: list[FollowUp] = []
    for item in items:
        text = (item.get("text") or "").strip()
        if not text or _already_open(session, entry, source, text):
            continue
        written = (item.get("unit") or "").strip()
        unit = match_unit(units, written) or fallback
        if unit is None:
            raise LookupError(f"no unit for follow-up issue {text[:40]!r}: set CLD_GENERAL_AFFAIRS_UNIT to a unit "
                              "of the roster")
        issue = FollowUp(entry_id=entry.id, employee_id=entry.employee_id, raised_by_id=raised_by.id, source=source,
                         text=text, unit_id=unit.id, unit_as_written=written[:200], deadline=deadline)
        session.add(issue)
        session.flush()
        audit.record(session, actor=raised_by.email, subject=issue, event="followup.opened", to_state="open",
                     unit=unit.name, unit_as_written=written, source=source, deadline=deadline)
        send_to_unit(session, settings, issue, "followup_notice", dedupe=f"followup:{issue.id}:notice")
        opened.append(issue)
    return opened


def _already_open(session: Session, entry: Entry, source: str, text: str) -> bool:
    return session.scalar(select(FollowUp.id).where(FollowUp.entry_id == entry.id, FollowUp.source == source,
                                                    FollowUp.text == text,
                                                    FollowUp.state != FollowUpState.RESOLVED)) is not None


def live_token(session: Session, settings: Settings, issue: FollowUp) -> ReplyToken:
    """The issue's reply token, renewed when it would expire before the ladder ends."""
    token = session.scalar(select(ReplyToken).where(ReplyToken.followup_id == issue.id,
                                                    ReplyToken.purpose == TokenPurpose.FOLLOWUP)
                           .order_by(ReplyToken.id.desc()))
    if token is not None and token.expires_at > clock.now() + timedelta(days=30):
        return token
    return tokens.issue(session, TokenPurpose.FOLLOWUP, days=max(settings.token_days, TOKEN_MIN_DAYS),
                        owner_unit_id=issue.unit_id, followup_id=issue.id)


def unit_recipient(unit: Unit) -> tuple[str, str, str] | None:
    """(address, name, language) for mail to a unit: its mailbox, else its head; None when it has neither."""
    if unit.email:
        return unit.email, unit.name, "id"
    if unit.head is not None:
        return unit.head.email, unit.head.name, unit.head.language.value
    return None


def issue_view(settings: Settings, issue: FollowUp) -> dict:
    """What a reader needs to know about an issue, for the templates."""
    entry = issue.entry
    today = _today(settings)
    return {
        "issue_id": issue.id, "text": issue.text, "unit_name": issue.unit.name,
        "unit_as_written": issue.unit_as_written if issue.unit_as_written
        and issue.unit_as_written.lower() != issue.unit.name.lower() else "",
        "employee_name": issue.employee.name, "source": issue.source,
        "raised_by_name": _raised_by(issue).name,
        "topic": entry.topic if entry else "-",
        "session_date_id": format_date(entry.session_date, "id") if entry else "-",
        "session_date_en": format_date(entry.session_date, "en") if entry else "-",
        "deadline_id": format_date(issue.deadline, "id"), "deadline_en": format_date(issue.deadline, "en"),
        "opened_id": format_date(issue.created_at.astimezone(settings.tz).date(), "id"),
        "opened_en": format_date(issue.created_at.astimezone(settings.tz).date(), "en"),
        "days_overdue": max(office_calendar(settings).working_days_between(issue.deadline, today), 0),
        "state": issue.state.value,
    }


def _raised_by(issue: FollowUp) -> Employee:
    return object_session(issue).get(Employee, issue.raised_by_id)


def send_to_unit(session: Session, settings: Settings, issue: FollowUp, kind: str, *, dedupe: str,
                 to: Employee | None = None, **extra) -> bool:
    """Queue `kind` about `issue` to its unit (or to `to`), with the reply address; False when nobody can get it."""
    token = live_token(session, settings, issue)
    if to is not None:
        recipient = (to.email, to.name, to.language.value)
    else:
        recipient = unit_recipient(issue.unit)
    if recipient is None:
        audit.record(session, actor="followups", subject=issue, event="followup.no_recipient", kind=kind)
        return False
    address, name, lang = recipient
    context = {**issue_view(settings, issue), **answer_links(settings, token, issue), "recipient_name": name, **extra}
    replies.notify_address(session, settings, address, kind, context, dedupe=dedupe, lang=lang,
                           reply_to=settings.reply_address_for(token.token), token_id=token.id, name=name)
    return True


def answer_links(settings: Settings, token: ReplyToken, issue: FollowUp) -> dict:
    """The reply address, codes and one-click PROSES / SELESAI mailto: links for a unit's token."""
    reply_to = settings.reply_address_for(token.token)
    subject = f"Re: [CLD-{token.short_code}] {issue.unit.name}"
    return {"short_code": token.short_code, "reply_code": token.token, "reply_address": reply_to,
            "progress_href": mailto(reply_to, subject, "PROSES\nTarget: \n"),
            "resolved_href": mailto(reply_to, subject, "SELESAI\n")}


def apply_status(ctx: Context) -> Outcome:
    """Apply a unit's PROSES / SELESAI to the issue its token stands for."""
    session, settings = ctx.session, ctx.settings
    issue = session.get(FollowUp, ctx.token.followup_id)
    actor = ctx.person.email if ctx.person else ctx.sender
    if issue.state == FollowUpState.RESOLVED:
        _answer(ctx, issue, "followup_status_unclear", already_resolved=True,
                resolved_on_id=format_date(issue.resolved_at.astimezone(settings.tz).date(), "id"),
                resolved_on_en=format_date(issue.resolved_at.astimezone(settings.tz).date(), "en"))
        return Outcome(InboundStatus.ANSWERED, "followup_already_resolved", "")
    result = parse_followup_status(ctx.text)
    errors = list(result.errors)
    target = date.fromisoformat(result.target_date) if result.target_date else None
    if target is not None and target < _today(settings):
        errors.append(_past_target(target))
    if result.status is None or errors:
        _answer(ctx, issue, "followup_status_unclear", errors=[{"id": e.message_id, "en": e.message_en}
                                                               for e in errors])
        return Outcome(InboundStatus.ANSWERED, "followup_status_unclear", errors[0].field if errors else "")
    if result.status == "in_progress":
        return _in_progress(ctx, issue, actor, target, result.note)
    return _resolve(ctx, issue, actor, result.note)


def _past_target(target: date):
    from workflow.mail.forms import FieldError

    return FieldError("target_date",
                      f"Tanggal target {format_date(target, 'id')} sudah lewat; tulis tanggal yang akan datang.",
                      f"The target date {format_date(target, 'en')} has passed; give a date in the future.")


def _in_progress(ctx: Context, issue: FollowUp, actor: str, target: date | None, note: str | None) -> Outcome:
    session = ctx.session
    if issue.state == FollowUpState.OPEN:
        audit.transition(session, issue, FollowUpState.IN_PROGRESS, allowed_from=[FollowUpState.OPEN], actor=actor,
                         event="followup.in_progress", note=note or "", inbound_id=ctx.row.id)
    else:
        audit.record(session, actor=actor, subject=issue, event="followup.progress_note", note=note or "",
                     inbound_id=ctx.row.id)
    if target is not None and target != issue.deadline:
        # The ladder keeps its level and counts from the new date: no step is sent twice.
        audit.record(session, actor=actor, subject=issue, event="followup.deadline_moved",
                     from_date=issue.deadline, to_date=target)
        issue.deadline = target
    return Outcome(InboundStatus.PROCESSED, "followup_in_progress", f"issue {issue.id}")


def _resolve(ctx: Context, issue: FollowUp, actor: str, note: str | None) -> Outcome:
    session, settings = ctx.session, ctx.settings
    audit.transition(session, issue, FollowUpState.RESOLVED,
                     allowed_from=[FollowUpState.OPEN, FollowUpState.IN_PROGRESS], actor=actor,
                     event="followup.resolved", note=note or "", inbound_id=ctx.row.id)
    issue.resolution_note = note or ""
    issue.resolved_at = clock.now()
    resolved_by = ctx.person.name if ctx.person else issue.unit.name
    context = {**issue_view(settings, issue), "resolution_note": issue.resolution_note, "resolved_by": resolved_by,
               "resolved_on_id": format_date(_today(settings), "id"),
               "resolved_on_en": format_date(_today(settings), "en")}
    for person in people_to_tell(session, issue):
        replies.notify(session, settings, person, "followup_resolved", {**context, "person_name": person.name},
                       dedupe=f"followup:{issue.id}:resolved:{person.id}")
    return Outcome(InboundStatus.PROCESSED, "followup_resolved", f"issue {issue.id}")


def people_to_tell(session: Session, issue: FollowUp) -> list[Employee]:
    """The employee, their supervisor (the entry's signer when known) and whoever raised the issue, once each."""
    employee = issue.employee
    candidates = [employee, issue.entry.signer if issue.entry and issue.entry.signer else employee.supervisor,
                  session.get(Employee, issue.raised_by_id)]
    seen: dict[int, Employee] = {}
    for person in candidates:
        if person is not None and person.active and person.id not in seen:
            seen[person.id] = person
    return list(seen.values())


def _answer(ctx: Context, issue: FollowUp, kind: str, **extra) -> None:
    token = ctx.token
    lang = ctx.person.language.value if ctx.person else "id"
    replies.answer(ctx.session, ctx.settings, ctx.row, kind,
                   {**issue_view(ctx.settings, issue), **answer_links(ctx.settings, token, issue),
                    "already_resolved": False, "errors": [], **extra},
                   lang=lang, reply_to=ctx.settings.reply_address_for(token.token))
