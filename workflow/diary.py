"""Diary entries from prompt replies: record, revise, and answer what cannot be used."""

from __future__ import annotations

import functools
import re
from datetime import date, time

from sqlalchemy import func, insert, select
from sqlalchemy.orm import make_transient_to_detached

from workflow import audit, clock
from workflow.inbound import Context, Outcome
from workflow.mail.forms import (ENTRY_LABELS, RATINGS, FieldError, format_date, parse_entry_form, parse_needs,
                                 render_entry_form)
from workflow.models import (Employee, Entry, EntryState, InboundStatus, Prompt, PromptState, ReplyToken,
                             TokenPurpose)
from workflow.office import employee_by_address, superiors
from workflow.replies import answer, notify

TITLES = re.compile(r"\b(dr|drs|dra|ir|prof|h|hj|bapak|bpk|pak|ibu|bu|mr|mrs|ms|sdr|sdri)\b\.?|"
                    r",?\s*\b[a-z]{1,3}\.\s?[a-z]{1,4}\.?(?=\s|,|$)", re.IGNORECASE)


def apply_reply(ctx: Context) -> Outcome:
    """A reply to a prompt (or to a revision request): a needs note, a new entry, or a revised one."""
    token, person = ctx.token, ctx.person
    prompt = ctx.session.get(Prompt, token.prompt_id)
    needs = parse_needs(ctx.text)
    result = parse_entry_form(ctx.text, period=prompt.period, today=clock.now().astimezone(ctx.settings.tz).date())
    fields = result.fields
    if needs and not _has_entry_content(fields) and token.entry_id is None:
        return record_needs(ctx, prompt, needs)
    limit = ctx.settings.max_followups_per_form
    if len(fields["followups"]) > limit:
        # One form cannot flood a unit's mailbox: the person is asked to keep the list short.
        result.errors.append(FieldError(
            "followups", f"Terlalu banyak isu tindak lanjut ({len(fields['followups'])}); paling banyak {limit} "
            "per formulir.", f"Too many follow-up issues ({len(fields['followups'])}); at most {limit} per form."))
    if not result.ok:
        answer(ctx.session, ctx.settings, ctx.row, "form_problems", {
            "name": person.name, "period": prompt.period,
            "problems": [{"field": _field_label(e.field), "id": e.message_id, "en": e.message_en}
                         for e in result.errors],
            "form": render_entry_form(fields, person.language.value), "reply_code": token.token,
        }, lang=person.language.value, name=person.name, reply_to=ctx.settings.reply_address_for(token.token))
        return Outcome(InboundStatus.ANSWERED, "bad_form", ", ".join(sorted({e.field for e in result.errors})))
    if token.entry_id is not None:
        entry = revise_entry(ctx, token, fields)
        kind = "revised_entry"
    else:
        entry = create_entry(ctx, prompt, fields)
        kind = "entry"
    if needs:
        prompt.needs, prompt.needs_at = needs, clock.now()
    send_receipt(ctx, entry, result.warnings)
    from workflow import followups, signoff

    opened = []
    if fields["followups"] and kind == "entry":
        opened = followups.open_issues(ctx.session, ctx.settings, entry, fields["followups"], source="entry",
                                       raised_by=person)
    if kind == "entry":
        # Created in this transaction: no other worker can have asked for its sign-off, and its only issues
        # are the ones just opened.
        signoff.request_first_signoff(ctx.session, ctx.settings, entry, opened)
    else:
        signoff.request_signoff(ctx.session, ctx.settings, entry)
    ctx.row.entry_id = entry.id
    return Outcome(InboundStatus.PROCESSED, kind, f"entry {entry.id} v{entry.version}")


def _has_entry_content(fields: dict) -> bool:
    return any(fields.get(k) for k in ("session_date", "topic", "notes", "rating", "duration_minutes"))


def _field_label(key: str) -> str:
    label = next((label for label in ENTRY_LABELS if label.key == key), None)
    return label.text("id") if label else key


