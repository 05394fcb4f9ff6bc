"""`cld demo`: one month of the real service on the embedded default, with simulated people.

Everything goes through the real code paths: prompts and answers leave by SMTP, people read them by
IMAP and reply by SMTP, and the inbox job reads those replies by IMAP. The local mail sandbox plays the
office's mail server; the clock is moved through December 2026 instead of waiting a month.
"""

from __future__ import annotations

import shutil
import smtplib
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from imap_tools import MailBoxUnencrypted
from sqlalchemy import func, select

from workflow import clock, jobs
from workflow import demo_people as people
from workflow.db import engine_for, session_factory
from workflow.migrate import upgrade
from workflow.models import Employee, Entry, EntryState, FollowUp, FollowUpState, InboundMessage, InboundStatus
from workflow.roster import import_roster, load_files
from workflow.settings import load_settings, use_settings

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
JAKARTA = ZoneInfo("Asia/Jakarta")
SHORT_MONTHS = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")
STEPS = 17


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Timeline:
    """The readable, numbered account of what happened, with a progress bar."""

    echo: object
    total: int = STEPS
    done: int = 0
    started: float = field(default_factory=time.monotonic)
    problems: list[str] = field(default_factory=list)

    def step(self, text: str) -> None:
        self.done += 1
        local = clock.now().astimezone(JAKARTA)
        when = f"{local.day:>2} {SHORT_MONTHS[local.month - 1]} {local.year} {local:%H:%M}"
        bar = "#" * (20 * self.done // self.total)
        self.echo(f"[{bar:<20}] {self.done:>2}/{self.total}  {when}  {text}")

    def detail(self, text: str) -> None:
        self.echo(f"{'':>47}{text}")

    def check(self, condition: bool, text: str) -> None:
        if not condition:
            self.problems.append(text)
            self.detail(f"!! not as expected: {text}")


class Office:
    """The simulated office: the service's jobs on one side, people with mail clients on the other."""

    def __init__(self, folder: Path, echo=print):
        self.folder = folder
        self.timeline = Timeline(echo)
        self.settings = load_settings(
            data_dir=folder, database_url=f"sqlite:///{folder / 'cld.sqlite3'}", broker_url="filesystem://",
            smtp_host="127.0.0.1", smtp_port=free_port(), imap_host="127.0.0.1", imap_port=free_port(),
            imap_user="cld@office.example", imap_password="sandbox", reply_address="cld@office.example",
            hr_email="umum@example.test", office_name="KPKNL Contoh (demo)", outbox_backoff_seconds=0)
        self.sandbox = None

    def __enter__(self) -> "Office":
        from workflow.sandbox import MailSandbox

        use_settings(self.settings)
        self.sandbox = MailSandbox(self.folder / "mail", smtp_port=self.settings.smtp_port,
                                   imap_port=self.settings.imap_port, password="sandbox").start()
        engine = engine_for(self.settings)
        upgrade(engine)
        self.factory = session_factory(engine)
        return self

    def __exit__(self, *exc) -> None:
        self.sandbox.stop()
        engine_for(self.settings).dispose()
        use_settings(None)

    def at(self, text: str) -> None:
        """Move the clock to an instant in Jakarta time, e.g. '2026-12-03 10:00'."""
        instant = clock.parse_instant(text.replace(" ", "T") + "+07:00")
        clock.set_clock(lambda: instant)

    def inbox(self, address: str, kind: str | None = None) -> list:
        """What a person finds in their mailbox (optionally only one kind of cld mail), oldest first."""
        with MailBoxUnencrypted("127.0.0.1", self.settings.imap_port) as box:
            box.login(address, "sandbox")
            found = list(box.fetch(mark_seen=False, bulk=True))
        if kind is not None:
            found = [m for m in found if m.headers.get("x-cld-kind", ("",))[0] == kind]
        return found

    def send(self, message) -> None:
        with smtplib.SMTP("127.0.0.1", self.settings.smtp_port) as smtp:
            smtp.send_message(message)

    def poll(self) -> dict:
        """The inbox job and the outbox job, as the worker would run them."""
        result = jobs.poll_inbox()
        jobs.flush_outbox()
        return result

    def person(self, **where) -> Employee:
        with self.factory() as session:
            query = select(Employee).where(*(getattr(Employee, k) == v for k, v in where.items()))
            return session.scalars(query.order_by(Employee.id)).first()

    def staff(self) -> list[Employee]:
        with self.factory() as session:
            return list(session.scalars(select(Employee).where(Employee.supervisor_id.is_not(None),
                                                                Employee.active).order_by(Employee.id)))

    def count(self, model, *where) -> int:
        with self.factory() as session:
            return session.scalar(select(func.count()).select_from(model).where(*where))


REPLIES = [
    # (style, topic, rating, extras)
    ("gmail", "Penyusunan nilai limit lelang", "1", {}),
    ("outlook", "Penatausahaan BMN di satuan kerja", "Cukup bermanfaat", {}),
    ("iphone", "Pelayanan pengguna jasa lelang", "2", {}),
    ("html", "Analisis berkas piutang negara", "Sangat bermanfaat", {}),
    ("inline", "Tata naskah dinas", "1", {}),
    ("english", "Reading appraisal reports", "Very useful", {}),
    ("gmail", "Rekonsiliasi data SIMAN", "3", {"issue": "Akses aplikasi SIMAN sering terputus "
                                                       "[Unit: Seksi Kepatuhan Internal, Hukum dan Informasi]"}),
    ("gmail", "Coaching kinerja triwulan", "1", {"duration": "90", "time": "13.00-14.30"}),
    ("outlook", "Penyusunan laporan kinerja", "2", {"revise": True}),
    ("gmail", "Lelang eksekusi hak tanggungan", "luar biasa", {"bad": True}),
]


def run(folder: Path, echo=print) -> dict:
    """Walk December 2026 through the service; return the files written and the problems seen."""
    import logging

    # The timeline tells the story; the service's own INFO logs would drown it.
    logging.getLogger("workflow").setLevel(logging.WARNING)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    with Office(folder, echo) as office:
        return _month(office)


def _month(office: Office) -> dict:
    t = office.timeline
    t.echo(f"cld demo — {office.settings.office_name}; data in {office.folder}")
    t.echo(f"mail sandbox: SMTP 127.0.0.1:{office.settings.smtp_port}, IMAP 127.0.0.1:{office.settings.imap_port}\n")

    office.at("2026-11-30 16:00")
    with office.factory() as session:
        report = import_roster(session, *load_files(EXAMPLES / "roster.csv", EXAMPLES / "units.csv"))
        session.commit()
    t.step(f"roster imported: {len(report.created)} people and units (examples/roster.csv)")

    office.at("2026-12-01 08:00")
    result = jobs.send_due_prompts()
    sent = jobs.flush_outbox()
    staff = office.staff()
    english = sum(1 for p in staff if p.language.value == "en")
    t.step(f"{result['prompted']} monthly prompts sent by SMTP ({len(staff) - english} Bahasa Indonesia, "
           f"{english} English); {sent['sent']} delivered")
    t.check(result["prompted"] == len(staff), "every staff member gets one prompt")

    office.at("2026-12-01 13:00")
    briefs = jobs.send_due_prompts()["briefs"]
    jobs.flush_outbox()
    t.step(f"{briefs} supervisors get their team brief: last sessions, next steps, rating trend, "
           "an Appreciative Inquiry guide")

    office.at("2026-12-02 09:30")
    needy = staff[-1]
    [prompt] = office.inbox(needy.email, "prompt")
    office.send(people.gmail_reply(prompt, needy.email, "Kebutuhan / Needs: Saya ingin belajar menyusun "
                                                        "kertas kerja penilaian.\n"))
    office.poll()
    supervisor = office.person(id=needy.supervisor_id)
    t.step(f"{needy.name} sends what they need help with before the session; forwarded to {supervisor.name}")
    t.check(bool(office.inbox(supervisor.email, "needs_forward")), "the supervisor receives the needs")

    repliers = staff[:len(REPLIES)]
    office.at("2026-12-04 10:00")
    revise_person = bad_person = issue_person = None
    for person, (style, topic, rating, extra) in zip(repliers, REPLIES):
        [prompt] = office.inbox(person.email, "prompt")
        body = people.filled_form(day=3, topic=topic, rating=rating, notes="Membahas kasus nyata dan langkah "
                                  "perbaikan bersama atasan.", objectives="Memahami prosedur yang berlaku",
                                  references="PMK terkait", time=extra.get("time", "09.00-10.00"),
                                  duration=extra.get("duration", ""), issues=extra.get("issue", ""),
                                  next_steps="Menerapkan di pekerjaan bulan depan", english=style == "english")
        if extra.get("issue"):
            body = body.replace("Isu tindak lanjut: ", "Isu tindak lanjut:\n- ")
            issue_person = person
        if extra.get("revise"):
            revise_person = person
        if extra.get("bad"):
            bad_person = person
        office.send(_styled(style, prompt, person, body))
    [prompt] = office.inbox(staff[len(REPLIES)].email, "prompt")
    auto_person = staff[len(REPLIES)]
    office.send(people.auto_reply(prompt, auto_person.email))
    polled = office.poll()
    t.step(f"{len(REPLIES)} people reply from Gmail, Outlook, iPhone, webmail (HTML), inline and in English; "
           f"{auto_person.name}'s out-of-office arrives too")
    t.detail(f"inbox: {polled['fetched']} fetched → {polled['statuses']}")
    t.check(polled["statuses"].get("processed", 0) == len(REPLIES) - 1, "all good replies become entries")
    t.check(polled["statuses"].get("ignored", 0) == 1, "the auto-reply is ignored")
    t.check(not office.inbox(auto_person.email, "form_problems"), "nobody answers the auto-reply")
    over = office.count(Entry, Entry.over_hour.is_(True))
    t.detail(f"receipts sent; {over} session over 60 minutes accepted and flagged")

    [answer] = office.inbox(bad_person.email, "form_problems")
    t.step(f"{bad_person.name}'s rating 'luar biasa' is not understood: the answer lists what to fix")
    office.at("2026-12-04 14:00")
    office.send(people.gmail_reply(answer, bad_person.email, answer_fixed(answer.text)))
    office.poll()
    t.check(office.count(Entry) == len(REPLIES), "the corrected reply becomes an entry")
    t.step(f"{bad_person.name} corrects it in one reply; entry recorded")

    office.at("2026-12-07 09:00")
    approved = 0
    revision_sent = unclear_sent = False
    pending_person = repliers[1]
    for supervisor in {office.person(id=p.supervisor_id).email: office.person(id=p.supervisor_id)
                       for p in repliers}.values():
        for request in office.inbox(supervisor.email, "signoff_request"):
            if pending_person.name in request.text:
                continue  # this one stays unanswered and climbs the ladder below
            if revise_person and revise_person.name in request.text and not revision_sent:
                office.send(people.plain_reply(request, supervisor.email,
                                               "REVISI\nMohon lengkapi tujuan pembelajaran secara lebih spesifik."))
                revision_sent = True
            elif not unclear_sent:
                office.send(people.plain_reply(request, supervisor.email, "setuju?"))
                unclear_sent = unclear_request = (supervisor, request)
            else:
                office.send(people.plain_reply(request, supervisor.email,
                                               "SETUJU\nReviu / Review: Sesi yang baik, lanjutkan.\n"))
                approved += 1
    office.poll()
    supervisor, request = unclear_request
    asked_again = office.inbox(supervisor.email, "decision_unclear")
    t.step(f"supervisors answer their sign-off requests by reply: {approved} SETUJU, 1 REVISI; "
           f"{supervisor.name}'s 'setuju?' is not taken as a yes")
    t.check(len(asked_again) == 1, "an unclear decision is asked again")
    office.send(people.plain_reply(request, supervisor.email, "SETUJU"))
    office.poll()
    approved += 1
    signed = office.count(Entry, Entry.state == EntryState.SIGNED)
    t.detail(f"{supervisor.name} answers SETUJU; {signed} entries signed, 1 left waiting for its signer")
    t.check(signed == approved, "every SETUJU signs its entry")

    office.at("2026-12-07 11:00")
    victim, colleague = repliers[-1], staff[len(REPLIES) + 1]
    [prompt] = office.inbox(victim.email, "prompt")
    office.send(people.gmail_reply(prompt, colleague.email, people.filled_form(
        day=3, topic="Dicatat atas nama teman", rating="1", notes="Tidak ada.")))
    office.poll()
    t.step(f"{colleague.name} replies to {victim.name}'s prompt from their own address: refused, "
           f"{victim.name} is warned, nothing recorded")
    t.check(bool(office.inbox(victim.email, "foreign_sender")), "the owner of the token is warned")

    office.at("2026-12-07 15:00")
    [revision] = office.inbox(revise_person.email, "revision_request") or [None]
    t.check(revision is not None, "the employee receives the revision request")
    if revision is not None:
        fixed = people.filled_form(day=3, topic="Penyusunan laporan kinerja", rating="2",
                                   notes="Membahas kasus nyata dan langkah perbaikan bersama atasan.",
                                   objectives="Mampu menyusun indikator kinerja dan target triwulan",
                                   references="PermenPANRB 6/2022")
        office.send(people.gmail_reply(revision, revise_person.email, fixed))
        office.poll()
        supervisor = office.person(id=revise_person.supervisor_id)
        requests = office.inbox(supervisor.email, "signoff_request")
        office.send(people.plain_reply(requests[-1], supervisor.email, "SETUJU"))
        office.poll()
    t.step(f"{revise_person.name} sends the corrected entry; a new request goes out and is approved")
    t.check(office.count(Entry, Entry.state == EntryState.SIGNED) == approved + 1, "the revised entry is signed")

    unit = _issue_unit(office)
    ladder = [("2026-12-14 09:00", "reminder to the unit"), ("2026-12-21 09:00", "escalated to the unit head"),
              ("2026-12-30 09:00", "escalated to the head of office")]
    head_of_office = office.person(is_head=True)
    unit_head = office.person(id=unit.head_id) if unit.head_id else head_of_office
    recipients = [(unit.email, "followup_reminder"), (unit_head.email, "followup_escalation"),
                  (head_of_office.email, "followup_escalation")]
    for index, ((when, what), (address, kind)) in enumerate(zip(ladder, recipients)):
        office.at(when)
        if index == 0:
            reminded = jobs.send_due_prompts()["reminded"]
            jobs.flush_outbox()
            t.step(f"10th working day: {reminded} people who have not replied get one reminder")
        jobs.run_escalations()
        jobs.run_escalations()  # the job runs every few minutes in production: a second run sends nothing more
        jobs.flush_outbox()
        t.step(f"follow-up issue from {issue_person.name} still open at {unit.name}: {what}")
        t.check(len(office.inbox(address, kind)) >= 1, f"{what}: {address} receives it")
        if index == 0:
            signer = office.person(id=pending_person.supervisor_id)
            t.detail(f"{signer.name} is reminded of {pending_person.name}'s pending sign-off")
            t.check(bool(office.inbox(signer.email, "signoff_reminder")), "the signer gets a sign-off reminder")
        if index == 1:
            above = office.person(id=office.person(id=pending_person.supervisor_id).supervisor_id)
            t.detail(f"the pending sign-off is escalated to {above.name}, who may sign in their place")
            t.check(bool(office.inbox(above.email, "signoff_escalation")), "the sign-off is escalated")
    office.at("2026-12-30 11:00")
    notices = office.inbox(unit.email, "followup_notice") if unit.email else []
    t.check(bool(notices), "the unit received the issue notice")
    if notices:
        office.send(people.plain_reply(notices[0], unit.email, "SELESAI\nAkses SIMAN sudah dipulihkan oleh tim TIK."))
        office.poll()
    resolved = office.count(FollowUp, FollowUp.state == FollowUpState.RESOLVED)
    t.step(f"{unit.name} replies SELESAI: the issue is resolved; {issue_person.name} and the supervisor are told")
    t.check(resolved == 1, "the issue is resolved")

    office.at("2027-01-01 00:30")
    closed = jobs.close_due_periods()
    jobs.flush_outbox()
    missed = closed["closed"][0]["missed"] if closed["closed"] else 0
    t.step(f"December closes: {missed} people without a session; each supervisor gets one notice; "
           f"the digest goes to the head of office and HR")

    files = _write_files(office)
    t.step("monthly report and one diary book written")
    for label, path in files.items():
        t.detail(f"{label}: {path}")
    ignored = office.count(InboundMessage, InboundMessage.status == InboundStatus.IGNORED)
    t.echo(f"\ndone in {time.monotonic() - t.started:.1f} s: {office.count(Entry)} entries, "
           f"{office.count(Entry, Entry.state == EntryState.SIGNED)} signed, {ignored} auto-reply ignored, "
           f"{len(t.problems)} problem(s)")
    t.echo(f"to read anyone's mail: CLD_DATA_DIR={office.folder} .venv/bin/cld sandbox, then IMAP "
           "127.0.0.1:2143 as any address above, password 'sandbox'")
    return {"files": files, "problems": t.problems}


def _styled(style: str, prompt, person: Employee, body: str):
    if style == "outlook":
        return people.outlook_reply(prompt, person.email, body, person.name)
    if style == "iphone":
        return people.iphone_reply(prompt, person.email, body)
    if style == "html":
        return people.html_only_reply(prompt, person.email, body)
    if style == "inline":
        values = dict(line.split(": ", 1) for line in body.splitlines() if ": " in line)
        return people.inline_reply(prompt, person.email, values)
    return people.gmail_reply(prompt, person.email, body)


def answer_fixed(text: str) -> str:
    """The refilled form from a correction answer, with the rating fixed."""
    lines, started = [], False
    for line in text.splitlines():
        if line.startswith("Tanggal sesi"):
            started = True
        if started:
            if line.startswith("Penilaian"):
                line = "Penilaian / Rating: 1"
            if line.startswith("Kode balasan") or line.startswith("--"):
                break
            lines.append(line)
    return "\n".join(lines) + "\n"


def _issue_unit(office: Office):
    from workflow.models import Unit

    with office.factory() as session:
        issue = session.scalar(select(FollowUp))
        return session.get(Unit, issue.unit_id) if issue else session.scalar(select(Unit))


def _write_files(office: Office) -> dict[str, Path]:
    from workflow import diarybook, report_files, reports

    files: dict[str, Path] = {}
    with office.factory() as session:
        report = reports.monthly_report(session, office.settings, "2026-12")
        files["monthly report (XLSX)"] = report_files.write(report, "xlsx", office.folder / "report-2026-12.xlsx")
        files["monthly report (JSON)"] = report_files.write(report, "json", office.folder / "report-2026-12.json")
        signed = session.scalar(select(Entry).where(Entry.state == EntryState.SIGNED).order_by(Entry.id))
        employee = session.get(Employee, signed.employee_id)
        path = office.folder / f"diary-{employee.nip}-2026.pdf"
        diarybook.write_book(session, office.settings, employee, 2026, path)
        files[f"diary book of {employee.name} (PDF)"] = path
    return files
