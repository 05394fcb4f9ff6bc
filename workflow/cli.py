"""The `cld` command: admin jobs that do their work in the calling process and return when done."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Optional

import typer

from workflow.settings import SettingsError, get_settings

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
inbox_app = typer.Typer(help="Incoming mail.", no_args_is_help=True)
mail_app = typer.Typer(help="Tools for support staff.", no_args_is_help=True)
app.add_typer(inbox_app, name="inbox")
app.add_typer(mail_app, name="mail")


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
    # Library chatter (every SMTP command, every migration plugin) is not news for an operator.
    for noisy in ("mail.log", "alembic", "aiosmtpd"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


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
        # With --flush the outbox sends while prompts are still being written, and is empty when this returns.
        result = jobs.send_due_prompts(instant, progress=bar.update, send=flush)
    typer.echo(f"period {result['period'] or '-'}: {result['prompted']} prompt(s), {result['reminded']} reminder(s), "
               f"{result['briefs']} brief(s) queued")
    if flush:
        _echo_sent(result["sent"])


def _echo_sent(sent: dict) -> None:
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
        _echo_sent(_flush_with_progress())


@outbox_app.command("flush")
def outbox_flush(now: Optional[str] = NOW_OPTION) -> None:
    """Send every message that is due."""
    _instant(now)
    result = _flush_with_progress()
    _echo_sent(result)
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


@inbox_app.command("poll")
def inbox_poll() -> None:
    """Fetch, store, process and file new mail once, then send the answers."""
    from workflow import jobs

    result = jobs.poll_inbox(send=True)
    statuses = ", ".join(f"{count} {status}" for status, count in sorted(result["statuses"].items())) or "nothing"
    typer.echo(f"inbox: {result['fetched']} fetched; {statuses}; {result['moved']} filed")
    _echo_sent(result["sent"])


@inbox_app.command("watch")
def inbox_watch(idle_seconds: int = typer.Option(60, help="Longest wait in IDLE before polling anyway.")) -> None:
    """Keep polling, waking up on IMAP IDLE where the server has it; Ctrl-C stops."""
    from workflow import watcher

    watcher.watch(get_settings(), idle_seconds=idle_seconds, echo=typer.echo)


@inbox_app.command("retry")
def inbox_retry(message_id: int = typer.Argument(..., help="The stored message's id (see `cld inbox show`).")) -> None:
    """Run a failed (or held for review) message through the stages again."""
    from workflow import inbound
    from workflow.db import session_factory

    try:
        status = inbound.retry(session_factory(engine()), get_settings(), message_id)
    except (LookupError, ValueError) as exc:
        fail(str(exc))
    typer.echo(f"inbound {message_id}: {status.value}")
    from workflow.inbox import refile_after_retry

    if refile_after_retry(get_settings(), session_factory(engine()), message_id):
        typer.echo(f"inbound {message_id}: moved out of CLD/Failed")
    _flush_with_progress()


@inbox_app.command("show")
def inbox_show(limit: int = typer.Option(30, help="How many of the newest messages."),
               status: Optional[str] = typer.Option(None, help="stored | processed | ignored | answered | "
                                                              "refused | review | failed")) -> None:
    """List stored inbound messages, newest first, with what each stage decided."""
    from sqlalchemy import select

    from workflow.db import session_scope
    from workflow.models import InboundMessage, InboundStatus

    with session_scope(engine()) as session:
        query = select(InboundMessage).order_by(InboundMessage.id.desc()).limit(limit)
        if status:
            query = query.where(InboundMessage.status == InboundStatus(status))
        for row in session.scalars(query):
            trail = " > ".join(f"{t['stage']}:{t['decision']}" for t in row.trail or [])
            typer.echo(f"{row.id:>6} {row.status.value:<9} {row.kind:<16} {row.from_address[:36]:<36} {trail}")


@mail_app.command("parse")
def mail_parse(path: Path = typer.Argument(..., help="A .eml file"),
               as_kind: Optional[str] = typer.Option(None, "--as", help="entry | decision | followup"),
               period: Optional[str] = typer.Option(None, help="YYYY-MM (default: the month of its Date)"),
               as_json: bool = typer.Option(True, "--json/--text", help="Print one JSON object.")) -> None:
    """Read one message with no database and no network and print what cld understands of it."""
    import json

    from workflow.mail.dryrun import parse_message

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raw = b""
        result = {"kind": "unknown", "text": "", "fields": {}, "errors": [{"field": "file", "message": str(exc)}]}
    else:
        result = parse_message(raw, as_kind=as_kind, period=period)
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
    else:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))


@app.command("serve")
def serve_command(sandbox: Optional[bool] = typer.Option(None, "--sandbox/--no-sandbox",
                                                         help="Run the local mail sandbox (default: when nothing "
                                                              "listens on the configured SMTP port on loopback).")) -> None:
    """Run the whole service: Celery worker and beat, the inbox watcher; Ctrl-C stops it cleanly."""
    from workflow.serve import serve

    serve(get_settings(), sandbox=sandbox, echo=typer.echo)


@app.command("sandbox")
def sandbox_command(smtp_port: Optional[int] = typer.Option(None, help="Default: CLD_SMTP_PORT."),
                    imap_port: Optional[int] = typer.Option(None, help="Default: CLD_IMAP_PORT.")) -> None:
    """Run the local mail sandbox alone: SMTP and IMAP on loopback; any address, password CLD_IMAP_PASSWORD."""
    from workflow.sandbox import serve_forever

    settings = get_settings()
    root = settings.data_dir / "mail"
    typer.echo(f"mail sandbox: SMTP 127.0.0.1:{smtp_port or settings.smtp_port}, "
               f"IMAP 127.0.0.1:{imap_port or settings.imap_port}; mail kept in {root}; Ctrl-C stops")
    serve_forever(root, smtp_port or settings.smtp_port, imap_port or settings.imap_port,
                  password=settings.imap_password)


@app.command("demo")
def demo_command(folder: Path = typer.Option(Path("var/demo"), "--dir", help="Where the demo keeps its data "
                                                                            "(wiped first).")) -> None:
    """Walk one month through the real service on the embedded default, with simulated people."""
    from workflow import demo

    result = demo.run(folder.resolve(), echo=typer.echo)
    if result["problems"]:
        fail(f"the demo saw {len(result['problems'])} problem(s): " + "; ".join(result["problems"]))


def _register_area_apps() -> None:
    # Each area keeps its commands in its own module; they are gathered here.
    from workflow.cli_reports import export_command, report_app
    from workflow.cli_signoff import diary_app, escalations_app, issues_app

    diary_app.command("export")(export_command)
    app.add_typer(diary_app, name="diary")
    app.add_typer(issues_app, name="issues")
    app.add_typer(escalations_app, name="escalations")
    app.add_typer(report_app, name="report")
    from workflow.audit_view import audit_command

    app.command("audit")(audit_command)


_register_area_apps()


def main() -> None:
    """Console entry point."""
    try:
        app()
    except SettingsError as exc:
        typer.echo(f"cld: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