def match_mentor(ctx: Context, written: str | None) -> Employee | None:
    """The roster person the mentor field names (address or name, ignoring case and titles)."""
    if not written:
        return None
    address = re.search(r"[\w.+'-]+@[\w-]+(\.[\w-]+)+", written)
    if address:
        return employee_by_address(ctx.session, address.group(0))
    wanted = _bare_name(written)
    if not wanted:
        return None
    # Most often the mentor is the direct supervisor, loaded with the reply's token: named exactly, the
    # nearest superior is the one meant, and nothing more is read.
    supervisor = ctx.person.supervisor if ctx.person is not None else None
    if supervisor is not None and supervisor.active and _bare_name(supervisor.name) == wanted:
        return supervisor
    # A mentor is "another capable superior": look up the person's own chain of superiors next, one query,
    # before any search of the whole roster.
    chain = [p for p in superiors(ctx.session, ctx.person) if p.active] if ctx.person is not None else []
    for rule in (lambda bare: bare == wanted, lambda bare: wanted in bare or bare in wanted):
        found = [p for p in chain if rule(_bare_name(p.name))]
        if len(found) == 1:
            return found[0]
    # Loading every active person per reply cost O(roster) per message (about a second at 100,000 people).
    # Anyone whose bare name equals or contains `wanted` has its longest word in their lowercased name,
    # so the database narrows the exact match to a few rows; the rules below are unchanged.
    longest = max(wanted.split(), key=len)
    if longest.isascii():
        near = ctx.session.execute(select(Employee.id, Employee.name).where(
            Employee.active, func.lower(Employee.name).contains(longest, autoescape=True))).all()
        exact = [row.id for row in near if _bare_name(row.name) == wanted]
        if len(exact) == 1:
            return ctx.session.get(Employee, exact[0])
        if exact:
            return None  # two or more exact matches also match partially: ambiguous either way
    # No exact match: a partial one may be a name inside `wanted` ("Pak Budi Santoso" for "Budi"), which
    # only a look at every name can find; names and ids only, not whole people.
    people = ctx.session.execute(select(Employee.id, Employee.name).where(Employee.active)).all()
    exact = [row.id for row in people if _bare_name(row.name) == wanted]
    if len(exact) == 1:
        return ctx.session.get(Employee, exact[0])
    partial = [row.id for row in people if wanted in _bare_name(row.name) or _bare_name(row.name) in wanted]
    return ctx.session.get(Employee, partial[0]) if len(partial) == 1 else None


@functools.lru_cache(maxsize=65536)
def _bare_name(name: str) -> str:
    return " ".join(TITLES.sub(" ", name.lower()).replace(",", " ").split())


def _entry_values(ctx: Context, fields: dict) -> dict:
    person = ctx.person
    mentor = match_mentor(ctx, fields["mentor"]) or (person.supervisor if not fields["mentor"] else None)
    return dict(
        session_date=date.fromisoformat(fields["session_date"]),
        start_time=time.fromisoformat(fields["start_time"]) if fields["start_time"] else None,
        end_time=time.fromisoformat(fields["end_time"]) if fields["end_time"] else None,
        duration_minutes=fields["duration_minutes"], over_hour=bool(fields["over_hour"]),
        # The object, not its id: the entry's signer is worked out from it before the INSERT.
        mentor=mentor,
        # The column holds 200 characters; a longer name written in the form is cut, not a system error.
        mentor_name=(mentor.name if mentor else (fields["mentor"] or ""))[:200],
        topic=fields["topic"] or "", objectives=fields["objectives"] or "", notes=fields["notes"] or "",
        references=fields["references"] or "", rating=fields["rating"], next_steps=fields["next_steps"] or "",
        source_message_id=ctx.row.id,
    )


def create_entry(ctx: Context, prompt: Prompt, fields: dict) -> Entry:
    """A new diary entry awaiting sign-off; the month's prompt counts as answered."""
    from workflow.signoff import signer_for

    values = _entry_values(ctx, fields)
    mentor, now = values.pop("mentor"), clock.now()
    entry = Entry(prompt_id=prompt.id, employee_id=ctx.person.id, mentor_id=mentor.id if mentor else None,
                  period=prompt.period, version=1, state=EntryState.AWAITING_SIGNOFF, review="", followup_notes="",
                  reviewer_next_steps="", created_at=now, updated_at=now, **values)
    # With the people set as objects, the signer is known before the INSERT, which then carries it.
    entry.employee, entry.mentor = ctx.person, mentor
    entry.signer_id = signer_for(ctx.session, ctx.settings, entry)[0].id
    # One plain INSERT, then the object joins the session as the row it now is (no SQL): the unit of work
    # for this one object cost more than the statement. The views and emails that follow read it as usual.
    entry.id = ctx.session.connection().execute(_INSERT_ENTRY, {
        column: getattr(entry, column) for column in _ENTRY_COLUMNS}).scalar_one()
    make_transient_to_detached(entry)
    ctx.session.add(entry)
    audit.record(ctx.session, actor=ctx.sender, subject=entry, event="entry.recorded",
                 to_state=entry.state.value, inbound_id=ctx.row.id, message_id=ctx.row.message_id)
    if prompt.state in (PromptState.SENT, PromptState.MISSED):
        audit.transition(ctx.session, prompt, PromptState.ANSWERED, allowed_from=[PromptState.SENT, PromptState.MISSED],
                         actor=ctx.sender, event="prompt.answered", entry_id=entry.id)
    return entry


