"""Scale-out: three Celery workers on Redis and PostgreSQL share one inbox and one outbox, doing nothing twice."""

import os
import signal
import subprocess
import sys
import time
from email.utils import parseaddr

import pytest
import redis
from sqlalchemy import func, select

from tests.conftest import REDIS_URL, ROOT, settings_env
from tests.support.replies import GOOD_FORM, reply_to
from workflow import jobs
from workflow.models import (Employee, Entry, InboundMessage, InboundStatus, OutboundMessage, OutboundState)

pytestmark = [pytest.mark.servers, pytest.mark.slow]

REPLIES = 300
WORKERS = 3


def start_workers(env):
    return [subprocess.Popen([sys.executable, "-m", "celery", "-A", "tasks.app", "worker", "--pool=solo",
                              "--loglevel=WARNING", "-n", f"w{n}@%h", "--without-mingle", "--without-gossip"],
                             cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True) for n in range(WORKERS)]


def test_three_workers_process_three_hundred_replies_each_exactly_once(mail_office, mail_settings, clean_mail,
                                                                       clock_at):
    clock_at("2026-12-01T08:00+07:00")
    jobs.send_due_prompts()
    jobs.flush_outbox()
    people = mail_office.scalars(select(Employee).where(Employee.supervisor_id.is_not(None))
                                 .order_by(Employee.id)).all()
    prompts = {p.id: clean_mail.wait_for_messages(p.email, 1)[0] for p in people}
    for n in range(REPLIES):
        person = people[n % len(people)]
        prompt = prompts[person.id]
        body = GOOD_FORM.replace("Penyusunan nilai limit lelang", f"Sesi ke-{n}")
        clean_mail.append(mail_settings.reply_address, reply_to(prompt, person.email, body,
                                                                to=parseaddr(prompt.headers["reply-to"][0])[1]))
    redis.Redis.from_url(REDIS_URL).flushdb()
    env = {**settings_env(mail_settings), "CLD_BROKER_URL": REDIS_URL, "CLD_RESULT_BACKEND": REDIS_URL}
    workers = start_workers(env)
    try:
        from tasks.app import make_celery

        client = make_celery(mail_settings.model_copy(update={"broker_url": REDIS_URL, "result_backend": REDIS_URL}))
        # Every worker polls the same inbox at once, then every worker flushes the same outbox at once.
        polls = [client.send_task("cld.poll_inbox") for _ in range(WORKERS * 2)]
        for result in polls:
            result.get(timeout=600)
        flushes = [client.send_task("cld.flush_outbox") for _ in range(WORKERS * 2)]
        for result in flushes:
            result.get(timeout=600)
    finally:
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=60)
    mail_office.expire_all()
    stored = mail_office.scalars(select(InboundMessage)).all()
    assert len(stored) == REPLIES
    assert {row.status for row in stored} == {InboundStatus.PROCESSED}
    assert all(row.attempts == 1 for row in stored)
    assert mail_office.scalar(select(func.count()).select_from(Entry)) == REPLIES
    assert len({row.source_message_id for row in mail_office.scalars(select(Entry))}) == REPLIES
    receipts = mail_office.scalars(select(OutboundMessage).where(OutboundMessage.kind == "receipt")).all()
    assert len(receipts) == REPLIES and {r.state for r in receipts} == {OutboundState.SENT}
    assert all(r.attempts == 1 for r in receipts)
    person = people[0]
    expected = len(range(0, REPLIES, len(people)))
    assert len(receipts_arrived(clean_mail, person.email, expected)) == expected
    assert len(clean_mail.read_messages(mail_settings.reply_address, "CLD/Processed")) == REPLIES


def receipts_arrived(clean_mail, address: str, expected: int, timeout: float = 30) -> list:
    """The receipts in `address`'s INBOX once `expected` of them are there (or the time is up).

    Counting messages is not enough: the first person may also supervise others, and their sign-off
    requests arrive alongside, so the box can hold enough mail before the last receipt is delivered.
    """
    deadline = time.monotonic() + timeout
    while True:
        arrived = [m for m in clean_mail.wait_for_messages(address, 1 + expected, timeout=timeout)
                   if m.headers.get("x-cld-kind", ("",))[0] == "receipt"]
        if len(arrived) >= expected or time.monotonic() > deadline:
            return arrived
        time.sleep(0.2)
