"""The measurements: each scenario runs in a child process of its own, so its peak RSS is its own."""

from __future__ import annotations

import email
import email.policy
import multiprocessing
import os
import shutil
import smtplib
import subprocess
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from imap_tools import AND, MailBoxUnencrypted
from sqlalchemy import BigInteger, Column, Integer, LargeBinary, MetaData, String, Table, Text, func, insert, select

from bench.env import (PASSWORD, PROMPT_DAY, REDIS_URL, REPLY_DAY, ROOT, Names, QueryCounter, Servers,
                       bench_settings, create_database, drop_database, proc_status, settings_env)


def reset_peak() -> None:
    """Start VmHWM again from the current RSS (Linux: writing 5 to clear_refs), so each phase has its own peak."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_mb() -> float:
    return round(proc_status().get("VmHWM", 0) / 1024, 1)


def freeze(instant: str) -> None:
    from workflow import clock

    value = clock.parse_instant(instant)
    clock.set_clock(lambda: value)


@dataclass
class Spec:
    """One scenario: an office of `size`, the prompt cycle, then `replies` replies through the inbox."""

    size: int
    replies: int
    baselines: bool = False
    cycle: int | None = None  # run the real prompt cycle for this many people; the rest are seeded as sent
    profile: str | None = None  # a folder for cProfile output of each phase
    connections: int | None = None  # SMTP sessions the outbox uses (CLD_SMTP_CONNECTIONS); None: the default
    names: Names = field(default_factory=Names)


class Run:
    """A scenario's world: its database, settings and addresses; torn down afterwards."""

    def __init__(self, spec: Spec, servers: Servers) -> None:
        from workflow.db import engine_for, session_factory
        from workflow.settings import use_settings

        self.spec, self.servers, self.names = spec, servers, spec.names
        self.db_name = f"cld_bench_{self.names.tag}_{spec.size}"
        self.url = create_database(self.db_name)
        self.settings = bench_settings(self.url, self.names, servers, connections=spec.connections)
        use_settings(self.settings)
        self.engine = engine_for(self.settings)
        self.factory = session_factory(self.engine)
        self.seeded = 0

    def close(self) -> None:
        from workflow.settings import use_settings

        use_settings(None)
        drop_database(self.db_name)
        self.names.remove_mail(self.servers)
        shutil.rmtree(self.settings.data_dir, ignore_errors=True)

    def profiled(self, name: str, fn):
        if not self.spec.profile:
            return fn()
        import cProfile

        profiler = cProfile.Profile()
        try:
            return profiler.runcall(fn)
        finally:
            folder = Path(self.spec.profile)
            folder.mkdir(parents=True, exist_ok=True)
            profiler.dump_stats(str(folder / f"{name}-{self.spec.size}.pstats"))


def import_roster(run: Run) -> dict:
    from bench.roster import import_office

    freeze(PROMPT_DAY)
    reset_peak()
    start = time.perf_counter()
    office = import_office(run.engine, run.spec.size, run.names)
    seconds = time.perf_counter() - start
    return {"people": office.size, "units": office.units, "seconds": round(seconds, 2),
            "people_per_s": round(office.size / seconds), "peak_rss_mb": peak_mb()}


def with_sending(run: Run, name: str, job):
    """job() inside outbox.sending_alongside, as the CLI runs it: the outbox sends on its own threads while
    the job still queues, and the block ends when everything is sent.

    Returns (job's result, what was sent, (start, job done, all sent, statements of the job's thread)).
    """
    from workflow import outbox

    marks: dict = {}

    def body():
        with outbox.sending_alongside(run.factory, run.settings) as flushed:
            result = job()
            marks["done"], marks["queries"] = time.perf_counter(), queries.count
        return result, flushed

    with QueryCounter() as queries:
        start = time.perf_counter()
        result, flushed = run.profiled(name, body)
        end = time.perf_counter()
    return result, flushed, (start, marks["done"], end, marks["queries"])


