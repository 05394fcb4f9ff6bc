"""The two escalation ladders in one idempotent job: pending sign-offs and overdue follow-up issues.

Each rung is claimed with a conditional UPDATE on `escalation_level` before its mail is queued, in the
same transaction, so a job that runs every minute, or in two workers at once, sends every rung once.
A job that was down catches up: every rung that fell due is climbed, each exactly once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date, datetime, time

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from workflow import audit, clock, followups, signoff, tokens
from workflow.calendar import OfficeCalendar
from workflow.mail.forms import format_date
from workflow.models import Employee, FollowUp, FollowUpState, ReplyToken, SignoffRequest, SignoffState
from workflow.nudges import recently_nudged
from workflow.office import head_of_office, office_calendar
from workflow.prompts import mailto
from workflow.replies import notify
from workflow.settings import Settings

# Working days between the rungs of the follow-up ladder: reminder, unit head, head of office.
FOLLOWUP_STEP_DAYS = 5
FOLLOWUP_TOP = 3


@dataclass
class EscalationRun:
    signoff_reminders: int = 0
    signoff_reminded: int = 0
    signoff_escalations: int = 0
    followup_reminders: int = 0
    followup_escalations: int = 0
    skipped: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def run(factory: sessionmaker, settings: Settings, now: datetime | None = None) -> dict:
    """Take every rung of both ladders that is due as of `now`; safe to run every minute, in parallel."""
    now = now or clock.now()
    calendar = office_calendar(settings)
    local = now.astimezone(settings.tz)
    report = EscalationRun()
    # Reminders and escalations go out in office hours on working days, never at midnight or on a Sunday.
    if not calendar.is_working_day(local.date()) or local.time() < time(settings.prompt_hour):
        report.skipped = "outside office hours"
        return report.as_dict()
    with clock.frozen_at(now):
        remind_signers(factory, settings, calendar, local.date(), report)
        escalate_signoffs(factory, settings, calendar, local.date(), report)
        climb_followups(factory, settings, calendar, local.date(), report)
    return report.as_dict()


def signoff_level_due(settings: Settings, waited: int) -> int:
    """The sign-off rung due after `waited` working days: 0 none, 1 reminder, 2+ the k-th superior up."""
    if waited < settings.signoff_reminder_days:
        return 0
    return 1 + (waited - settings.signoff_reminder_days) // settings.signoff_escalation_days


def followup_level_due(settings: Settings, overdue: int) -> int:
    """The follow-up rung due `overdue` working days after the deadline: 1 unit, 2 unit head, 3 head of office."""
    step = settings.followup_escalation_days
    if overdue < 1:
        return 0
    return min(FOLLOWUP_TOP, 1 + (overdue - 1) // step)


def remind_signers(factory: sessionmaker, settings: Settings, calendar: OfficeCalendar, today: date,
                   report: EscalationRun) -> None:
    """One combined reminder per signer for all their requests that reached the reminder day."""
    with factory() as session:
        rows = session.execute(select(SignoffRequest.id, SignoffRequest.signer_id, SignoffRequest.requested_on)
                               .where(SignoffRequest.state == SignoffState.PENDING,
                                      SignoffRequest.escalation_level == 0)
                               .order_by(SignoffRequest.id)).all()
    by_signer: dict[int, list[int]] = defaultdict(list)
    for request_id, signer_id, requested_on in rows:
        if signoff_level_due(settings, calendar.working_days_between(requested_on, today)) >= 1:
            by_signer[signer_id].append(request_id)
    for signer_id, request_ids in by_signer.items():
        with factory() as session:
            if recently_nudged(session, signer_id, clock.now(), settings.nudge_interval_days):
                # One nudge a week: the requests stay due and go out together once the week has passed.
                continue
            claimed = [request_id for request_id in request_ids if _claim_signoff(session, request_id, 0, {
                "reminded_at": clock.now()})]
            if not claimed:
                session.rollback()
                continue
            requests = [session.get(SignoffRequest, request_id, populate_existing=True) for request_id in claimed]
            _send_reminder(session, settings, calendar, today, session.get(Employee, signer_id), requests)
            session.commit()
            report.signoff_reminders += 1
            report.signoff_reminded += len(claimed)


def _claim_signoff(session: Session, request_id: int, level: int, values: dict) -> bool:
    return session.execute(
        update(SignoffRequest).where(SignoffRequest.id == request_id, SignoffRequest.state == SignoffState.PENDING,
                                     SignoffRequest.escalation_level == level)
        .values(escalation_level=level + 1, **values).execution_options(synchronize_session=False)).rowcount == 1


def _usable_token(session: Session, settings: Settings, request: SignoffRequest) -> ReplyToken:
    token = session.get(ReplyToken, request.token_id) if request.token_id else None
    if token is None or tokens.unusable_reason(token) is not None:
        token = signoff._issue(session, settings, request.signer, request.entry)
        request.token_id = token.id
    return token


def _send_reminder(session: Session, settings: Settings, calendar: OfficeCalendar, today: date, signer: Employee,
                   requests: list[SignoffRequest]) -> None:
    items = []
    for request in requests:
        token = _usable_token(session, settings, request)
        entry = request.entry
        reply_to = settings.reply_address_for(token.token)
        subject = f"Re: [CLD-{token.short_code}] {entry.employee.name}"
        items.append({"employee_name": entry.employee.name, "topic": entry.topic, "version": entry.version,
                      "session_date_id": format_date(entry.session_date, "id"),
                      "session_date_en": format_date(entry.session_date, "en"),
                      "waiting_days": calendar.working_days_between(request.requested_on, today),
                      "short_code": token.short_code, "reply_address": reply_to, "token": token,
                      "approve_href": mailto(reply_to, subject, "SETUJU\n\n" + "\n".join(signoff.ANSWER_LABELS)),
                      "revise_href": mailto(reply_to, subject, "REVISI\n\nAlasan / Reasons: \n")})
        audit.record(session, actor="escalations", subject=request, event="signoff.reminded", level=1)
    single = items[0]["token"] if len(items) == 1 else None
    context = {"person_name": signer.name, "items": items, "count": len(items),
               "short_code": single.short_code if single else "", "reply_code": single.token if single else ""}
    notify(session, settings, signer, "signoff_reminder", context,
           dedupe=f"signoff-reminder:{signer.id}:" + ",".join(str(r.id) for r in requests),
           reply_to=settings.reply_address_for(single.token) if single else None,
           token_id=single.id if single else None)


def superiors(session: Session, person: Employee) -> list[Employee]:
    """The active people above `person`, nearest first, ending with the head of office."""
    chain: list[Employee] = []
    current = person
    while True:
        above = signoff.active_superior(session, current)
        if above is None or above.id == person.id or any(p.id == above.id for p in chain):
            return chain
        chain.append(above)
        current = above


def escalate_signoffs(factory: sessionmaker, settings: Settings, calendar: OfficeCalendar, today: date,
                      report: EscalationRun) -> None:
    """Hand each long-pending request one rung up: the signer's supervisor, then theirs, up to the head."""
    with factory() as session:
        rows = session.execute(select(SignoffRequest.id, SignoffRequest.requested_on, SignoffRequest.escalation_level)
                               .where(SignoffRequest.state == SignoffState.PENDING,
                                      SignoffRequest.escalation_level >= 1)
                               .order_by(SignoffRequest.id)).all()
    for request_id, requested_on, level in rows:
        waited = calendar.working_days_between(requested_on, today)
        for current in range(level, signoff_level_due(settings, waited)):
            if not _escalate_one(factory, settings, request_id, current, waited):
                break
            report.signoff_escalations += 1


