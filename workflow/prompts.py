"""The monthly cycle: prompts on the prompt day, reminders, and closing a period with missed sessions."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from urllib.parse import quote

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from workflow import audit, clock, outbox, tokens
from workflow.appreciative import question_pair_for
from workflow.calendar import due_prompt_period, due_reminder, label
from workflow.mail.forms import RATINGS, format_date, render_entry_form
from workflow.mail.outbound import Envelope, build_message, render
from workflow.nudges import recently_nudged
from workflow.models import (Employee, Entry, FollowUp, FollowUpState, PeriodClose, Prompt, PromptState,
                             ReplyToken, TokenPurpose)
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
                for employee_id in session.scalars(eligible_employees(run.period)).all():
                    run.prompted += create_prompt(session, settings, run.period, employee_id)
                    if progress:
                        progress(1)
    run.reminder_day = due_reminder(calendar, now)
    if run.reminder_day is not None:
        run.reminded = send_due_reminders(factory, settings, calendar.period_of(now), run.reminder_day)
    return run


def create_prompt(session: Session, settings: Settings, period: str, employee_id: int) -> bool:
    """Create one prompt with its token and queued email, committed together; False if it already existed."""
    try:
        prompt = Prompt(period=period, employee_id=employee_id)
        session.add(prompt)
        session.flush()
        employee = session.get(Employee, employee_id)
        token = tokens.issue(session, TokenPurpose.PROMPT, days=settings.token_days, owner_id=employee_id,
                             prompt_id=prompt.id)
        message = prompt_message(session, settings, prompt, employee, token, "prompt")
        outbox.enqueue(session, message, kind="prompt", dedupe_key=f"prompt:{prompt.id}", employee_id=employee_id,
                       token_id=token.id)
        audit.record(session, actor="prompts", subject=prompt, event="prompt.sent", to_state=prompt.state.value)
        session.commit()
    except IntegrityError:
        # Another worker created this (period, employee) prompt first; its email is already queued.
        session.rollback()
        return False
    return True


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
            message = prompt_message(session, settings, prompt, prompt.employee, token, "reminder")
            outbox.enqueue(session, message, kind="reminder", dedupe_key=f"reminder:{prompt.id}:{day.isoformat()}",
                           employee_id=prompt.employee_id, token_id=token.id)
            audit.record(session, actor="prompts", subject=prompt, event="prompt.reminded", day=day.isoformat())
            session.commit()
            sent += 1
    return sent


def prompt_message(session: Session, settings: Settings, prompt: Prompt, employee: Employee, token: ReplyToken,
                   kind: str):
    """Render the prompt or reminder email for `employee`."""
    lang = employee.language.value
    supervisor = employee.supervisor
    calendar = office_calendar(settings)
    last_day = calendar.nth_working_day(prompt.period, -1)
    reply_to = settings.reply_address_for(token.token)
    subject_line = f"Re: [CLD-{token.short_code}] Sesi coaching {label(prompt.period, 'id')}"
    context = {
        "office_name": settings.office_name, "employee_name": employee.name,
        "supervisor_name": supervisor.name if supervisor else "-", "mentor_hint": True,
        "period": prompt.period, "short_code": token.short_code, "reply_code": token.token,
        "questions": {lang_: question_pair_for(prompt.period, lang_) for lang_ in ("id", "en")},
        "open_followups": open_followups_of(session, employee.id, settings),
        "last_next_steps": last_next_steps(session, employee.id, prompt.period),
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
    return f"mailto:{address}?subject={quote(subject)}&body={quote(body)}"


def rating_links(reply_to: str, subject: str, lang: str) -> list[dict]:
    """One link per rating: a click opens a reply with the whole form and that rating filled in."""
    links = []
    for key, number, text_id, text_en in RATINGS:
        body = render_entry_form({"rating": key}, lang)
        links.append({"number": number, "id": text_id, "en": text_en, "href": mailto(reply_to, subject, body)})
    return links


def open_followups_of(session: Session, employee_id: int, settings: Settings) -> list[dict]:
    """The employee's unresolved follow-up issues, oldest first, for the prompt."""
    rows = session.scalars(select(FollowUp).where(FollowUp.employee_id == employee_id,
                                                  FollowUp.state != FollowUpState.RESOLVED)
                           .order_by(FollowUp.created_at)).all()
    return [{"text": row.text, "unit": row.unit.name, "state": row.state.value,
             "since": row.created_at.astimezone(settings.tz).date().isoformat()} for row in rows]


def last_next_steps(session: Session, employee_id: int, period: str) -> str | None:
    """The next steps written in the employee's most recent entry before `period`."""
    entry = session.scalar(select(Entry).where(Entry.employee_id == employee_id, Entry.period < period)
                           .order_by(Entry.period.desc(), Entry.session_date.desc(), Entry.id.desc()))
    if entry is None:
        return None
    steps = "\n".join(s for s in (entry.next_steps, entry.reviewer_next_steps) if s)
    return steps or None


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