def fanout(run: Run) -> tuple[dict, list[tuple[bytes, list[str]]]]:
    """The prompt cycle: every prompt rendered, queued and sent over SMTP; returns the messages sent too."""
    from bench.roster import seed_prompts
    from workflow import prompts
    from workflow.models import OutboundMessage

    freeze(PROMPT_DAY)
    run.seeded = seed_prompts(run.engine, "2026-12", run.spec.cycle) if run.spec.cycle else 0
    reset_peak()
    # What `cld prompts send` runs (jobs.send_due_prompts with send=True).
    cycle, flushed, (start, created, end, queued_queries) = with_sending(
        run, "fanout", lambda: prompts.send_due_prompts(run.factory, run.settings))
    with run.factory() as session:
        sent = session.execute(select(OutboundMessage.raw, OutboundMessage.recipients)
                               .where(OutboundMessage.kind == "prompt", OutboundMessage.id > run.seeded)
                               .order_by(OutboundMessage.id)).all()
    n = cycle.prompted
    result = {
        "prompts": n, "seeded": run.seeded, "sent": flushed.sent, "failed": flushed.failed + flushed.retried,
        "connections": run.settings.smtp_connections,
        "create_s": round(created - start, 2), "flush_s": round(end - created, 2), "total_s": round(end - start, 2),
        "per_s": round(n / (end - start), 1), "create_per_s": round(n / (created - start), 1),
        "ms_per_employee": round(1000 * (end - start) / max(n, 1), 3),
        "queries_per_prompt": round(queued_queries / max(n, 1), 2),
        "avg_bytes": round(sum(len(raw) for raw, _ in sent) / max(len(sent), 1)),
        "peak_rss_mb": peak_mb(),
    }
    return result, [(bytes(raw), list(rcpts)) for raw, rcpts in sent]


def bare_smtp(servers: Servers, sender: str, messages: list[tuple[bytes, list[str]]]) -> dict:
    """The baseline sender: one persistent smtplib connection, one sendmail per message."""
    start = time.perf_counter()
    with smtplib.SMTP(servers.smtp_host, servers.smtp_port, timeout=60) as client:
        for raw, recipients in messages:
            client.sendmail(sender, recipients, raw)
    seconds = time.perf_counter() - start
    return {"sent": len(messages), "seconds": round(seconds, 2), "per_s": round(len(messages) / seconds, 1)}


def append_replies(run: Run, replies: list[tuple[str, bytes]]) -> dict:
    """Put the replies in the service INBOX with IMAP APPEND (setup: not part of any timing)."""
    start = time.perf_counter()
    with MailBoxUnencrypted(run.servers.imap_host, run.servers.imap_port, timeout=60) as mailbox:
        mailbox.login(run.names.service, PASSWORD)
        for _shape, raw in replies:
            mailbox.append(raw, "INBOX")
    seconds = time.perf_counter() - start
    return {"appended": len(replies), "append_per_s": round(len(replies) / seconds),
            "avg_bytes": round(sum(len(r) for _, r in replies) / max(len(replies), 1)),
            "shapes": dict(Counter(shape for shape, _ in replies))}


def make_replies(run: Run, count: int, skip: int = 0) -> list[tuple[str, bytes]]:
    from bench.replies import build_replies, prompted_sample

    with run.factory() as session:
        sample = prompted_sample(session, count + skip, after_id=getattr(run, "seeded", 0))[skip:skip + count]
    return build_replies(sample, run.names.service)


def ingest(run: Run, count: int) -> dict:
    """poll_inbox + outbox flush over `count` replies: each an entry with a receipt and a sign-off request sent."""
    from workflow import inbox
    from workflow.models import InboundMessage, OutboundMessage

    freeze(REPLY_DAY)
    replies = make_replies(run, count)
    appended = append_replies(run, replies)
    run.servers.wait_for_queue()
    with run.factory() as session:
        outbound_before = session.scalar(select(func.max(OutboundMessage.id))) or 0
    reset_peak()
    # What `cld inbox poll` runs (jobs.poll_inbox with send=True).
    poll, flushed, (start, polled, end, poll_queries) = with_sending(
        run, "ingest", lambda: inbox.poll_inbox(run.factory, run.settings))
    with run.factory() as session:
        kinds = dict(session.execute(select(InboundMessage.kind, func.count()).group_by(InboundMessage.kind)).all())
        out_kinds = dict(session.execute(select(OutboundMessage.kind, func.count())
                                         .where(OutboundMessage.id > outbound_before)
                                         .group_by(OutboundMessage.kind)).all())
    n = poll.fetched
    return {
        "replies": n, **appended, "statuses": poll.statuses, "kinds": kinds, "answers": out_kinds,
        "sent": flushed.sent, "failed": flushed.failed + flushed.retried,
        "poll_s": round(polled - start, 2), "flush_s": round(end - polled, 2), "total_s": round(end - start, 2),
        "per_s": round(n / (end - start), 1), "ms_per_message": round(1000 * (end - start) / max(n, 1), 2),
        "queries_per_message": round(poll_queries / max(n, 1), 2), "connections": run.settings.smtp_connections,
        "peak_rss_mb": peak_mb(),
    }


