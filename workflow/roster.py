"""The roster: employees, supervisors and units, imported from CSV or XLSX."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow import audit
from workflow.models import Employee, Language, Unit

EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")

# Header names accepted for each column, English and Indonesian.
PEOPLE_COLUMNS = {
    "nip": ("nip",),
    "name": ("name", "nama"),
    "email": ("email", "surel", "e-mail"),
    "position": ("position", "jabatan"),
    "unit": ("unit", "unit kerja", "unit_kerja"),
    "supervisor_nip": ("supervisor_nip", "nip_atasan", "nip atasan"),
    "language": ("language", "bahasa"),
    "aliases": ("aliases", "alias"),
    "role": ("role", "peran"),
}
UNIT_COLUMNS = {
    "unit": ("unit", "name", "nama", "nama unit"),
    "email": ("email", "mailbox", "surel"),
    "head_nip": ("head_nip", "nip_kepala", "nip kepala"),
}
REQUIRED_PEOPLE = ("nip", "name", "email", "unit")


class RosterError(Exception):
    """The import was refused; `problems` lists every bad row."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class Person:
    row: int
    nip: str
    name: str
    email: str
    position: str
    unit: str
    supervisor_nip: str
    language: str
    aliases: list[str]
    is_head: bool


@dataclass
class UnitRow:
    row: int
    name: str
    email: str
    head_nip: str


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deactivated)


