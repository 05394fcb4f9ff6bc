"""The monthly figures: pure queries turned into plain dataclasses, shared by files, emails and the CLI.

Definitions (the same words appear in docs and in the spreadsheet's "Catatan / Notes" sheet):

- **Prompted** (the denominator): employees with a prompt for the period. Prompts go only to active
  people who have a supervisor, so this is "active employees who were asked"; the head of office and
  people deactivated before the prompt day are not in it, and someone deactivated later stays in it.
- **Completed** (the numerator): prompted employees with at least one *signed* entry of the period.
  Completion rate = completed / prompted (0 when nobody was prompted).
- **Sessions**: every entry of the period in its current version, signed or not. Ratings are counted
  per session. **Over 60 minutes**: duration above 60 minutes (or flagged so by the form).
- **Status** of an employee: signed (≥ 1 signed entry), awaiting_signoff, revision_requested, missed
  (prompt marked missed at period close) or no_reply (the period is still open).
- **Pending sign-offs**: sign-off requests still pending for entries of the period; their age is in
  *working days* (office calendar) from the request day to the report day, because supervisors work
  to working-day reminders. Issue ages and time to resolve are in *calendar days*.
- **Issues**: opened = created in the period; resolved = resolved in the period; open = not resolved
  when the report is made. Days are counted in the office time zone (Asia/Jakarta).
- Every state is read as it is when the report is made (a snapshot), and unit and supervisor are
  taken from the current roster.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from workflow import clock
from workflow.calendar import period_bounds, previous_period
from workflow.mail.forms import RATINGS
from workflow.models import (Employee, Entry, EntryState, FollowUp, FollowUpState, Prompt, PromptState,
                             SignoffRequest, SignoffState)
from workflow.office import office_calendar
from workflow.settings import Settings

RATING_KEYS = [key for key, *_ in RATINGS]
# A higher score reads as better: very_useful = 4 ... not_useful = 1 (the form numbers them the other way).
SCORES = {key: 5 - number for key, number, *_ in RATINGS}
AGE_BUCKETS = (("0-7", 0, 7), ("8-14", 8, 14), ("15-30", 15, 30), (">30", 31, None))
OFFICE = "Kantor / Office"


@dataclass
class EmployeeLine:
    nip: str
    name: str
    unit: str
    supervisor: str
    status: str
    sessions: int = 0
    total_minutes: int = 0
    longest_minutes: int = 0
    over_hour: int = 0
    signed: int = 0
    pending: int = 0
    ratings: list[str] = field(default_factory=list)
    missed: bool = False


@dataclass
class UnitLine:
    unit: str
    prompted: int = 0
    completed: int = 0
    completion_rate: float = 0.0
    missed: int = 0
    sessions: int = 0
    over_hour: int = 0
    ratings: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RATING_KEYS, 0))
    signoffs_pending: int = 0
    oldest_pending_days: int | None = None
    issues_opened: int = 0
    issues_resolved: int = 0
    issues_open: int = 0
    open_by_age: dict[str, int] = field(default_factory=lambda: {name: 0 for name, *_ in AGE_BUCKETS})
    mean_days_to_resolve: float | None = None


@dataclass
class PendingLine:
    nip: str
    name: str
    unit: str
    signer: str
    session_date: date
    requested_on: date
    age_working_days: int


@dataclass
class IssueLine:
    id: int
    nip: str
    name: str
    unit: str
    text: str
    state: str
    opened_on: date
    deadline: date
    resolved_on: date | None
    age_days: int | None
    days_to_resolve: float | None
    overdue: bool
    escalation_level: int


@dataclass
class TrendLine:
    scope: str  # office | unit | employee
    name: str
    period: str
    prompted: int
    completed: int
    completion_rate: float
    sessions: int
    over_hour: int
    mean_score: float | None
    ratings: dict[str, int]


@dataclass
class MonthlyReport:
    period: str
    office_name: str
    as_of: date
    generated_at: datetime
    employees: list[EmployeeLine]
    units: list[UnitLine]
    office: UnitLine
    pending: list[PendingLine]
    issues: list[IssueLine]
    trends: list[TrendLine]

    def as_dict(self) -> dict:
        """Plain JSON-ready data (dates as ISO strings)."""
        return _plain(asdict(self))


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def _local_date(value: datetime, settings: Settings) -> date:
    return value.astimezone(settings.tz).date()


def _rate(done: int, asked: int) -> float:
    return round(done / asked, 4) if asked else 0.0


def _period_data(session: Session, period: str) -> tuple[list[Prompt], dict[int, list[Entry]]]:
    prompts = session.scalars(select(Prompt).where(Prompt.period == period)
                              .options(selectinload(Prompt.employee).selectinload(Employee.unit),
                                       selectinload(Prompt.employee).selectinload(Employee.supervisor))).all()
    entries: dict[int, list[Entry]] = defaultdict(list)
    for entry in session.scalars(select(Entry).where(Entry.period == period)
                                 .order_by(Entry.session_date, Entry.id)):
        entries[entry.employee_id].append(entry)
    return list(prompts), entries


def _is_over(entry: Entry) -> bool:
    return entry.over_hour or entry.duration_minutes > 60


def employee_line(prompt: Prompt, entries: list[Entry]) -> EmployeeLine:
    """One employee's month."""
    person = prompt.employee
    states = [e.state for e in entries]
    if EntryState.SIGNED in states:
        status = "signed"
    elif EntryState.AWAITING_SIGNOFF in states:
        status = "awaiting_signoff"
    elif states:
        status = "revision_requested"
    else:
        status = "missed" if prompt.state == PromptState.MISSED else "no_reply"
    return EmployeeLine(
        nip=person.nip, name=person.name, unit=person.unit.name if person.unit else "",
        supervisor=person.supervisor.name if person.supervisor else "", status=status, sessions=len(entries),
        total_minutes=sum(e.duration_minutes for e in entries),
        longest_minutes=max((e.duration_minutes for e in entries), default=0),
        over_hour=sum(1 for e in entries if _is_over(e)), signed=states.count(EntryState.SIGNED),
        pending=len(states) - states.count(EntryState.SIGNED), ratings=[e.rating for e in entries],
        missed=prompt.state == PromptState.MISSED)


