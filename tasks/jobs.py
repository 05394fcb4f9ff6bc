"""Thin Celery tasks: each opens a session, calls one domain job, and returns a plain summary."""

from __future__ import annotations

from tasks.app import app
from workflow import jobs


@app.task(name="cld.ping")
def ping(value: int) -> int:
    """Round-trip check used by the tests and `cld doctor`: records a heartbeat in the database."""
    return jobs.heartbeat(value)


@app.task(name="cld.send_due_prompts")
def send_due_prompts() -> dict:
    return jobs.send_due_prompts()


@app.task(name="cld.flush_outbox")
def flush_outbox() -> dict:
    return jobs.flush_outbox()


@app.task(name="cld.poll_inbox")
def poll_inbox() -> dict:
    return jobs.poll_inbox()


@app.task(name="cld.run_escalations")
def run_escalations() -> dict:
    return jobs.run_escalations()


@app.task(name="cld.close_due_periods")
def close_due_periods() -> dict:
    return jobs.close_due_periods()


@app.task(name="cld.process_inbound")
def process_inbound(row_id: int) -> str:
    """One stored message through the inbound stages; a second delivery of the task finds it claimed."""
    return jobs.process_inbound(row_id)