def read_table(path: Path, sheet: str | None = None) -> list[tuple[int, dict[str, str]]]:
    """Rows of a CSV file or an XLSX sheet as (row number, {lowercased header: text})."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_xlsx(path, sheet)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        sample = handle.read(4096)
        handle.seek(0)
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample else csv.excel
        reader = csv.reader(handle, dialect)
        rows = list(reader)
    return _rows_with_headers(rows)


def _read_xlsx(path: Path, sheet: str | None) -> list[tuple[int, dict[str, str]]]:
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=True)
    if sheet is None:
        worksheet = book.worksheets[0]
    elif sheet in book.sheetnames:
        worksheet = book[sheet]
    else:
        return []
    rows = [["" if v is None else str(v) for v in row] for row in worksheet.iter_rows(values_only=True)]
    return _rows_with_headers(rows)


def xlsx_has_sheet(path: Path, sheet: str) -> bool:
    from openpyxl import load_workbook

    return sheet in load_workbook(path, read_only=True).sheetnames


def _rows_with_headers(rows: list[list[str]]) -> list[tuple[int, dict[str, str]]]:
    if not rows:
        return []
    headers = [h.strip().lower() for h in rows[0]]
    result = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        result.append((number, {h: (row[i].strip() if i < len(row) else "") for i, h in enumerate(headers)}))
    return result


def _pick(record: dict[str, str], names: tuple[str, ...]) -> str:
    for name in names:
        if name in record:
            return record[name]
    return ""


def _missing_columns(rows, columns, required) -> list[str]:
    if not rows:
        return []
    headers = rows[0][1].keys()
    return [key for key in required if not any(name in headers for name in columns[key])]


def parse_people(rows: list[tuple[int, dict[str, str]]]) -> tuple[list[Person], list[str]]:
    """Turn table rows into people, collecting a problem per bad row."""
    problems = [f"column '{c}' is missing" for c in _missing_columns(rows, PEOPLE_COLUMNS, REQUIRED_PEOPLE)]
    people = []
    for number, record in rows:
        values = {key: _pick(record, names) for key, names in PEOPLE_COLUMNS.items()}
        row_problems = []
        for key in REQUIRED_PEOPLE:
            if not values[key]:
                row_problems.append(f"row {number}: {key} is empty")
        email = values["email"].lower()
        if email and not EMAIL.match(email):
            row_problems.append(f"row {number}: invalid email address {values['email']!r}")
        aliases = [a.strip().lower() for a in re.split(r"[;,]", values["aliases"]) if a.strip()]
        for alias in aliases:
            if not EMAIL.match(alias):
                row_problems.append(f"row {number}: invalid alias address {alias!r}")
        language = (values["language"] or "id").lower()
        if language not in ("id", "en"):
            row_problems.append(f"row {number}: language must be 'id' or 'en', not {values['language']!r}")
        problems.extend(row_problems)
        if not row_problems:
            people.append(Person(number, values["nip"].replace(" ", ""), values["name"], email, values["position"],
                                 values["unit"], values["supervisor_nip"].replace(" ", ""), language, aliases,
                                 values["role"].strip().lower() in ("head", "kepala", "kepala kantor")))
    return people, problems


def parse_units(rows: list[tuple[int, dict[str, str]]]) -> tuple[list[UnitRow], list[str]]:
    """Turn table rows into units, collecting a problem per bad row."""
    problems = [f"units: column '{c}' is missing" for c in _missing_columns(rows, UNIT_COLUMNS, ("unit",))]
    units, seen = [], set()
    for number, record in rows:
        name, email, head = (_pick(record, UNIT_COLUMNS[k]) for k in ("unit", "email", "head_nip"))
        if not name:
            problems.append(f"units row {number}: unit is empty")
        elif name.lower() in seen:
            problems.append(f"units row {number}: unit {name!r} appears twice")
        elif email and not EMAIL.match(email):
            problems.append(f"units row {number}: invalid email address {email!r}")
        else:
            seen.add(name.lower())
            units.append(UnitRow(number, name, email.lower(), head.replace(" ", "")))
    return units, problems


def check_people(people: list[Person], units: list[UnitRow] | None) -> list[str]:
    """Cross-row checks: duplicates, supervisors, cycles, units, the head of office."""
    problems = []
    by_nip: dict[str, Person] = {}
    emails: dict[str, int] = {}
    for person in people:
        if person.nip in by_nip:
            problems.append(f"row {person.row}: duplicate NIP {person.nip} (first seen in row {by_nip[person.nip].row})")
            continue
        by_nip[person.nip] = person
        for address in (person.email, *person.aliases):
            if address in emails:
                problems.append(f"row {person.row}: address {address} is already used in row {emails[address]}")
            emails[address] = person.row
    unit_names = {u.name.lower() for u in units} if units is not None else None
    for person in by_nip.values():
        if person.supervisor_nip and person.supervisor_nip not in by_nip:
            problems.append(f"row {person.row}: unknown supervisor NIP {person.supervisor_nip}")
        if person.supervisor_nip == person.nip:
            problems.append(f"row {person.row}: {person.nip} cannot supervise themself")
        if unit_names is not None and person.unit.lower() not in unit_names:
            problems.append(f"row {person.row}: unknown unit {person.unit!r}")
    problems.extend(_cycles(by_nip))
    heads = [p for p in by_nip.values() if p.is_head]
    if len(heads) > 1:
        problems.append("rows " + ", ".join(str(p.row) for p in heads) + ": more than one head of office")
    for unit in units or []:
        if unit.head_nip and unit.head_nip not in by_nip:
            problems.append(f"units row {unit.row}: unknown head NIP {unit.head_nip}")
    return problems


def _cycles(by_nip: dict[str, Person]) -> list[str]:
    problems, reported = [], set()
    for start in by_nip.values():
        seen, person = [], start
        while person and person.supervisor_nip and person.nip not in seen:
            seen.append(person.nip)
            person = by_nip.get(person.supervisor_nip)
        if person and person.nip in seen and person.supervisor_nip:
            loop = seen[seen.index(person.nip):]
            if not reported.intersection(loop):
                reported.update(loop)
                rows = sorted(by_nip[n].row for n in loop)
                problems.append(f"row {rows[0]}: supervisor cycle through rows {', '.join(map(str, rows))}")
    return problems


def load_files(people_path: Path, units_path: Path | None = None) -> tuple[list[Person], list[UnitRow] | None]:
    """Read and check the roster files, raising RosterError with every problem found."""
    people, problems = parse_people(read_table(people_path))
    units = None
    if units_path is not None:
        units, unit_problems = parse_units(read_table(units_path))
        problems += unit_problems
    elif people_path.suffix.lower() == ".xlsx" and xlsx_has_sheet(people_path, "units"):
        units, unit_problems = parse_units(read_table(people_path, "units"))
        problems += unit_problems
    problems += check_people(people, units)
    if problems:
        raise RosterError(_sorted_by_row(problems))
    return people, units


def _sorted_by_row(problems: list[str]) -> list[str]:
    def key(text: str):
        match = re.search(r"row (\d+)", text)
        return (text.startswith("units"), int(match.group(1)) if match else 0)

    return sorted(problems, key=key)


def import_roster(session: Session, people: list[Person], units: list[UnitRow] | None) -> ImportReport:
    """Apply a checked roster: create or update in place; people not listed become inactive."""
    report = ImportReport()
    unit_by_name = _apply_units(session, people, units, report)
    existing = {e.nip: e for e in session.scalars(select(Employee))}
    employees: dict[str, Employee] = {}
    for person in people:
        employee = existing.get(person.nip)
        values = dict(name=person.name, email=person.email, aliases=person.aliases, position=person.position,
                      unit_id=unit_by_name[person.unit.lower()].id, language=Language(person.language),
                      is_head=person.is_head, active=True)
        if employee is None:
            employee = Employee(nip=person.nip, **values)
            session.add(employee)
            session.flush()
            report.created.append(person.nip)
            audit.record(session, actor="roster import", subject=employee, event="employee.created")
        elif _update(employee, values):
            report.updated.append(person.nip)
            audit.record(session, actor="roster import", subject=employee, event="employee.updated")
        else:
            report.unchanged += 1
        employees[person.nip] = employee
    for person in people:
        supervisor = employees[person.supervisor_nip].id if person.supervisor_nip else None
        employee = employees[person.nip]
        if employee.supervisor_id != supervisor:
            employee.supervisor_id = supervisor
            if person.nip not in report.created and person.nip not in report.updated:
                report.updated.append(person.nip)
                report.unchanged -= 1
    for nip, employee in existing.items():
        if nip not in employees and employee.active:
            employee.active = False
            report.deactivated.append(nip)
            audit.record(session, actor="roster import", subject=employee, event="employee.deactivated")
    for unit in units or []:
        target = unit_by_name[unit.name.lower()]
        head_id = employees[unit.head_nip].id if unit.head_nip else None
        if target.head_id != head_id:
            target.head_id = head_id
    session.flush()
    return report


def _apply_units(session: Session, people: list[Person], units: list[UnitRow] | None,
                 report: ImportReport) -> dict[str, Unit]:
    existing = {u.name.lower(): u for u in session.scalars(select(Unit))}
    wanted = units if units is not None else [UnitRow(0, p.unit, "", "") for p in people]
    result: dict[str, Unit] = {}
    for row in wanted:
        key = row.name.lower()
        if key in result:
            continue
        unit = existing.get(key)
        if unit is None:
            unit = Unit(name=row.name, email=row.email or None)
            session.add(unit)
            report.created.append(f"unit {row.name}")
        elif units is not None and _update(unit, dict(email=row.email or None, active=True)):
            report.updated.append(f"unit {row.name}")
        result[key] = unit
    session.flush()
    return result


def _update(target, values: dict) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(target, name) != value:
            setattr(target, name, value)
            changed = True
    return changed


def org_tree(session: Session) -> str:
    """The active organisation as an indented tree, heads first."""
    people = list(session.scalars(select(Employee).where(Employee.active).order_by(Employee.name)))
    children: dict[int | None, list[Employee]] = {}
    ids = {p.id for p in people}
    for person in people:
        parent = person.supervisor_id if person.supervisor_id in ids else None
        children.setdefault(parent, []).append(person)
    lines: list[str] = []

    def walk(person: Employee, depth: int) -> None:
        unit = person.unit.name if person.unit else "-"
        marker = " [kepala kantor / head of office]" if person.is_head else ""
        lines.append(f"{'    ' * depth}{person.name} ({person.nip}) — {person.position or '-'}, {unit}{marker}")
        for child in children.get(person.id, []):
            walk(child, depth + 1)

    for root in sorted(children.get(None, []), key=lambda p: (not p.is_head, p.name)):
        walk(root, 0)
    return "\n".join(lines)
