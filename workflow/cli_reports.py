"""`cld report monthly` and `cld diary export`: the monitoring files from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

report_app = typer.Typer(help="Monthly reports: XLSX, CSV (zip) or JSON.", no_args_is_help=True)


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"cld: {message}", err=True)
    raise typer.Exit(code)


@report_app.command("monthly")
def monthly(period: str = typer.Argument(..., help="YYYY-MM"),
            fmt: str = typer.Option("xlsx", "--format", "-f", help="xlsx | csv (a zip, one CSV per view) | json"),
            output: Optional[Path] = typer.Option(None, "--output", "-o", help="Where to write the file."),
            employee: Optional[str] = typer.Option(None, "--employee", help="NIP: add this person's trend."),
            months: int = typer.Option(6, "--months", min=1, max=36, help="Periods in the trend view.")) -> None:
    """Write the monthly report for PERIOD."""
    from workflow.calendar import parse_period
    from workflow.db import engine_for, session_scope
    from workflow.report_files import FORMATS, default_name, write
    from workflow.reports import monthly_report
    from workflow.settings import get_settings

    try:
        period = parse_period(period)
    except ValueError as exc:
        _fail(str(exc), 2)
    if fmt not in FORMATS:
        _fail(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}", 2)
    settings = get_settings()
    path = output or Path(default_name(period, fmt))
    with session_scope(engine_for(settings)) as session:
        report = monthly_report(session, settings, period, trend_months=months, trend_nip=employee)
        write(report, fmt, path)
    office = report.office
    typer.echo(f"report {period}: {office.completed}/{office.prompted} completed, {office.sessions} session(s), "
               f"{office.signoffs_pending} sign-off(s) pending, {office.issues_open} issue(s) open -> {path}")


def export_command(nip: Optional[str] = typer.Argument(None, help="The employee's NIP."),
                   unit: Optional[str] = typer.Option(None, "--unit", help="Every active member of this unit."),
                   year: Optional[int] = typer.Option(None, "--year", min=2000, max=2100,
                                       help="The diary year (default: this year)."),
                   output: Path = typer.Option(..., "--output", "-o",
                                               help="The PDF (one person) or a folder (--unit).")) -> None:
    """Write the diary book PDF of one employee, or of each member of a unit into a folder."""
    from sqlalchemy import func, select

    from workflow.db import engine_for, session_scope
    from workflow.diarybook import export_unit, write_book
    from workflow.models import Employee, Unit
    from workflow.settings import get_settings

    if (nip is None) == (unit is None):
        _fail("give either a NIP or --unit, not both", 2)
    settings = get_settings()
    if year is None:
        from workflow import clock

        year = clock.now().astimezone(settings.tz).year
    with session_scope(engine_for(settings)) as session:
        if unit is not None:
            found = session.scalar(select(Unit).where(func.lower(Unit.name) == unit.strip().lower()))
            if found is None:
                _fail(f"no unit named {unit!r}")
            written = export_unit(session, settings, found, year, output)
            typer.echo(f"{len(written)} diary book(s) for {found.name} {year} -> {output}")
            return
        person = session.scalar(select(Employee).where(Employee.nip == nip.strip()))
        if person is None:
            _fail(f"no employee with NIP {nip}")
        target = output / f"{person.nip}.pdf" if output.is_dir() else output
        pages = write_book(session, settings, person, year, target)
        typer.echo(f"diary book of {person.name} {year}: {pages} page(s) -> {target}")
