"""The monthly report as files: XLSX (one sheet per view, with a chart), a zip of CSVs, or JSON.

CSV: one file per view cannot travel as one `-o PATH`, so `--format csv` writes a zip holding one
UTF-8 CSV per view (with a byte-order mark, so Excel shows Indonesian names correctly).
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timezone
from pathlib import Path

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from workflow.reports import AGE_BUCKETS, RATING_KEYS, MonthlyReport

FORMATS = ("xlsx", "csv", "json")
HEADER_FILL = PatternFill("solid", fgColor="0B3D6B")
HEADER_FONT = Font(bold=True, color="FFFFFF")
TOTAL_FONT = Font(bold=True)
# ZIP entries carry a timestamp; a fixed one keeps the same report byte-identical (samples, tests).
ZIP_TIME = (2026, 1, 1, 0, 0, 0)


@dataclass
class Column:
    header: str
    value: Callable
    width: int = 14
    percent: bool = False


def _ratings(line) -> str:
    return ", ".join(line.ratings)


def _age(bucket: str) -> Callable:
    return lambda u: u.open_by_age[bucket]


EMPLOYEE_COLUMNS = [
    Column("NIP", lambda e: e.nip, 21), Column("Nama / Name", lambda e: e.name, 30),
    Column("Unit", lambda e: e.unit, 34), Column("Atasan / Supervisor", lambda e: e.supervisor, 30),
    Column("Status", lambda e: e.status, 19), Column("Sesi / Sessions", lambda e: e.sessions, 10),
    Column("Total menit / minutes", lambda e: e.total_minutes, 12),
    Column("Terlama / Longest (min)", lambda e: e.longest_minutes, 12),
    Column("> 60 menit / min", lambda e: e.over_hour, 10), Column("Ditandatangani / Signed", lambda e: e.signed, 12),
    Column("Belum / Pending", lambda e: e.pending, 10), Column("Penilaian / Ratings", _ratings, 28),
    Column("Terlewat / Missed", lambda e: "ya/yes" if e.missed else "", 10),
]
UNIT_COLUMNS = [
    Column("Unit", lambda u: u.unit, 40), Column("Diminta / Prompted", lambda u: u.prompted, 11),
    Column("Selesai / Completed", lambda u: u.completed, 11),
    Column("Capaian / Completion", lambda u: u.completion_rate, 12, percent=True),
    Column("Terlewat / Missed", lambda u: u.missed, 10), Column("Sesi / Sessions", lambda u: u.sessions, 10),
    Column("> 60 menit / min", lambda u: u.over_hour, 10),
    *[Column(key, (lambda k: lambda u: u.ratings.get(k, 0))(key), 12) for key in RATING_KEYS],
    Column("TTD tertunda / Sign-offs pending", lambda u: u.signoffs_pending, 13),
    Column("Tertua (hari kerja) / Oldest (working days)", lambda u: u.oldest_pending_days, 14),
    Column("Isu dibuka / Issues opened", lambda u: u.issues_opened, 11),
    Column("Isu selesai / resolved", lambda u: u.issues_resolved, 11),
    Column("Isu terbuka / open", lambda u: u.issues_open, 11),
    *[Column(f"Terbuka {name} hari / Open {name} days", _age(name), 12) for name, *_ in AGE_BUCKETS],
    Column("Rata-rata hari selesai / Mean days to resolve", lambda u: u.mean_days_to_resolve, 14),
]
PENDING_COLUMNS = [
    Column("NIP", lambda p: p.nip, 21), Column("Nama / Name", lambda p: p.name, 30),
    Column("Unit", lambda p: p.unit, 34), Column("Penanda tangan / Signer", lambda p: p.signer, 30),
    Column("Tanggal sesi / Session", lambda p: p.session_date, 13),
    Column("Diminta / Requested", lambda p: p.requested_on, 13),
    Column("Umur (hari kerja) / Age (working days)", lambda p: p.age_working_days, 14),
]
ISSUE_COLUMNS = [
    Column("No.", lambda i: i.id, 6), Column("Pegawai / Employee", lambda i: i.name, 28),
    Column("Unit tujuan / Responsible unit", lambda i: i.unit, 34), Column("Isu / Issue", lambda i: i.text, 50),
    Column("Status", lambda i: i.state, 12), Column("Dibuka / Opened", lambda i: i.opened_on, 12),
    Column("Tenggat / Deadline", lambda i: i.deadline, 12), Column("Selesai / Resolved", lambda i: i.resolved_on, 12),
    Column("Umur (hari) / Age (days)", lambda i: i.age_days, 10),
    Column("Hari selesai / Days to resolve", lambda i: i.days_to_resolve, 11),
    Column("Lewat tenggat / Overdue", lambda i: "ya/yes" if i.overdue else "", 10),
    Column("Eskalasi / Escalation", lambda i: i.escalation_level, 10),
]
TREND_COLUMNS = [
    Column("Lingkup / Scope", lambda t: t.scope, 10), Column("Nama / Name", lambda t: t.name, 40),
    Column("Periode / Period", lambda t: t.period, 10), Column("Diminta / Prompted", lambda t: t.prompted, 11),
    Column("Selesai / Completed", lambda t: t.completed, 11),
    Column("Capaian / Completion", lambda t: t.completion_rate, 12, percent=True),
    Column("Sesi / Sessions", lambda t: t.sessions, 10), Column("> 60 menit / min", lambda t: t.over_hour, 10),
    Column("Skor rata-rata (4 = sangat bermanfaat) / Mean score (4 = very useful)", lambda t: t.mean_score, 16),
    *[Column(key, (lambda k: lambda t: t.ratings.get(k, 0))(key), 12) for key in RATING_KEYS],
]


def views(report: MonthlyReport) -> list[tuple[str, str, list[Column], list]]:
    """(file name, sheet title, columns, rows) for each view; the unit view ends with the office total."""
    return [
        ("employees", "Pegawai - Employees", EMPLOYEE_COLUMNS, report.employees),
        ("units", "Unit - Units", UNIT_COLUMNS, [*report.units, report.office]),
        ("signoffs_pending", "TTD tertunda - Pending", PENDING_COLUMNS, report.pending),
        ("issues", "Isu - Issues", ISSUE_COLUMNS, report.issues),
        ("trends", "Tren - Trends", TREND_COLUMNS, report.trends),
    ]


NOTES = [
    "Diminta / Prompted: pegawai yang menerima permintaan sesi periode ini (pegawai aktif yang memiliki atasan) "
    "/ employees asked for a session this period (active employees with a supervisor).",
    "Selesai / Completed: pegawai dengan sekurang-kurangnya satu sesi yang sudah ditandatangani "
    "/ employees with at least one signed session. Capaian / Completion = Selesai / Diminta.",
    "Sesi / Sessions: semua catatan periode ini, ditandatangani atau belum; penilaian dihitung per sesi "
    "/ every entry of the period, signed or not; ratings are counted per session.",
    "Umur TTD tertunda dalam hari kerja; umur isu dan waktu penyelesaian dalam hari kalender (WIB) "
    "/ pending sign-off ages in working days; issue ages and time to resolve in calendar days (Asia/Jakarta).",
    "Status dibaca saat laporan dibuat / states are read as of the report date.",
]


def workbook(report: MonthlyReport) -> Workbook:
    """The report as an openpyxl workbook."""
    book = Workbook()
    book.remove(book.active)
    for _name, title, columns, rows in views(report):
        sheet = book.create_sheet(title)
        _fill(sheet, columns, rows)
        if title.startswith("Unit"):
            sheet.cell(row=len(rows) + 1, column=1).font = TOTAL_FONT
            _completion_chart(sheet, report, len(rows) - 1)
    notes = book.create_sheet("Catatan - Notes")
    notes.append([f"{report.office_name} · Laporan coaching / Coaching report {report.period}"])
    notes.append([f"Per tanggal / As of {report.as_of.isoformat()}"])
    notes["A1"].font = TOTAL_FONT
    for line in NOTES:
        notes.append([line])
    notes.column_dimensions["A"].width = 120
    book.properties.creator = "cld"
    # The report's time, not the wall clock: the same data gives the same file.
    book.properties.created = report.generated_at.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0)
    return book


def _fill(sheet, columns: list[Column], rows: list) -> None:
    sheet.append([c.header for c in columns])
    for row in rows:
        sheet.append([c.value(row) for c in columns])
        # openpyxl stores a string starting with "=" as a formula: a name or an issue text someone typed
        # (=HYPERLINK(...), =cmd|...) would run when HR opens the report. It is shown as the text it is.
        for cell in sheet[sheet.max_row]:
            if cell.data_type == "f":
                cell.data_type = "s"
    for index, column in enumerate(columns, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = column.width
        header = sheet.cell(row=1, column=index)
        header.fill, header.font = HEADER_FILL, HEADER_FONT
        header.alignment = Alignment(wrap_text=True, vertical="top")
        if column.percent:
            for cells in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cells[0].number_format = "0.0%"
    sheet.row_dimensions[1].height = 48
    sheet.freeze_panes = "B2"
    sheet.auto_filter.ref = sheet.dimensions


def _completion_chart(sheet, report: MonthlyReport, unit_count: int) -> None:
    chart = BarChart()
    chart.type = "bar"
    chart.title = f"Capaian per unit / Completion by unit {report.period}"
    chart.y_axis.title = "%"
    chart.y_axis.scaling.min, chart.y_axis.scaling.max = 0, 1
    chart.y_axis.numFmt = "0%"
    chart.legend = None
    data = Reference(sheet, min_col=4, min_row=1, max_row=unit_count + 1)
    labels = Reference(sheet, min_col=1, min_row=2, max_row=unit_count + 1)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(labels)
    chart.height, chart.width = 9, 22
    sheet.add_chart(chart, f"A{unit_count + 5}")


def xlsx_bytes(report: MonthlyReport) -> bytes:
    """The XLSX file's bytes (for an email attachment)."""
    buffer = io.BytesIO()
    workbook(report).save(buffer)
    return _fixed_zip_times(buffer.getvalue(), report.generated_at.strftime("%Y-%m-%dT%H:%M:%SZ"))