def bare_ingest(run: Run, folder: str = "CLD/Processed") -> dict:
    """The baseline: bulk fetch with imap-tools, stdlib parse, one Core INSERT per message, two sends per reply.

    It reads the very messages the service just filed, and sends the same receipt and sign-off bytes the
    service sent, to the same people, over one smtplib connection.
    """
    from workflow import inbox
    from workflow.models import OutboundMessage

    table = Table("bench_bare_inbound", MetaData(), Column("id", Integer, primary_key=True),
                  Column("uid", BigInteger), Column("message_id", String(998)), Column("sender", String(320)),
                  Column("subject", String(998)), Column("body", Text), Column("raw", LargeBinary))
    table.create(run.engine, checkfirst=True)
    with run.factory() as session:
        answers = session.execute(select(OutboundMessage.raw, OutboundMessage.recipients)
                                  .where(OutboundMessage.kind.in_(["receipt", "signoff_request"]))
                                  .order_by(OutboundMessage.id)).all()
    answers = [(bytes(raw), list(rcpts)) for raw, rcpts in answers] or [(b"Subject: x\r\n\r\nx\r\n", [run.names.baseline_sink])]
    run.servers.wait_for_queue()
    start = time.perf_counter()
    with MailBoxUnencrypted(run.servers.imap_host, run.servers.imap_port, timeout=60) as mailbox:
        mailbox.email_message_class = inbox.RawMessage  # bytes only: the baseline parses each one itself
        mailbox.login(run.names.service, PASSWORD)
        mailbox.folder.set(folder)
        fetched = list(mailbox.fetch(AND(all=True), mark_seen=False, bulk=True))
    n = 0
    with run.engine.connect() as connection, \
            smtplib.SMTP(run.servers.smtp_host, run.servers.smtp_port, timeout=60) as smtp:
        for message in fetched:
            msg = email.message_from_bytes(message.raw_bytes, policy=email.policy.default)
            body = msg.get_body(preferencelist=("plain", "html"))
            connection.execute(insert(table).values(
                uid=int(message.uid), message_id=str(msg["Message-ID"] or ""), sender=str(msg["From"] or ""),
                subject=str(msg["Subject"] or ""), body=body.get_content() if body is not None else "",
                raw=message.raw_bytes))
            connection.commit()
            for k in range(2):
                raw, recipients = answers[(2 * n + k) % len(answers)]
                smtp.sendmail(run.settings.reply_address, recipients, raw)
            n += 1
    seconds = time.perf_counter() - start
    return {"replies": n, "sent": 2 * n, "seconds": round(seconds, 2), "per_s": round(n / seconds, 1)}


def scenario(spec: Spec, servers: Servers) -> dict:
    """An office of spec.size: roster import, the prompt cycle, then spec.replies replies, with baselines."""
    run = Run(spec, servers)
    try:
        result: dict = {"size": spec.size, "replies": spec.replies}
        result["roster"] = import_roster(run)
        result["fanout"], sent = fanout(run)
        if spec.baselines:
            servers.wait_for_queue()
            result["fanout_bare"] = bare_smtp(servers, run.settings.reply_address, sent)
            result["fanout"]["ratio"] = round(result["fanout"]["per_s"] / result["fanout_bare"]["per_s"], 3)
        del sent
        servers.wait_for_queue()
        result["ingest"] = ingest(run, spec.replies)
        if spec.baselines:
            result["ingest_bare"] = bare_ingest(run)
            result["ingest"]["ratio"] = round(result["ingest"]["per_s"] / result["ingest_bare"]["per_s"], 3)
        result["peak_rss_mb"] = max(result["roster"]["peak_rss_mb"], result["fanout"]["peak_rss_mb"],
                                    result["ingest"]["peak_rss_mb"])
        return result
    finally:
        run.close()


def _child(target, args, queue) -> None:
    try:
        value = target(*args)
        status = proc_status()
        queue.put(("ok", value, status))
    except BaseException:  # report everything, the parent decides
        queue.put(("error", traceback.format_exc(), proc_status()))