_ENTRY_COLUMNS = [column.key for column in Entry.__table__.columns if column.key != "id"]
_INSERT_ENTRY = insert(Entry.__table__).returning(Entry.__table__.c.id)


def revise_entry(ctx: Context, token: ReplyToken, fields: dict) -> Entry:
    """The employee's corrected reply: a new version of the entry, back to awaiting sign-off."""
    entry = ctx.session.get(Entry, token.entry_id)
    values = _entry_values(ctx, fields)
    for name, value in values.items():
        setattr(entry, name, value)
    entry.version += 1
    audit.transition(ctx.session, entry, EntryState.AWAITING_SIGNOFF, allowed_from=[EntryState.REVISION_REQUESTED],
                     actor=ctx.sender, event="entry.resubmitted", version=entry.version, inbound_id=ctx.row.id)
    return entry


def record_needs(ctx: Context, prompt: Prompt, needs: str) -> Outcome:
    """A needs-only reply before the session: kept on the prompt and sent to the supervisor at once."""
    prompt.needs, prompt.needs_at = needs, clock.now()
    audit.record(ctx.session, actor=ctx.sender, subject=prompt, event="prompt.needs", inbound_id=ctx.row.id)
    supervisor = ctx.person.supervisor
    if supervisor is not None:
        notify(ctx.session, ctx.settings, supervisor, "needs_forward", {
            "supervisor_name": supervisor.name, "employee_name": ctx.person.name, "period": prompt.period,
            "needs": needs}, dedupe=f"needs:{ctx.row.id}")
    answer(ctx.session, ctx.settings, ctx.row, "needs_receipt", {
        "name": ctx.person.name, "period": prompt.period, "needs": needs,
        "supervisor_name": supervisor.name if supervisor else "-", "reply_code": ctx.token.token},
        lang=ctx.person.language.value, name=ctx.person.name,
        reply_to=ctx.settings.reply_address_for(ctx.token.token))
    return Outcome(InboundStatus.PROCESSED, "needs", f"prompt {prompt.id}")


def entry_fields(entry: Entry) -> dict:
    """The entry as form fields, for refilling the form."""
    return {"session_date": entry.session_date.isoformat(),
            "start_time": entry.start_time.strftime("%H:%M") if entry.start_time else None,
            "end_time": entry.end_time.strftime("%H:%M") if entry.end_time else None,
            "duration_minutes": entry.duration_minutes, "mentor": entry.mentor_name or None,
            "topic": entry.topic, "objectives": entry.objectives or None, "notes": entry.notes,
            "references": entry.references or None, "rating": entry.rating, "followups": [],
            "next_steps": entry.next_steps or None, "needs": None, "over_hour": entry.over_hour}


def rating_text(key: str, lang: str) -> str:
    """'Sangat bermanfaat' / 'Very useful' for a rating key."""
    for rating_key, _number, text_id, text_en in RATINGS:
        if rating_key == key:
            return text_id if lang == "id" else text_en
    return key


def entry_rows(entry: Entry, lang: str) -> list[tuple[str, str]]:
    """The entry as (label, value) rows for emails and reports, in `lang`."""
    when = format_date(entry.session_date, lang)
    if entry.start_time:
        when += f", {entry.start_time.strftime('%H.%M')}" + (f"-{entry.end_time.strftime('%H.%M')}" if entry.end_time else "")
    minutes = f"{entry.duration_minutes} " + ("menit" if lang == "id" else "minutes")
    if entry.over_hour:
        minutes += " (lebih dari 60 menit)" if lang == "id" else " (over 60 minutes)"
    labels = {label.key: (label.id if lang == "id" else label.en) for label in ENTRY_LABELS}
    return [(labels["session_date"], when), (labels["duration_minutes"], minutes),
            (labels["mentor"], entry.mentor_name or "-"), (labels["topic"], entry.topic),
            (labels["objectives"], entry.objectives or "-"), (labels["notes"], entry.notes),
            (labels["references"], entry.references or "-"), (labels["rating"], rating_text(entry.rating, lang)),
            (labels["next_steps"], entry.next_steps or "-")]


