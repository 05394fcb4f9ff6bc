"""The monthly cycle: prompts on the prompt day, reminders, and closing a period with missed sessions."""

from __future__ import annotations

import functools
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from urllib.parse import quote

from markupsafe import Markup, escape

from sqlalchemy import bindparam, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from workflow import audit, clock, outbox, tokens
from workflow.appreciative import question_pair_for
from workflow.db import dialect_insert
from workflow.calendar import due_prompt_period, due_reminder, label
from workflow.mail.forms import RATINGS, format_date, render_entry_form
from workflow.mail.outbound import Envelope, build_message, render
from workflow.nudges import recently_nudged
from workflow.models import (Employee, Entry, FollowUp, FollowUpState, Language, OutboundMessage, PeriodClose,
                             Prompt, PromptState, ReplyToken, TokenPurpose)
from workflow.office import office_calendar
from workflow.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class PromptRun:
    period: str | None = None
    prompted: int = 0
    reminded: int = 0
    reminder_day: date | None = None

    def as_dict(self) -> dict:
        return {"period": self.period, "prompted": self.prompted, "reminded": self.reminded}


def eligible_employees(period: str):
    """Active people with a supervisor and no prompt for `period` yet (the head of office coaches, not is coached)."""
    return (select(Employee.id).where(Employee.active, Employee.supervisor_id.is_not(None),
                                      ~exists().where(Prompt.employee_id == Employee.id, Prompt.period == period))
            .order_by(Employee.id))


def send_due_prompts(factory: sessionmaker, settings: Settings, now: datetime | None = None,
                     progress=None) -> PromptRun:
    """Create every prompt and reminder due as of `now`; safe to run any number of times, in parallel."""
    now = now or clock.now()
    calendar = office_calendar(settings)
    run = PromptRun(period=due_prompt_period(calendar, now))
    if run.period is not None:
        with factory() as session:
            if session.get(PeriodClose, run.period) is None:
                waiting = session.scalars(eligible_employees(run.period)).all()
                for start in range(0, len(waiting), PROMPT_BATCH):
                    chunk = waiting[start:start + PROMPT_BATCH]
                    run.prompted += create_prompts(session, settings, run.period, chunk)
                    if progress:
                        progress(len(chunk))
    run.reminder_day = due_reminder(calendar, now)
    if run.reminder_day is not None:
        run.reminded = send_due_reminders(factory, settings, calendar.period_of(now), run.reminder_day)
    return run


PROMPT_BATCH = 50


def create_prompts(session: Session, settings: Settings, period: str, employee_ids: list[int]) -> int:
    """Create prompts for these people with their tokens and queued emails, in one transaction.

    The insert skips anyone who already has a prompt for the period (ON CONFLICT DO NOTHING on the unique
    (period, employee) key) and returns only the rows it created, so two workers racing each create and
    mail a disjoint set: every prompt exactly once.
    """
    connection = session.connection()
    created = connection.execute(_new_prompts_statement(connection.dialect.name), [
        {"period": period, "employee_id": e, "state": PromptState.SENT, "reminders_sent": 0, "created_at": clock.now()}
        for e in employee_ids]).all()
    if not created:
        session.rollback()
        return 0
    ids = [row.employee_id for row in created]
    people = {person.id: person for person in addressees(connection, ids)}
    # Everything the emails show is read up front: no query (and no autoflush) per person in the loop.
    context = ChunkContext(followups=open_followups_by_employee(session, ids, settings),
                           next_steps=last_next_steps_by_employee(session, ids, period),
                           last_day=office_calendar(settings).nth_working_day(period, -1))
    issued = dict(zip((row.id for row in created), tokens.issue_many(
        session, TokenPurpose.PROMPT, [{"owner_id": row.employee_id, "prompt_id": row.id} for row in created],
        days=settings.token_days), strict=True))
    emails = []
    for row in created:
        token = issued[row.id]
        message = prompt_message(session, settings, period, people[row.employee_id], token, "prompt", context)
        emails.append(outbox.outbound_values(message, kind="prompt", dedupe_key=f"prompt:{row.id}",
                                             employee_id=row.employee_id, token_id=token.id))
        audit.record_row(session, Prompt.__tablename__, row.id, actor="prompts", event="prompt.sent",
                         to_state=PromptState.SENT.value)
    # One multi-row INSERT of plain rows: fifty ORM objects of 12 KB each cost more than writing them.
    session.connection().execute(insert(OutboundMessage.__table__), emails)
    session.commit()
    return len(created)