def in_child(target, *args) -> dict:
    """Run target(*args) in a fresh process; add its pid and final VmHWM; raise its error here."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(target, args, queue))
    process.start()
    kind, value, status = queue.get()
    process.join()
    if kind != "ok":
        raise RuntimeError(f"bench child failed:\n{value}")
    value["process_peak_rss_mb"] = round(status.get("VmHWM", 0) / 1024, 1)
    return value


def workers(size: int, replies: int, counts: list[int], servers: Servers, names: Names) -> dict:
    """Ingest with 1, 2, 4... Celery worker processes on Redis: store all, then one task per stored message."""
    from celery import Celery

    from workflow import inbox, outbox, prompts
    from workflow.mail.transport import open_imap
    from workflow.models import InboundMessage

    spec = Spec(size=size, replies=replies, names=names)
    run = Run(spec, servers)
    queue_name = f"bench-{names.tag}"
    settings = run.settings.model_copy(update={"broker_url": REDIS_URL})
    client = Celery("cld-bench", broker=REDIS_URL)
    client.conf.update(task_ignore_result=True, broker_connection_retry_on_startup=True,
                       broker_transport_options={"visibility_timeout": 3600})
    results: dict = {"size": size, "replies_per_round": replies, "queue": "redis", "rounds": []}
    try:
        import_roster(run)
        freeze(PROMPT_DAY)
        prompts.send_due_prompts(run.factory, run.settings)
        outbox.flush(run.factory, run.settings)
        freeze(REPLY_DAY)
        all_replies = make_replies(run, replies * len(counts))
        for round_no, count in enumerate(counts):
            servers.wait_for_queue()
            batch = all_replies[round_no * replies:(round_no + 1) * replies]
            append_replies(run, batch)
            with run.factory() as session:
                first_new = (session.scalar(select(func.max(InboundMessage.id))) or 0) + 1
            # Stored first (the inbox job's first half), in this process.
            start_store = time.perf_counter()
            report = inbox.PollReport()
            with open_imap(run.settings) as mailbox:
                mailbox.email_message_class = inbox.RawMessage
                mailbox.folder.set("INBOX")
                uidvalidity = int(mailbox.folder.status("INBOX", ["UIDVALIDITY"])["UIDVALIDITY"])
                inbox.fetch_and_store(mailbox, run.factory, "INBOX", uidvalidity, report)
            store_s = time.perf_counter() - start_store
            with run.factory() as session:
                ids = session.scalars(select(InboundMessage.id).where(InboundMessage.id >= first_new)
                                      .order_by(InboundMessage.id)).all()
            worker = start_worker(settings, queue_name, count)
            try:
                wait_until_ready(client, queue_name, run, count)
                start = time.perf_counter()
                for row_id in ids:
                    client.send_task("cld.process_inbound", args=[row_id], queue=queue_name)
                wait_for(lambda: _stored(run, ids) == 0, timeout=1800)
                processed = time.perf_counter()
                for _ in range(count):
                    client.send_task("cld.flush_outbox", queue=queue_name)
                wait_for(lambda: _pending(run) == 0, timeout=1800)
                end = time.perf_counter()
            finally:
                stop_worker(worker)
            with run.factory() as session:
                statuses = dict(session.execute(select(InboundMessage.status, func.count())
                                                .where(InboundMessage.id.in_(ids))
                                                .group_by(InboundMessage.status)).all())
            n = len(ids)
            results["rounds"].append({
                "workers": count, "messages": n, "store_s": round(store_s, 2),
                "process_s": round(processed - start, 2), "flush_s": round(end - processed, 2),
                "process_per_s": round(n / (processed - start), 1), "per_s": round(n / (end - start), 1),
                # With the fetch and store (done once, in this process, before the workers start).
                "end_to_end_per_s": round(n / (store_s + end - start), 1),
                "statuses": {getattr(k, "value", k): v for k, v in statuses.items()},
            })
        base = results["rounds"][0]["per_s"]
        for entry in results["rounds"]:
            entry["speedup"] = round(entry["per_s"] / base, 2)
        return results
    finally:
        run.close()


def _stored(run: Run, ids: list[int]) -> int:
    from workflow.models import InboundMessage, InboundStatus

    with run.factory() as session:
        return session.scalar(select(func.count()).select_from(InboundMessage)
                              .where(InboundMessage.id.in_(ids), InboundMessage.status == InboundStatus.STORED))


def _pending(run: Run) -> int:
    from workflow.outbox import pending_count

    with run.factory() as session:
        return pending_count(session)


def wait_for(condition, timeout: float, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the workers did not finish in time")
        time.sleep(interval)


def start_worker(settings, queue: str, concurrency: int) -> subprocess.Popen:
    env = {**settings_env(settings), "CLD_BENCH_NOW": REPLY_DAY, "CLD_LOG_LEVEL": "WARNING"}
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "bench.celery_app", "worker", "--pool=prefork",
         f"--concurrency={concurrency}", "-Q", queue, "--loglevel=WARNING", "-n", f"{queue}-{concurrency}@%h",
         "--without-mingle", "--without-gossip", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def stop_worker(process: subprocess.Popen) -> None:
    import signal

    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=30)


def wait_until_ready(client, queue: str, run: Run, count: int) -> None:
    """Each worker process answers a ping task (it writes a heartbeat row) before the clock starts."""
    from workflow.models import AuditEvent

    marker = int(time.time() * 1000) % 1_000_000_000
    for k in range(count * 2):
        client.send_task("cld.ping", args=[marker + k], queue=queue)

    def answered() -> bool:
        with run.factory() as session:
            return session.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.event == "heartbeat", AuditEvent.subject_id >= marker)) >= count * 2

    wait_for(answered, timeout=120)
