"""The `cld` command: admin jobs that do their work in the calling process and return when done."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Optional

import typer

from workflow.settings import SettingsError, get_settings, load_settings

app = typer.Typer(help="cld — Coaching & Learning Diary by email.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
roster_app = typer.Typer(help="Employees, supervisors and units.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(roster_app, name="roster")
prompts_app = typer.Typer(help="The monthly prompts and reminders.", no_args_is_help=True)
period_app = typer.Typer(help="Periods (YYYY-MM).", no_args_is_help=True)
outbox_app = typer.Typer(help="Outgoing mail.", no_args_is_help=True)
app.add_typer(prompts_app, name="prompts")
app.add_typer(period_app, name="period")
app.add_typer(outbox_app, name="outbox")


def fail(message: str, code: int = 1) -> None:
    """Print one clear line on stderr and exit non-zero."""
    typer.echo(f"cld: {message}", err=True)
    raise typer.Exit(code)


@app.callback()
def _startup(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log at DEBUG level.")) -> None:
    try:
        settings = get_settings()
    except SettingsError as exc:
        fail(str(exc), 2)
    logging.basicConfig(level=logging.DEBUG if verbose else settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def engine():
    from workflow.db import engine_for

    return engine_for(get_settings())


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the database or migrate it to the latest schema."""
    from workflow.migrate import upgrade

    upgrade(engine())
    typer.echo(f"database is up to date: {_safe_url(get_settings().effective_database_url)}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@roster_app.command("import")
def roster_import(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="roster.csv or roster.xlsx"),
    units: Optional[Path] = typer.Option(None, "--units", exists=True, dir_okay=False, help="units.csv"),
) -> None:
    """Import the roster; every bad row is reported and nothing is imported if any is bad."""
    from workflow.db import session_scope
    from workflow.roster import RosterError, import_roster, load_files

    try:
        people, unit_rows = load_files(path, units)
    except RosterError as exc:
        for problem in exc.problems:
            typer.echo(f"  {problem}", err=True)
        fail(f"roster refused: {len(exc.problems)} problem(s); nothing was imported")
    with session_scope(engine()) as session:
        report = import_roster(session, people, unit_rows)
    typer.echo(f"roster imported: {len(report.created)} created, {len(report.updated)} updated, "
               f"{len(report.deactivated)} deactivated, {report.unchanged} unchanged")


@roster_app.command("show")
def roster_show() -> None:
    """Print the organisation tree."""
    from workflow.db import session_scope
    from workflow.roster import org_tree

    with session_scope(engine()) as session:
        typer.echo(org_tree(session) or "(the roster is empty)")


def _instant(text: Optional[str]):
    from workflow import clock

    if text is None:
        return None
    try:
        instant = clock.parse_instant(text)
    except ValueError as exc:
        fail(f"--now: {exc}", 2)
    clock.set_clock(lambda: instant)
    return instant


NOW_OPTION = typer.Option(None, "--now", help="Act as if it were this instant (ISO-8601 with offset).")


def _flush_with_progress() -> dict:
    from workflow import jobs
    from workflow.db import session_scope
    from workflow.outbox import pending_count

    with session_scope(engine()) as session:
        waiting = pending_count(session)
    if waiting == 0:
        return {"sent": 0, "retried": 0, "failed": 0}
    with typer.progressbar(length=waiting, label="sending", file=sys.stderr) as bar:
        return jobs.flush_outbox(progress=bar.update)


@prompts_app.command("send")
def prompts_send(now: Optional[str] = NOW_OPTION,
                 flush: bool = typer.Option(True, help="Send the queued mail before returning.")) -> None:
    """Send the prompts and reminders due now (idempotent: a second run sends nothing more)."""
    from workflow import jobs

    instant = _instant(now)
    with typer.progressbar(length=0, label="prompting", file=sys.stderr, show_pos=True) as bar:
        result = jobs.send_due_prompts(instant, progress=bar.update)
    typer.echo(f"period {result['period'] or '-'}: {result['prompted']} prompt(s), {result['reminded']} reminder(s) queued")
    if flush:
        sent = _flush_with_progress()
        typer.echo(f"outbox: {sent['sent']} sent, {sent['retried']} to retry, {sent['failed']} failed")


@period_app.command("close")
def period_close(period: str = typer.Argument(..., help="YYYY-MM"), now: Optional[str] = NOW_OPTION,
                 flush: bool = typer.Option(True, help="Send the queued mail before returning.")) -> None:
    """Close a period: record missed sessions and tell each supervisor once."""
    from workflow import jobs
    from workflow.calendar import parse_period

    _instant(now)
    try:
        period = parse_period(period)
    except ValueError as exc:
        fail(str(exc), 2)
    result = jobs.close_period(period)
    if result["already_closed"]:
        typer.echo(f"period {period} was already closed; nothing changed")
    else:
        typer.echo(f"period {period} closed: {result['missed']} missed, {result['notices']} supervisor notice(s)")
    if flush:
        sent = _flush_with_progress()
        typer.echo(f"outbox: {sent['sent']} sent, {sent['retried']} to retry, {sent['failed']} failed")


@outbox_app.command("flush")
def outbox_flush(now: Optional[str] = NOW_OPTION) -> None:
    """Send every message that is due."""
    _instant(now)
    result = _flush_with_progress()
    typer.echo(f"outbox: {result['sent']} sent, {result['retried']} to retry, {result['failed']} failed")
    if result["failed"]:
        raise typer.Exit(1)


@outbox_app.command("show")
def outbox_show(limit: int = typer.Option(30, help="How many of the newest messages."),
                state: Optional[str] = typer.Option(None, help="pending | sending | sent | failed")) -> None:
    """List the outbox, newest first."""
    from sqlalchemy import func, select

    from workflow.db import session_scope
    from workflow.models import OutboundMessage, OutboundState

    with session_scope(engine()) as session:
        counts = dict(session.execute(select(OutboundMessage.state, func.count()).group_by(OutboundMessage.state)).all())
        typer.echo("  ".join(f"{s.value}: {counts.get(s, 0)}" for s in OutboundState))
        query = select(OutboundMessage).order_by(OutboundMessage.id.desc()).limit(limit)
        if state:
            query = query.where(OutboundMessage.state == OutboundState(state))
        for row in session.scalars(query):
            error = f"  [{row.last_error[:60]}]" if row.last_error else ""
            typer.echo(f"{row.id:>6} {row.state.value:<8} {row.kind:<16} {','.join(row.recipients)[:40]:<40} "
                       f"attempts={row.attempts}{error}")


def main() -> None:
    """Console entry point."""
    try:
        app()
    except SettingsError as exc:
        typer.echo(f"cld: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