@functools.lru_cache(maxsize=4)
def _new_prompts_statement(dialect: str):
    # Built once per dialect and given the rows as parameters: a fresh `.values([...])` of fifty rows was
    # compiled again for every batch, a tenth of the prompt day's CPU. Rows come back in any order, with
    # their employee, and only those really inserted.
    table = Prompt.__table__
    return (dialect_insert(dialect, table).on_conflict_do_nothing(index_elements=["period", "employee_id"])
            .returning(table.c.id, table.c.employee_id))


def create_prompt(session: Session, settings: Settings, period: str, employee_id: int) -> bool:
    """One person's prompt (see create_prompts); False if it already existed."""
    return create_prompts(session, settings, period, [employee_id]) == 1


def send_due_reminders(factory: sessionmaker, settings: Settings, period: str, day: date) -> int:
    """Remind each unanswered prompt of `period` once on `day`."""
    sent = 0
    with factory() as session:
        due = session.scalars(select(Prompt.id).where(
            Prompt.period == period, Prompt.state == PromptState.SENT,
            (Prompt.last_reminded_on.is_(None)) | (Prompt.last_reminded_on < day)).order_by(Prompt.id)).all()
        for prompt_id in due:
            employee_id = session.scalar(select(Prompt.employee_id).where(Prompt.id == prompt_id))
            if recently_nudged(session, employee_id, clock.now(), settings.nudge_interval_days):
                continue  # they heard from us this week already; the weekly cap holds across flows
            claimed = session.execute(
                update(Prompt).where(Prompt.id == prompt_id, Prompt.state == PromptState.SENT,
                                     (Prompt.last_reminded_on.is_(None)) | (Prompt.last_reminded_on < day))
                .values(last_reminded_on=day, reminders_sent=Prompt.reminders_sent + 1)
                .execution_options(synchronize_session=False)).rowcount
            if claimed != 1:
                session.rollback()
                continue
            prompt = session.get(Prompt, prompt_id, populate_existing=True)
            token = session.scalar(select(ReplyToken).where(ReplyToken.prompt_id == prompt.id,
                                                            ReplyToken.purpose == TokenPurpose.PROMPT)
                                   .order_by(ReplyToken.id.desc()))
            message = prompt_message(session, settings, prompt.period, Addressee.of(prompt.employee), token,
                                     "reminder")
            outbox.enqueue(session, message, kind="reminder", dedupe_key=f"reminder:{prompt.id}:{day.isoformat()}",
                           employee_id=prompt.employee_id, token_id=token.id)
            audit.record(session, actor="prompts", subject=prompt, event="prompt.reminded", day=day.isoformat())
            session.commit()
            sent += 1
    return sent


@dataclass
class ChunkContext:
    """What prompt emails show, read once for a whole batch of people."""

    followups: dict[int, list[dict]]
    next_steps: dict[int, str]
    last_day: date


@dataclass(frozen=True, slots=True)
class Addressee:
    """Who a prompt goes to, as its email needs them: plain values, read for a whole batch in one query."""

    id: int
    name: str
    email: str
    language: Language
    supervisor_name: str | None

    @classmethod
    def of(cls, employee: Employee) -> "Addressee":
        supervisor = employee.supervisor
        return cls(employee.id, employee.name, employee.email, employee.language,
                   supervisor.name if supervisor else None)


def addressees(connection, employee_ids: list[int]) -> list[Addressee]:
    """These people with their supervisor's name; no ORM objects (fifty of them cost more than the query)."""
    return [Addressee(*row) for row in connection.execute(_ADDRESSEES, {"ids": employee_ids})]