def csv_zip_bytes(report: MonthlyReport) -> bytes:
    """A zip of one CSV per view."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, _title, columns, rows in views(report):
            text = io.StringIO()
            writer = csv.writer(text)
            writer.writerow([c.header for c in columns])
            writer.writerows([_csv_value(c.value(row)) for c in columns] for row in rows)
            archive.writestr(zipfile.ZipInfo(f"{report.period}-{name}.csv", ZIP_TIME),
                             ("\ufeff" + text.getvalue()).encode("utf-8"), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def _csv_value(value):
    if isinstance(value, str) and _LOOKS_LIKE_FORMULA.match(value):
        # Spreadsheets run a cell starting with = + @ (or -letter) as a formula: quote it as text (CSV injection).
        return "'" + value
    return "" if value is None else value.isoformat() if hasattr(value, "isoformat") else value


_LOOKS_LIKE_FORMULA = re.compile(r"[=+@\t\r]|-[^\d\s.,]")


def json_bytes(report: MonthlyReport) -> bytes:
    """The report as indented UTF-8 JSON."""
    return json.dumps(report.as_dict(), ensure_ascii=False, indent=2).encode("utf-8") + b"\n"


def _fixed_zip_times(data: bytes, stamp: str) -> bytes:
    # openpyxl stamps "modified" with the wall clock at save; the report's own time replaces it.
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + stamp.encode(), content)
            archive.writestr(zipfile.ZipInfo(info.filename, ZIP_TIME), content, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def write(report: MonthlyReport, fmt: str, path: Path) -> Path:
    """Write the report in `fmt` (xlsx, csv = zip of CSVs, json) to `path`."""
    content = {"xlsx": xlsx_bytes, "csv": csv_zip_bytes, "json": json_bytes}[fmt](report)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def default_name(period: str, fmt: str) -> str:
    """`cld-report-2026-11.xlsx`, `...-csv.zip`, `....json`."""
    return f"cld-report-{period}" + {"xlsx": ".xlsx", "csv": "-csv.zip", "json": ".json"}[fmt]