def send_receipt(ctx: Context, entry: Entry, warnings) -> None:
    """Tell the employee what was recorded, and anything to know (e.g. over the one-hour rule)."""
    from workflow.signoff import signer_for

    person = ctx.person
    signer, _informed = signer_for(ctx.session, ctx.settings, entry)
    answer(ctx.session, ctx.settings, ctx.row, "receipt", {
        "name": person.name, "period": entry.period, "version": entry.version,
        "rows": {lang: entry_rows(entry, lang) for lang in ("id", "en")},
        "warnings": [{"id": w.message_id, "en": w.message_en} for w in warnings],
        "signer_name": signer.name if signer else "-", "reply_code": ctx.token.token,
    }, lang=person.language.value, name=person.name, dedupe=f"receipt:{entry.id}:{entry.version}")


def answer_unrouted(ctx: Context) -> Outcome:
    """No token anywhere: a known person is told how to reply; a stranger gets nothing (no backscatter)."""
    person = employee_by_address(ctx.session, ctx.sender)
    if person is None:
        return Outcome(InboundStatus.IGNORED, "unknown_sender", "no token and the sender is not on the roster")
    answer(ctx.session, ctx.settings, ctx.row, "unrouted", {"name": person.name}, lang=person.language.value,
           name=person.name)
    return Outcome(InboundStatus.ANSWERED, "unrouted", "no token found")


def refuse_foreign_sender(ctx: Context) -> Outcome:
    """The sender is not the person the token was issued to: never applied; the real owner is told."""
    token = ctx.token
    owner_name, owner_address, lang = _owner(token)
    if owner_address:
        from workflow.replies import notify_address

        notify_address(ctx.session, ctx.settings, owner_address, "foreign_sender", {
            "name": owner_name, "sender": ctx.sender, "subject": ctx.row.subject,
            "received": format_date(ctx.row.received_at.astimezone(ctx.settings.tz).date(), lang)},
            dedupe=f"foreign:{ctx.row.id}", lang=lang, name=owner_name)
    audit.record(ctx.session, actor=ctx.sender or "unknown", subject=ctx.row, event="inbound.refused",
                 token_id=token.id, purpose=token.purpose.value)
    return Outcome(InboundStatus.REFUSED, "foreign_sender", "From is not the token's owner")


def _owner(token: ReplyToken) -> tuple[str, str | None, str]:
    if token.owner is not None:
        return token.owner.name, token.owner.email, token.owner.language.value
    if token.owner_unit is not None:
        unit = token.owner_unit
        address = unit.email or (unit.head.email if unit.head else None)
        return unit.name, address, "id"
    return "", None, "id"


def answer_unusable_token(ctx: Context, reason: str) -> Outcome:
    """An expired or already used token: the person learns why and what to do; nothing is applied."""
    if ctx.token.purpose == TokenPurpose.SIGNOFF:
        from workflow import signoff

        # Sign-off has its own answers: "already decided by ...", or a fresh request when one is still due.
        return signoff.answer_unusable(ctx, reason)
    person = ctx.person
    answer(ctx.session, ctx.settings, ctx.row, "token_unusable",
           {"name": person.name if person else (ctx.unit.name if ctx.unit else ""), "reason": reason},
           lang=person.language.value if person else "id", name=person.name if person else "")
    return Outcome(InboundStatus.ANSWERED, f"token_{reason}", reason)


def answer_too_large(ctx: Context) -> Outcome:
    """A message over the size limit is kept but not read; a known sender is told."""
    person = employee_by_address(ctx.session, ctx.sender)
    if person is not None:
        answer(ctx.session, ctx.settings, ctx.row, "too_large", {
            "name": person.name, "limit_mb": ctx.settings.max_message_bytes // (1024 * 1024)},
            lang=person.language.value, name=person.name)
        return Outcome(InboundStatus.ANSWERED, "too_large", f"{len(ctx.row.raw)} bytes")
    return Outcome(InboundStatus.IGNORED, "too_large", f"{len(ctx.row.raw)} bytes from an unknown sender")