_people, _supervisors = Employee.__table__, Employee.__table__.alias("supervisor")
_ADDRESSEES = (select(_people.c.id, _people.c.name, _people.c.email, _people.c.language, _supervisors.c.name)
               .select_from(_people.outerjoin(_supervisors, _people.c.supervisor_id == _supervisors.c.id))
               .where(_people.c.id.in_(bindparam("ids", expanding=True))))


def prompt_message(session: Session, settings: Settings, period: str, employee: Addressee,
                   token: ReplyToken | tokens.Issued, kind: str, chunk: ChunkContext | None = None):
    """Render the prompt or reminder email of `period` for `employee`."""
    if chunk is None:
        chunk = ChunkContext(followups=open_followups_by_employee(session, [employee.id], settings),
                             next_steps=last_next_steps_by_employee(session, [employee.id], period),
                             last_day=office_calendar(settings).nth_working_day(period, -1))
    lang = employee.language.value
    last_day = chunk.last_day
    reply_to = settings.reply_address_for(token.token)
    subject_line = f"Re: [CLD-{token.short_code}] Sesi coaching {label(period, 'id')}"
    context = {
        "office_name": settings.office_name, "employee_name": employee.name,
        "supervisor_name": employee.supervisor_name or "-", "mentor_hint": True,
        "period": period, "short_code": token.short_code, "reply_code": token.token,
        "questions": {lang_: question_pair_for(period, lang_) for lang_ in ("id", "en")},
        "open_followups": chunk.followups.get(employee.id, []),
        "last_next_steps": chunk.next_steps.get(employee.id),
        "form": render_entry_form(None, lang),
        "rating_links": rating_links(reply_to, subject_line, lang),
        "needs_href": mailto(reply_to, subject_line, "Kebutuhan / Needs: "),
        "deadline_id": format_date(last_day, "id"), "deadline_en": format_date(last_day, "en"),
    }
    rendered = render(kind, lang, context)
    envelope = Envelope(to=[employee.email], to_name=employee.name, subject=rendered.subject, reply_to=reply_to)
    return build_message(settings, envelope, rendered)


def mailto(address: str, subject: str, body: str) -> str:
    """A mailto: link that opens a reply already addressed to our token address."""
    return f"mailto:{address}?subject={quote(subject)}&body={_quoted(body)}"


@functools.lru_cache(maxsize=64)
def _quoted(body: str) -> str:
    # The same few bodies (a form per rating and language, SETUJU, REVISI) for everyone.
    return quote(body)


@functools.lru_cache(maxsize=8)
def _rating_bodies(lang: str) -> tuple[tuple[int, str, str, str], ...]:
    """(number, Indonesian, English, the form with that rating filled in, URL-quoted), once per language."""
    # Percent-quoted text holds nothing HTML escapes, so rating_links can mark it safe as it is.
    return tuple((number, text_id, text_en, quote(render_entry_form({"rating": key}, lang)))
                 for key, number, text_id, text_en in RATINGS)


def rating_links(reply_to: str, subject: str, lang: str) -> list[dict]:
    """One link per rating: a click opens a reply with the whole form and that rating filled in.

    Each href is given to the HTML template already escaped: escaping five copies of the whole quoted form
    for every prompt was a twentieth of the prompt day's CPU, and only the head can hold a character to escape.
    """
    head = str(escape(f"mailto:{reply_to}?subject={quote(subject)}&body="))
    return [{"number": number, "id": text_id, "en": text_en, "href": Markup(head + body)}
            for number, text_id, text_en, body in _rating_bodies(lang)]


def open_followups_by_employee(session: Session, employee_ids: list[int], settings: Settings) -> dict[int, list[dict]]:
    """Each person's unresolved follow-up issues, oldest first, for their prompt."""
    rows = session.scalars(select(FollowUp).where(FollowUp.employee_id.in_(employee_ids),
                                                  FollowUp.state != FollowUpState.RESOLVED)
                           .options(selectinload(FollowUp.unit)).order_by(FollowUp.created_at)).all()
    found: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        found[row.employee_id].append({"text": row.text, "unit": row.unit.name, "state": row.state.value,
                                       "since": row.created_at.astimezone(settings.tz).date().isoformat()})
    return found


