"""Small shared look-ups: the office calendar from settings, people and their addresses."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.calendar import OfficeCalendar
from workflow.models import Employee, Unit
from workflow.settings import Settings


def office_calendar(settings: Settings) -> OfficeCalendar:
    """The calendar the settings describe (time zone, closures, prompt and reminder days)."""
    return OfficeCalendar(tz=settings.tz, closures=frozenset(settings.closure_dates),
                          prompt_working_day=settings.prompt_working_day, prompt_time=time(settings.prompt_hour, 0),
                          reminder_working_days=tuple(settings.reminder_working_days),
                          reminder_days_before_end=tuple(settings.reminder_days_before_end))


def local_date_text(value: datetime, settings: Settings, lang: str) -> str:
    """A date as people read it in the office: '3 Desember 2026' / '3 December 2026'."""
    from workflow.mail.forms import format_date

    return format_date(value.astimezone(settings.tz).date(), lang)


def head_of_office(session: Session) -> Employee | None:
    """The active head of office, if the roster names one."""
    return session.scalar(select(Employee).where(Employee.is_head, Employee.active))


def superiors(session: Session, person: Employee, limit: int = 20) -> list[Employee]:
    """Everyone above `person`, nearest first, loaded with one recursive query instead of one per level."""
    if person.supervisor_id is None:
        return []
    start = select(Employee.id, Employee.supervisor_id).where(Employee.id == person.supervisor_id)
    chain = start.cte("superiors", recursive=True)
    # UNION, not UNION ALL: a cycle in a hand-edited roster ends instead of looping.
    chain = chain.union(select(Employee.id, Employee.supervisor_id).join(chain, Employee.id == chain.c.supervisor_id))
    by_id = {p.id: p for p in session.scalars(select(Employee).where(Employee.id.in_(select(chain.c.id))))}
    found: list[Employee] = []
    current = by_id.get(person.supervisor_id)
    while current is not None and current not in found and len(found) < limit:
        found.append(current)
        current = by_id.get(current.supervisor_id)
    return found


def general_affairs_unit(session: Session, settings: Settings) -> Unit | None:
    """The unit that takes issues addressed to no known unit."""
    return session.scalar(select(Unit).where(Unit.name == settings.general_affairs_unit))


def employee_by_address(session: Session, address: str) -> Employee | None:
    """The active person who writes from `address` (main address or an alias)."""
    address = address.lower()
    found = session.scalar(select(Employee).where(Employee.email == address, Employee.active))
    if found is not None:
        return found
    for person in session.scalars(select(Employee).where(Employee.active, Employee.aliases.is_not(None))):
        if address in person.addresses():
            return person
    return None