def _escalate_one(factory: sessionmaker, settings: Settings, request_id: int, level: int, waited: int) -> bool:
    with factory() as session:
        request = session.get(SignoffRequest, request_id)
        chain = superiors(session, request.signer)
        if level - 1 >= len(chain):
            return False  # the head of office already has it; nobody is above
        target = chain[level - 1]
        if not _claim_signoff(session, request_id, level, {"escalated_to_id": target.id}):
            session.rollback()
            return False
        session.refresh(request)
        # The person above may decide in the signer's place, with a one-time token of their own.
        token = signoff._issue(session, settings, target, request.entry)
        signoff.send_request(session, settings, request.entry, target, token, kind="signoff_escalation",
                             dedupe=f"signoff-escalation:{request.id}:{level + 1}", signer_name=request.signer.name,
                             waiting_days=waited)
        audit.record(session, actor="escalations", subject=request, event="signoff.escalated", level=level + 1,
                     to=target.email)
        session.commit()
        return True


def climb_followups(factory: sessionmaker, settings: Settings, calendar: OfficeCalendar, today: date,
                    report: EscalationRun) -> None:
    """Remind the unit, then its head, then the head of office, about each issue past its deadline."""
    with factory() as session:
        rows = session.execute(select(FollowUp.id, FollowUp.deadline, FollowUp.escalation_level)
                               .where(FollowUp.state != FollowUpState.RESOLVED,
                                      FollowUp.escalation_level < FOLLOWUP_TOP,
                                      FollowUp.deadline < today)
                               .order_by(FollowUp.id)).all()
    for issue_id, deadline, level in rows:
        for current in range(level, followup_level_due(settings, calendar.working_days_between(deadline, today))):
            if not _climb_one(factory, settings, issue_id, current):
                break
            if current == 0:
                report.followup_reminders += 1
            else:
                report.followup_escalations += 1


def _climb_one(factory: sessionmaker, settings: Settings, issue_id: int, level: int) -> bool:
    with factory() as session:
        claimed = session.execute(
            update(FollowUp).where(FollowUp.id == issue_id, FollowUp.escalation_level == level,
                                   FollowUp.state != FollowUpState.RESOLVED)
            .values(escalation_level=level + 1).execution_options(synchronize_session=False)).rowcount
        if claimed != 1:
            session.rollback()
            return False
        issue = session.get(FollowUp, issue_id, populate_existing=True)
        rung = level + 1
        dedupe = f"followup:{issue.id}:level:{rung}"
        if rung == 1:
            sent = followups.send_to_unit(session, settings, issue, "followup_reminder", dedupe=dedupe)
            to = issue.unit.email or (issue.unit.head.email if issue.unit.head else "")
        else:
            person = issue.unit.head if rung == 2 else head_of_office(session)
            sent = person is not None and followups.send_to_unit(
                session, settings, issue, "followup_escalation", dedupe=dedupe, to=person,
                audience="unit_head" if rung == 2 else "head_of_office",
                unit_head_name=issue.unit.head.name if issue.unit.head else "-")
            to = person.email if person is not None else ""
        audit.record(session, actor="escalations", subject=issue, event="followup.escalated", level=rung,
                     to=to if sent else "", sent=bool(sent))
        session.commit()
        return True