def _add(total: UnitLine, line: EmployeeLine) -> None:
    total.prompted += 1
    total.completed += line.signed > 0
    total.missed += line.missed
    total.sessions += line.sessions
    total.over_hour += line.over_hour
    for key in line.ratings:
        total.ratings[key] = total.ratings.get(key, 0) + 1
    total.completion_rate = _rate(total.completed, total.prompted)


def monthly_report(session: Session, settings: Settings, period: str, *, trend_months: int = 6,
                   trend_nip: str | None = None) -> MonthlyReport:
    """Every figure of `period` as of now, with trends over the last `trend_months` periods."""
    now = clock.now()
    as_of = _local_date(now, settings)
    prompts, entries = _period_data(session, period)
    employees = sorted((employee_line(p, entries.get(p.employee_id, [])) for p in prompts),
                       key=lambda line: (line.unit, line.name))
    units: dict[str, UnitLine] = {}
    office = UnitLine(OFFICE)
    for line in employees:
        _add(units.setdefault(line.unit, UnitLine(line.unit)), line)
        _add(office, line)
    pending = pending_signoffs(session, settings, period, as_of)
    for item in pending:
        for total in (units.setdefault(item.unit, UnitLine(item.unit)), office):
            total.signoffs_pending += 1
            total.oldest_pending_days = max(total.oldest_pending_days or 0, item.age_working_days)
    issues = issue_lines(session, settings, period, as_of)
    _add_issues(units, office, issues, period)
    return MonthlyReport(period=period, office_name=settings.office_name, as_of=as_of, generated_at=now,
                         employees=employees, units=sorted(units.values(), key=lambda u: u.unit), office=office,
                         pending=pending, issues=issues,
                         trends=trends(session, period, trend_months, trend_nip))


def pending_signoffs(session: Session, settings: Settings, period: str, as_of: date) -> list[PendingLine]:
    """Sign-off requests still pending for entries of `period`, oldest first."""
    calendar = office_calendar(settings)
    rows = session.scalars(select(SignoffRequest).join(Entry, SignoffRequest.entry_id == Entry.id)
                           .where(Entry.period == period, SignoffRequest.state == SignoffState.PENDING)
                           .order_by(SignoffRequest.requested_on, SignoffRequest.id)).all()
    return [PendingLine(nip=r.entry.employee.nip, name=r.entry.employee.name,
                        unit=r.entry.employee.unit.name if r.entry.employee.unit else "", signer=r.signer.name,
                        session_date=r.entry.session_date, requested_on=r.requested_on,
                        age_working_days=max(0, calendar.working_days_between(r.requested_on, as_of)))
            for r in rows]


