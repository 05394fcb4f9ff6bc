"""Digest emails at period close: the office summary with the XLSX, and each supervisor's team view.

Pass `on_close` to `prompts.close_period`; it runs inside the close's transaction, so the digests are
queued with the close and sent after commit. Dedupe keys (`digest:{period}:{address}`,
`team_digest:{period}:{address}`) make a repeated close, or a second call, send nothing twice.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow import outbox
from workflow.diary import rating_text
from workflow.mail.outbound import Attachment, Envelope, build_message, render
from workflow.models import Employee, OutboundMessage
from workflow.office import head_of_office
from workflow.report_files import default_name, xlsx_bytes
from workflow.reports import MonthlyReport, monthly_report, team_lines
from workflow.settings import Settings

XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
STATUS = {"signed": ("Ditandatangani", "Signed"), "awaiting_signoff": ("Menunggu TTD", "Awaiting sign-off"),
          "revision_requested": ("Perlu perbaikan", "Revision requested"), "missed": ("Terlewat", "Missed"),
          "no_reply": ("Belum membalas", "No reply yet")}


def on_close(settings: Settings):
    """The hook for `prompts.close_period(..., on_close=digest.on_close(settings))`."""
    return lambda session, period: queue_digests(session, settings, period)


def queue_digests(session: Session, settings: Settings, period: str) -> int:
    """Queue the office digest (head of office, HR) and every supervisor's team digest; returns how many."""
    report = monthly_report(session, settings, period)
    queued = 0
    attachment = Attachment(default_name(period, "xlsx"), xlsx_bytes(report), *XLSX_TYPE)
    for address, name, lang, person_id in office_recipients(session, settings):
        queued += _queue(session, settings, "digest", f"digest:{period}:{address}", address, name, lang, person_id,
                         {"name": name, **digest_context(report)}, [attachment])
    for supervisor in supervisors(session, period):
        lines = team_lines(report, session, supervisor)
        if not lines:
            continue
        context = team_context(report, lines, supervisor)
        queued += _queue(session, settings, "team_digest", f"team_digest:{period}:{supervisor.email.lower()}",
                         supervisor.email.lower(), supervisor.name, supervisor.language.value, supervisor.id, context)
    return queued


def office_recipients(session: Session, settings: Settings) -> list[tuple[str, str, str, int | None]]:
    """(address, name, language, employee id) of the head of office and the HR mailbox, without repeats."""
    found = []
    head = head_of_office(session)
    if head is not None:
        found.append((head.email.lower(), head.name, head.language.value, head.id))
    elif settings.head_of_office_email:
        found.append((settings.head_of_office_email, "Kepala Kantor", "id", None))
    if settings.hr_email:
        found.append((settings.hr_email, "Bagian SDM / HR", "id", None))
    seen: set[str] = set()
    return [r for r in found if not (r[0] in seen or seen.add(r[0]))]


def supervisors(session: Session, period: str) -> list[Employee]:
    """Active people who supervise someone prompted in `period`."""
    from workflow.models import Prompt

    ids = select(Employee.supervisor_id).join(Prompt, Prompt.employee_id == Employee.id).where(Prompt.period == period)
    return list(session.scalars(select(Employee).where(Employee.id.in_(ids), Employee.active).order_by(Employee.name)))


def _queue(session: Session, settings: Settings, kind: str, key: str, address: str, name: str, lang: str,
           person_id: int | None, context: dict, attachments: list[Attachment] | None = None) -> int:
    # Checked before rendering so a repeated close does no work; the unique key stays the backstop.
    if session.scalar(select(OutboundMessage.id).where(OutboundMessage.dedupe_key == key)) is not None:
        return 0
    rendered = render(kind, lang, {"office_name": settings.office_name, **context})
    message = build_message(settings, Envelope(to=[address], to_name=name, subject=rendered.subject), rendered,
                            attachments)
    outbox.enqueue(session, message, kind=kind, dedupe_key=key, employee_id=person_id)
    return 1


def _percent(rate: float) -> str:
    return f"{rate * 100:.0f}%"


def digest_context(report: MonthlyReport) -> dict:
    """What the office digest shows: completion per unit, missed names, stuck issues, pending sign-offs."""
    office = report.office
    return {
        "period": report.period, "as_of": report.as_of.isoformat(),
        "units": [{"unit": u.unit, "prompted": u.prompted, "completed": u.completed,
                   "rate": _percent(u.completion_rate), "missed": u.missed, "over_hour": u.over_hour}
                  for u in report.units if u.prompted],
        "office": {"prompted": office.prompted, "completed": office.completed, "rate": _percent(office.completion_rate),
                   "missed": office.missed, "sessions": office.sessions, "over_hour": office.over_hour,
                   "pending": office.signoffs_pending, "oldest": office.oldest_pending_days or 0,
                   "issues_open": office.issues_open, "issues_opened": office.issues_opened,
                   "issues_resolved": office.issues_resolved},
        "ratings": [{"id": rating_text(k, "id"), "en": rating_text(k, "en"), "count": n}
                    for k, n in office.ratings.items()],
        "missed": [{"name": e.name, "unit": e.unit} for e in sorted(report.employees, key=lambda e: (e.unit, e.name))
                   if e.missed],
        "stuck": [{"text": i.text, "unit": i.unit, "age": i.age_days, "deadline": i.deadline.isoformat()}
                  for i in sorted(report.issues, key=lambda i: -(i.age_days or 0)) if i.overdue],
    }


def team_context(report: MonthlyReport, lines, supervisor: Employee) -> dict:
    """A supervisor's direct reports: status, sessions, minutes and ratings of each."""
    return {
        "name": supervisor.name, "period": report.period,
        "completed": sum(1 for line in lines if line.signed), "total": len(lines),
        "people": [{"name": line.name, "nip": line.nip, "status_id": STATUS[line.status][0],
                    "status_en": STATUS[line.status][1], "sessions": line.sessions, "minutes": line.total_minutes,
                    "over_hour": line.over_hour, "pending": line.pending,
                    "ratings_id": ", ".join(rating_text(r, "id") for r in line.ratings) or "-",
                    "ratings_en": ", ".join(rating_text(r, "en") for r in line.ratings) or "-"} for line in lines],
        "pending": [p for p in report.pending if p.nip in {line.nip for line in lines}],
    }
