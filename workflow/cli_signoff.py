"""`cld diary verify`, `cld issues list` and `cld escalations run`, registered by workflow/cli.py."""

from __future__ import annotations

from typing import Optional

import typer

diary_app = typer.Typer(help="Diary entries and their signatures.", no_args_is_help=True)
issues_app = typer.Typer(help="The follow-up issue register.", no_args_is_help=True)
escalations_app = typer.Typer(help="Reminders and escalations of pending sign-offs and overdue issues.",
                              no_args_is_help=True)


def _session():
    from workflow.cli import engine
    from workflow.db import session_scope

    return session_scope(engine())


@diary_app.command("verify")
def diary_verify(nip: str = typer.Argument(..., help="The employee's NIP.")) -> None:
    """Check that no signed entry changed after signing and that the signature chain is whole."""
    from sqlalchemy import func, select

    from workflow.cli import fail
    from workflow.models import Employee, Signature
    from workflow.signoff import verify_chain

    with _session() as session:
        employee = session.scalar(select(Employee).where(Employee.nip == nip.strip()))
        if employee is None:
            fail(f"no employee with NIP {nip}", 2)
        problems = verify_chain(session, employee)
        count = session.scalar(select(func.count()).select_from(Signature).where(Signature.employee_id == employee.id))
        name = employee.name
    if problems:
        typer.echo(f"{name} ({nip}): {len(problems)} problem(s) in {count} signature(s)")
        for problem in problems:
            typer.echo(f"  {problem}")
        raise typer.Exit(1)
    typer.echo(f"{name} ({nip}): {count} signature(s), chain intact")


@issues_app.command("list")
def issues_list(open_only: bool = typer.Option(False, "--open", help="Only issues not yet resolved."),
                unit: Optional[str] = typer.Option(None, "--unit", help="Only this unit (name, words or mailbox).")
                ) -> None:
    """Print the follow-up issue register, oldest first."""
    from sqlalchemy import select

    from workflow.cli import fail
    from workflow.followups import match_unit
    from workflow.models import FollowUp, FollowUpState, Unit

    with _session() as session:
        query = select(FollowUp).order_by(FollowUp.created_at, FollowUp.id)
        if open_only:
            query = query.where(FollowUp.state != FollowUpState.RESOLVED)
        if unit:
            found = match_unit(list(session.scalars(select(Unit))), unit)
            if found is None:
                fail(f"no single unit matches {unit!r}", 2)
            query = query.where(FollowUp.unit_id == found.id)
        rows = session.scalars(query).all()
        typer.echo(f"{'id':>5}  {'state':<11} {'deadline':<10} {'lvl':>3}  {'unit':<28} {'employee':<24} issue")
        for row in rows:
            typer.echo(f"{row.id:>5}  {row.state.value:<11} {row.deadline.isoformat():<10} {row.escalation_level:>3}  "
                       f"{row.unit.name[:28]:<28} {row.employee.name[:24]:<24} {' '.join(row.text.split())[:60]}")
        typer.echo(f"{len(rows)} issue(s)")


@escalations_app.command("run")
def escalations_run(now: Optional[str] = typer.Option(None, "--now", help="Act as if it were this instant "
                                                      "(ISO-8601 with offset)."),
                    flush: bool = typer.Option(True, help="Send the queued mail before returning.")) -> None:
    """Send the reminders and escalations due now (idempotent: a second run sends nothing more)."""
    from workflow import escalations
    from workflow.cli import _flush_with_progress, _instant, engine
    from workflow.db import session_factory
    from workflow.settings import get_settings

    instant = _instant(now)
    result = escalations.run(session_factory(engine()), get_settings(), instant)
    if result["skipped"]:
        typer.echo(f"escalations: nothing done ({result['skipped']})")
    else:
        typer.echo(f"sign-offs: {result['signoff_reminders']} reminder(s) for {result['signoff_reminded']} "
                   f"request(s), {result['signoff_escalations']} escalation(s); follow-ups: "
                   f"{result['followup_reminders']} reminder(s), {result['followup_escalations']} escalation(s)")
    if flush:
        sent = _flush_with_progress()
        typer.echo(f"outbox: {sent['sent']} sent, {sent['retried']} to retry, {sent['failed']} failed")