def last_next_steps_by_employee(session: Session, employee_ids: list[int], period: str) -> dict[int, str]:
    """The next steps written in each person's most recent entry before `period` (none if it has none).

    Only that one entry per person is read (a window over their entries): reading every earlier entry as an
    object made the prompt day slower with every month of history.
    """
    latest = (select(Entry.employee_id, Entry.next_steps, Entry.reviewer_next_steps,
                     func.row_number().over(partition_by=Entry.employee_id,
                                            order_by=(Entry.period.desc(), Entry.session_date.desc(),
                                                      Entry.id.desc())).label("recency"))
              .where(Entry.employee_id.in_(employee_ids), Entry.period < period).subquery())
    rows = session.execute(select(latest.c.employee_id, latest.c.next_steps, latest.c.reviewer_next_steps)
                           .where(latest.c.recency == 1))
    found = {employee_id: "\n".join(s for s in (steps, reviewer_steps) if s)
             for employee_id, steps, reviewer_steps in rows}
    return {k: v for k, v in found.items() if v}


@dataclass
class CloseReport:
    period: str
    already_closed: bool = False
    missed: list[str] = field(default_factory=list)
    notices: int = 0

    def as_dict(self) -> dict:
        return {"period": self.period, "already_closed": self.already_closed, "missed": len(self.missed),
                "notices": self.notices}


def close_period(factory: sessionmaker, settings: Settings, period: str, on_close=None) -> CloseReport:
    """Record missed sessions for `period` and tell each supervisor once; closing twice does nothing."""
    report = CloseReport(period)
    with factory() as session:
        try:
            with session.begin_nested():
                session.add(PeriodClose(period=period, closed_at=clock.now()))
        except IntegrityError:
            report.already_closed = True
            return report
        unanswered = session.scalars(select(Prompt).where(Prompt.period == period,
                                                          Prompt.state == PromptState.SENT)
                                     .order_by(Prompt.id)).all()
        by_supervisor: dict[int, list[Employee]] = defaultdict(list)
        for prompt in unanswered:
            audit.transition(session, prompt, PromptState.MISSED, allowed_from=[PromptState.SENT],
                             actor="period close", event="prompt.missed")
            report.missed.append(prompt.employee.nip)
            if prompt.employee.supervisor_id:
                by_supervisor[prompt.employee.supervisor_id].append(prompt.employee)
        for supervisor_id, people in by_supervisor.items():
            supervisor = session.get(Employee, supervisor_id)
            rendered = render("missed_notice", supervisor.language.value, {
                "office_name": settings.office_name, "supervisor_name": supervisor.name, "period": period,
                "people": [{"name": p.name, "nip": p.nip} for p in sorted(people, key=lambda p: p.name)]})
            message = build_message(settings, Envelope(to=[supervisor.email], to_name=supervisor.name,
                                                       subject=rendered.subject), rendered)
            outbox.enqueue(session, message, kind="missed_notice", dedupe_key=f"missed:{period}:{supervisor_id}",
                           employee_id=supervisor_id)
            report.notices += 1
        if on_close is not None:
            on_close(session, period)
        session.commit()
    return report


def close_due_periods(factory: sessionmaker, settings: Settings, now: datetime | None = None,
                      on_close=None) -> list[CloseReport]:
    """Close every finished period that has prompts and is not closed yet."""
    now = now or clock.now()
    calendar = office_calendar(settings)
    with factory() as session:
        open_periods = session.scalars(select(Prompt.period).distinct().where(
            ~exists().where(PeriodClose.period == Prompt.period))).all()
    due = sorted(p for p in open_periods if calendar.close_at(p) <= now)
    return [close_period(factory, settings, period, on_close) for period in due]
