"""The crash harness: SIGKILL a real Celery worker at random moments while it ingests replies and sends the outbox.

One run: a fresh database and service mailbox, the office prompted, N replies put in the inbox, a worker
started on a private Redis, the beat's ticks sent (poll the inbox, flush the outbox), the worker killed once or
twice at a random moment and started again, then ticks until everything settles. Then the invariants:

- every reply is stored once (one row per IMAP UID), processed, and filed in CLD/Processed;
- one entry, one sign-off request and one follow-up issue per reply: none missing, none doubled;
- every outbox row is SENT and its Message-ID reached the SMTP server at least once;
- a Message-ID that reached the server twice belonged to a row that was SENDING when a kill fell, i.e. the
  kill came between the server's "250 OK" and our commit of SENT: the one window no outbox can close.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import func, select

from tests.conftest import _truncate_all
from tests.reliability.support import (
    Worker,
    celery_client,
    good_form,
    import_office,
    message_id_of,
    prompt_everyone,
    prompt_token,
    reply,
    wait_ready,
    worker_env,
)
from workflow.db import session_factory
from workflow.inbox import PROCESSED
from workflow.models import (
    Entry,
    FollowUp,
    InboundMessage,
    InboundStatus,
    OutboundMessage,
    OutboundState,
    SignoffRequest,
)
from workflow.settings import load_settings

TICK_TIMEOUT = 120


@dataclass
class Kill:
    after: float  # seconds after the ticks were sent
    inbound_done: int  # replies processed when it fell
    outbox_sent: int
    sending: list[int]  # outbox rows caught between claim and commit
    unsent: int = 0

    def phase(self, replies: int) -> str:
        if self.inbound_done < replies:
            return "ingesting"
        if self.sending:
            return "mid-send"
        return "flushing, between messages" if self.unsent else "after the work"


@dataclass
class RunResult:
    number: int
    replies: int
    kills: list[Kill] = field(default_factory=list)
    outbox_rows: int = 0
    lost_inbound: int = 0
    lost_emails: int = 0
    duplicated_entries: int = 0
    duplicate_emails: dict[str, int] = field(default_factory=dict)
    unexplained_duplicates: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        kills = ", ".join(f"{k.after:.2f}s ({k.phase(self.replies)}; {k.inbound_done} in, {k.outbox_sent} out, "
                          f"{len(k.sending)} mid-send)" for k in self.kills)
        return (f"run {self.number:2d}: {self.replies} replies, {self.outbox_rows} emails; kills at {kills}; "
                f"lost {self.lost_inbound + self.lost_emails}, duplicated entries {self.duplicated_entries}, "
                f"duplicate emails {sum(n - 1 for n in self.duplicate_emails.values())} [{self.seconds:.1f} s]")


class CrashHarness:
    """Everything one test needs to run the harness: the servers, the database, a private Redis."""

    def __init__(self, *, engine, clean_mail, smtp, redis, folder, replies: int = 20, window: float = 3.0,
                 seed: int = 9):
        self.engine, self.clean_mail, self.smtp, self.redis = engine, clean_mail, smtp, redis
        self.folder, self.replies, self.window = folder, replies, window
        self.rng = random.Random(seed)
        self.factory = session_factory(engine)
        self.client = celery_client(redis.url)

    def settings_for(self, service: str, number: int):
        return load_settings(
            database_url=self.engine.url.render_as_string(hide_password=False),
            data_dir=self.folder / f"data{number}", reply_address=service, smtp_host=self.smtp.host,
            smtp_port=self.smtp.port, imap_host=self.clean_mail.imap_host, imap_port=self.clean_mail.imap_port,
            imap_user=service, imap_password=self.clean_mail.password, outbox_backoff_seconds=0,
            # The shortest lease, so a row a killed sender left SENDING is taken over within seconds.
            outbox_lease_seconds=5, answers_per_address_per_day=1000)

    def prepare(self, number: int):
        """Empty database, a fresh service mailbox, the office prompted and N replies in the inbox."""
        _truncate_all(self.engine)
        service = self.clean_mail.address("cld")
        settings = self.settings_for(service, number)
        with self.factory() as session:
            import_office(session, f"{self.clean_mail.run_tag}c{number}", self.clean_mail.made)
            people = prompt_everyone(session, settings)
            body = good_form(settings)
            with self.clean_mail.mailbox(service) as mailbox:
                for person in people[:self.replies]:
                    raw = reply(settings, person, prompt_token(session, person), body).as_bytes()
                    mailbox.append(raw.replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n"), "INBOX")
        self.smtp.reset()
        return settings, min(self.replies, len(people))

    def snapshot(self) -> tuple[int, int, list[int], int]:
        with self.factory() as session:
            done = session.scalar(select(func.count()).select_from(InboundMessage)
                                  .where(InboundMessage.status != InboundStatus.STORED))
            sent = session.scalar(select(func.count()).select_from(OutboundMessage)
                                  .where(OutboundMessage.state == OutboundState.SENT))
            sending = list(session.scalars(select(OutboundMessage.id)
                                           .where(OutboundMessage.state == OutboundState.SENDING)))
            unsent = session.scalar(select(func.count()).select_from(OutboundMessage)
                                    .where(OutboundMessage.state != OutboundState.SENT))
        return done, sent, sending, unsent

    def ticks(self):
        """What beat would send: poll the inbox, flush the outbox, twice."""
        return [self.client.send_task(name) for name in
                ("cld.poll_inbox", "cld.flush_outbox", "cld.poll_inbox", "cld.flush_outbox")]

    def settled(self, replies: int) -> bool:
        with self.factory() as session:
            stored = session.scalar(select(func.count()).select_from(InboundMessage).where(
                (InboundMessage.status == InboundStatus.STORED) | InboundMessage.folder_moved_to.is_(None)))
            seen = session.scalar(select(func.count()).select_from(InboundMessage))
            unsent = session.scalar(select(func.count()).select_from(OutboundMessage).where(
                OutboundMessage.state.in_([OutboundState.PENDING, OutboundState.SENDING])))
        return stored == 0 and seen >= replies and unsent == 0

    def calibrate(self) -> float:
        """Time one undisturbed run from the first tick until everything settles; kills are drawn within it."""
        settings, replies = self.prepare(0)
        worker = Worker(worker_env(settings, self.redis.url), self.folder / "worker0.log")
        self.redis.flush()
        try:
            worker.start()
            wait_ready(self.client)
            begun = time.monotonic()
            self.ticks()
            while not self.settled(replies) and time.monotonic() - begun < TICK_TIMEOUT:
                time.sleep(0.02)
            self.window = time.monotonic() - begun
        finally:
            worker.stop()
        self.check(settings, RunResult(0, replies))
        return self.window

    def run(self, number: int) -> RunResult:
        begun = time.monotonic()
        settings, replies = self.prepare(number)
        result = RunResult(number, replies)
        worker = Worker(worker_env(settings, self.redis.url), self.folder / f"worker{number}.log")
        self.redis.flush()
        try:
            worker.start()
            wait_ready(self.client)
            left = 1.0
            for _ in range(self.rng.choice((1, 2))):
                self.ticks()
                # A second kill is drawn within the share of the work the first one left undone.
                after = self.rng.uniform(0.0, self.window * max(left, 0.1))
                time.sleep(after)
                worker.kill()
                kill = Kill(after, *self.snapshot())
                result.kills.append(kill)
                left = 1 - (kill.inbound_done + kill.outbox_sent) / (replies + kill.outbox_sent + kill.unsent)
                # The task the dead worker held stays unacknowledged until the broker's visibility timeout;
                # nothing depends on it: the ticks still queued, and every later tick, do the same work.
                worker.start()
                wait_ready(self.client)
            for _ in range(20):
                for task in self.ticks():
                    task.get(timeout=TICK_TIMEOUT)
                if self.settled(replies):
                    break
                time.sleep(1)  # a row left SENDING by the kill waits for its 5 s lease to end
        finally:
            worker.stop()
        self.check(settings, result)
        result.seconds = time.monotonic() - begun
        return result

    def check(self, settings, result: RunResult) -> None:
        with self.factory() as session:
            rows = session.scalars(select(InboundMessage)).all()
            result.lost_inbound = result.replies - sum(
                1 for r in rows if r.status == InboundStatus.PROCESSED and r.folder_moved_to == PROCESSED)
            assert len({(r.uidvalidity, r.uid) for r in rows}) == len(rows) == result.replies
            per_person = Counter(session.scalars(select(Entry.employee_id)).all())
            result.duplicated_entries = sum(n - 1 for n in per_person.values())
            assert len(per_person) == result.replies, "an entry is missing"
            assert session.scalar(select(func.count()).select_from(SignoffRequest)) == result.replies
            assert session.scalar(select(func.count()).select_from(FollowUp)) == result.replies
            outbox = session.scalars(select(OutboundMessage)).all()
        result.outbox_rows = len(outbox)
        accepted = Counter(message_id_of(m.content) for m in self.smtp.messages)
        result.lost_emails = sum(1 for m in outbox if m.state != OutboundState.SENT or not accepted[m.message_id])
        result.duplicate_emails = {mid: n for mid, n in accepted.items() if n > 1}
        mid_send = {m.message_id for m in outbox if any(m.id in k.sending for k in result.kills)}
        result.unexplained_duplicates = [mid for mid in result.duplicate_emails if mid not in mid_send]
        with self.clean_mail.mailbox(settings.reply_address) as mailbox:
            _typ, data = mailbox.client.select("INBOX", readonly=True)
            assert int(data[0]) == 0, "mail left in the inbox"


def summary(results: list[RunResult]) -> str:
    """The figures the brief asks for, one block."""
    kills = [k for r in results for k in r.kills]
    phases = Counter(k.phase(r.replies) for r in results for k in r.kills)
    dupes = sum(sum(n - 1 for n in r.duplicate_emails.values()) for r in results)
    unexplained = sum(len(r.unexplained_duplicates) for r in results)
    lines = [r.line() for r in results]
    lines.append(
        f"SUMMARY: runs {len(results)}, kills {len(kills)} ({', '.join(f'{n} {p}' for p, n in phases.items())}), "
        f"replies {sum(r.replies for r in results)}, emails {sum(r.outbox_rows for r in results)}, "
        f"lost {sum(r.lost_inbound + r.lost_emails for r in results)}, "
        f"duplicated entries {sum(r.duplicated_entries for r in results)}, duplicate emails {dupes} "
        f"({dupes - unexplained} killed between the SMTP server's 250 and the outbox commit, "
        f"{unexplained} unexplained)")
    return "\n".join(lines)