def issue_lines(session: Session, settings: Settings, period: str, as_of: date) -> list[IssueLine]:
    """Issues opened or resolved in `period`, and every issue still open."""
    first, last = period_bounds(period)
    start = datetime.combine(first, time(), settings.tz)
    end = datetime.combine(last + timedelta(days=1), time(), settings.tz)
    rows = session.scalars(select(FollowUp).where(or_(
        FollowUp.state != FollowUpState.RESOLVED, FollowUp.created_at.between(start, end),
        FollowUp.resolved_at.between(start, end))).order_by(FollowUp.created_at, FollowUp.id)).all()
    lines = []
    for issue in rows:
        opened = _local_date(issue.created_at, settings)
        resolved = _local_date(issue.resolved_at, settings) if issue.resolved_at else None
        is_open = issue.state != FollowUpState.RESOLVED
        if not (is_open or first <= opened <= last or (resolved and first <= resolved <= last)):
            continue
        lines.append(IssueLine(
            id=issue.id, nip=issue.employee.nip, name=issue.employee.name, unit=issue.unit.name, text=issue.text,
            state=issue.state.value, opened_on=opened, deadline=issue.deadline, resolved_on=resolved,
            age_days=(as_of - opened).days if is_open else None,
            days_to_resolve=round((issue.resolved_at - issue.created_at).total_seconds() / 86400, 2)
            if issue.resolved_at and not is_open else None,
            overdue=is_open and as_of > issue.deadline, escalation_level=issue.escalation_level))
    return lines


def _add_issues(units: dict[str, UnitLine], office: UnitLine, issues: list[IssueLine], period: str) -> None:
    first, last = period_bounds(period)
    spans: dict[str, list[float]] = defaultdict(list)
    for issue in issues:
        for total in (units.setdefault(issue.unit, UnitLine(issue.unit)), office):
            total.issues_opened += first <= issue.opened_on <= last
            if issue.resolved_on and first <= issue.resolved_on <= last:
                total.issues_resolved += 1
                spans[total.unit].append(issue.days_to_resolve)
            if issue.age_days is not None:
                total.issues_open += 1
                total.open_by_age[_bucket(issue.age_days)] += 1
    for total in [*units.values(), office]:
        if spans[total.unit]:
            total.mean_days_to_resolve = round(sum(spans[total.unit]) / len(spans[total.unit]), 1)


def _bucket(days: int) -> str:
    for name, low, high in AGE_BUCKETS:
        if days >= low and (high is None or days <= high):
            return name
    return AGE_BUCKETS[0][0]


def recent_periods(period: str, months: int) -> list[str]:
    """`months` periods ending with `period`, oldest first."""
    periods = [period]
    while len(periods) < months:
        periods.append(previous_period(periods[-1]))
    return periods[::-1]


def _trend_line(scope: str, name: str, period: str, lines: list[EmployeeLine]) -> TrendLine:
    ratings = Counter(key for line in lines for key in line.ratings)
    scores = [SCORES[key] for key in ratings.elements() if key in SCORES]
    completed = sum(1 for line in lines if line.signed)
    return TrendLine(scope=scope, name=name, period=period, prompted=len(lines), completed=completed,
                     completion_rate=_rate(completed, len(lines)), sessions=sum(line.sessions for line in lines),
                     over_hour=sum(line.over_hour for line in lines),
                     mean_score=round(sum(scores) / len(scores), 2) if scores else None,
                     ratings={key: ratings.get(key, 0) for key in RATING_KEYS})


def trends(session: Session, period: str, months: int = 6, nip: str | None = None) -> list[TrendLine]:
    """Per period: the office, each unit and (with `nip`) one employee: sessions, completion, ratings."""
    result = []
    for each in recent_periods(period, months):
        prompts, entries = _period_data(session, each)
        lines = [employee_line(p, entries.get(p.employee_id, [])) for p in prompts]
        result.append(_trend_line("office", OFFICE, each, lines))
        by_unit: dict[str, list[EmployeeLine]] = defaultdict(list)
        for line in lines:
            by_unit[line.unit].append(line)
        result += [_trend_line("unit", unit, each, by_unit[unit]) for unit in sorted(by_unit)]
        if nip:
            mine = [line for line in lines if line.nip == nip]
            result.append(_trend_line("employee", mine[0].name if mine else nip, each, mine))
    return result


def team_lines(report: MonthlyReport, session: Session, supervisor: Employee) -> list[EmployeeLine]:
    """The lines of `supervisor`'s direct reports."""
    nips = set(session.scalars(select(Employee.nip).where(Employee.supervisor_id == supervisor.id)))
    return [line for line in report.employees if line.nip in nips]
