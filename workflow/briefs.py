"""The supervisor's monthly brief: one email per supervisor about their team, on the prompt day."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, sessionmaker

from workflow import clock, outbox
from workflow.appreciative import supervisor_guide
from workflow.calendar import due_prompt_period, previous_period
from workflow.diary import rating_text
from workflow.mail.forms import format_date
from workflow.mail.outbound import Envelope, build_message, render
from workflow.models import Employee, Entry, FollowUp, FollowUpState, OutboundMessage, PeriodClose, Prompt
from workflow.office import office_calendar
from workflow.settings import Settings


@dataclass
class TeamMember:
    employee: Employee
    relation: str  # "direct" or "mentee"


def send_due_briefs(factory: sessionmaker, settings: Settings, now: datetime | None = None) -> int:
    """Queue each supervisor's brief once the prompt day's brief hour has come; idempotent."""
    now = now or clock.now()
    calendar = office_calendar(settings)
    period = due_prompt_period(calendar, now)
    if period is None:
        return 0
    brief_at = calendar.prompt_at(period).replace(hour=settings.brief_hour, minute=0)
    if now < brief_at:
        return 0
    sent = 0
    with factory() as session:
        if session.get(PeriodClose, period) is not None:
            return 0
        for supervisor, members in teams(session, period).items():
            key = f"brief:{period}:{supervisor.id}"
            if session.scalar(select(exists().where(OutboundMessage.dedupe_key == key))):
                continue
            queue_brief(session, settings, period, supervisor, members, key)
            session.commit()
            sent += 1
    return sent


def teams(session: Session, period: str) -> dict[Employee, list[TeamMember]]:
    """Each supervisor's people this period: direct reports, and mentees who chose them as mentor."""
    prompted = session.scalars(select(Employee).join(Prompt, Prompt.employee_id == Employee.id)
                               .where(Prompt.period == period).order_by(Employee.name)).all()
    result: dict[Employee, list[TeamMember]] = defaultdict(list)
    for person in prompted:
        if person.supervisor is not None and person.supervisor.active:
            result[person.supervisor].append(TeamMember(person, "direct"))
        mentor = latest_mentor(session, person)
        if mentor is not None and mentor.active and mentor.id != person.supervisor_id:
            result[mentor].append(TeamMember(person, "mentee"))
    return dict(sorted(result.items(), key=lambda item: item[0].name))


def latest_mentor(session: Session, person: Employee) -> Employee | None:
    """The mentor of the person's most recent session, when it was someone on the roster."""
    entry = session.scalar(select(Entry).where(Entry.employee_id == person.id, Entry.mentor_id.is_not(None))
                           .order_by(Entry.session_date.desc(), Entry.id.desc()))
    return entry.mentor if entry is not None else None


def member_view(session: Session, settings: Settings, period: str, member: TeamMember, lang: str) -> dict:
    """What a supervisor should know about one person before this month's session."""
    person = member.employee
    entries = session.scalars(select(Entry).where(Entry.employee_id == person.id)
                              .order_by(Entry.session_date.desc(), Entry.id.desc())).all()
    last = entries[0] if entries else None
    months = [previous_period(period)]  # the three months before this one, oldest first
    for _ in range(2):
        months.insert(0, previous_period(months[0]))
    trend = []
    for month in months:
        ratings = [rating_text(e.rating, lang) for e in entries if e.period == month]
        trend.append({"period": month, "ratings": ", ".join(ratings) or "-"})
    prompt = session.scalar(select(Prompt).where(Prompt.period == period, Prompt.employee_id == person.id))
    issues = session.scalars(select(FollowUp).where(FollowUp.employee_id == person.id,
                                                    FollowUp.state != FollowUpState.RESOLVED)
                             .order_by(FollowUp.created_at)).all()
    steps = next((s for e in entries for s in ("\n".join(x for x in (e.next_steps, e.reviewer_next_steps) if x),)
                  if s), "")
    return {
        "name": person.name, "nip": person.nip, "position": person.position, "relation": member.relation,
        "last_session": format_date(last.session_date, lang) if last else None,
        "last_topic": last.topic if last else None,
        "objectives": [e.objectives for e in entries[:3] if e.objectives],
        "next_steps": steps,
        "trend": trend,
        "issues": [{"text": i.text, "unit": i.unit.name, "state": i.state.value} for i in issues],
        "needs": prompt.needs if prompt is not None else None,
        "held_this_month": any(e.period == period for e in entries),
    }


def queue_brief(session: Session, settings: Settings, period: str, supervisor: Employee,
                members: list[TeamMember], key: str) -> OutboundMessage:
    """Render and queue one supervisor's brief."""
    views = {lang: [member_view(session, settings, period, m, lang) for m in members] for lang in ("id", "en")}
    context = {
        "office_name": settings.office_name, "supervisor_name": supervisor.name, "period": period,
        "people": views, "not_yet": [v["name"] for v in views["id"] if not v["held_this_month"]],
        "guide": {lang: supervisor_guide(lang) for lang in ("id", "en")},
    }
    rendered = render("brief", supervisor.language.value, context)
    message = build_message(settings, Envelope(to=[supervisor.email], to_name=supervisor.name,
                                               subject=rendered.subject), rendered)
    return outbox.enqueue(session, message, kind="brief", dedupe_key=key, employee_id=supervisor.id)
