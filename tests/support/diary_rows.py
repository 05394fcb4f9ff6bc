"""Named people of the example office, entries built directly, and decision replies run through the domain."""

from __future__ import annotations

from datetime import date, time
from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy import select

from workflow import inbound
from workflow.mail import extract, trim
from workflow.models import Employee, Entry, EntryState, Prompt, ReplyToken, SignoffRequest, Unit

# The example roster: Dewi reports to Bambang (head of Seksi PKN), who reports to Hendra, the head of office.
# Kevin reports to Made, who reports to Ratna (head of Seksi Pelayanan Lelang), who reports to Hendra.
NIP = {"dewi": "199106182014012002", "bambang": "197803032001121003", "hendra": "197305121996031001",
       "kevin": "199705202020031003", "made": "198307072006031001", "ratna": "198012192004012001",
       "rizky": "199612022019021005", "sri": "197908212003122002"}


def person(session, name: str) -> Employee:
    """One of the named personas."""
    return session.scalar(select(Employee).where(Employee.nip == NIP[name]))


def unit(session, name: str) -> Unit:
    """A unit by its exact name."""
    return session.scalar(select(Unit).where(Unit.name == name))


def make_entry(session, settings, employee: Employee, *, request: bool = True, **fields) -> Entry:
    """An entry as diary records it (awaiting sign-off), with its sign-off requested unless `request` is False."""
    prompt = session.scalar(select(Prompt).where(Prompt.employee_id == employee.id, Prompt.period == "2026-12"))
    if prompt is None:
        prompt = Prompt(period="2026-12", employee_id=employee.id)
        session.add(prompt)
        session.flush()
    supervisor = employee.supervisor
    values = dict(session_date=date(2026, 12, 3), start_time=time(9, 0), end_time=time(10, 0), duration_minutes=60,
                  mentor_id=supervisor.id, mentor_name=supervisor.name, topic="Penyusunan nilai limit lelang",
                  objectives="Memahami dasar penetapan nilai limit", notes="Membahas tiga kasus lelang eksekusi",
                  references="PMK 213/PMK.06/2020", rating="very_useful", next_steps="Mendampingi satu lelang")
    values.update(fields)
    entry = Entry(prompt_id=prompt.id, employee_id=employee.id, period="2026-12", version=1,
                  state=EntryState.AWAITING_SIGNOFF, **values)
    session.add(entry)
    session.flush()
    if request:
        from workflow import signoff

        signoff.request_signoff(session, settings, entry)
    session.commit()
    return entry


def request_of(session, entry: Entry) -> SignoffRequest:
    """The sign-off request of the entry's current version."""
    return session.scalar(select(SignoffRequest).where(SignoffRequest.entry_id == entry.id,
                                                       SignoffRequest.entry_version == entry.version))


def token_of(session, request: SignoffRequest) -> ReplyToken:
    return session.get(ReplyToken, request.token_id)


def reply_context(session, settings, token: ReplyToken, sender: Employee | str, body: str, *,
                  html: bool = False) -> inbound.Context:
    """A stored reply to `token` from `sender`, read the way the pipeline reads it, ready for the apply stage."""
    address = sender if isinstance(sender, str) else sender.email
    msg = EmailMessage()
    msg["From"] = address
    msg["To"] = settings.reply_address_for(token.token)
    msg["Subject"] = f"Re: [CLD-{token.short_code}] Mohon persetujuan"
    msg["Message-ID"] = make_msgid(domain="example.test")
    msg.set_content(body, subtype="html" if html else "plain")
    row = inbound.store_raw(session, msg.as_bytes())
    parsed = extract.parse_bytes(row.raw)
    text = trim.trim_reply(extract.reply_text(parsed))
    owner = token.owner
    return inbound.Context(session, settings, row, msg=parsed, sender=address, token=token,
                           person=owner if owner is not None else None, text=text,
                           auth_verdict=f"from={address}; no trusted Authentication-Results")
