"""Replies as people's mail clients write them, personalised with the real tokens of the bench's prompts.

The client shapes (Outlook desktop/web in English and Indonesian, Gmail web and Android, iPhone, Apple Mail,
Thunderbird, a Zimbra HTML-only client, Yahoo) are the golden corpus's own, from tests/mail/clients.py.
Each reply quotes the real prompt it answers, carries its real token in the address, subject code and
In-Reply-To, and fills the form with a session of one of three sizes.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import functools
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from bench.env import ROOT
from workflow.models import Employee, OutboundMessage, Prompt, ReplyToken, TokenPurpose


@functools.lru_cache(maxsize=1)
def clients():
    """tests/mail/clients.py, loaded by path (tests/mail is a folder of fixtures, not a package)."""
    path = ROOT / "tests" / "mail" / "clients.py"
    spec = importlib.util.spec_from_file_location("cld_mail_clients", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Prompted:
    """What a reply needs to know about one prompt we sent."""

    employee_id: int
    name: str
    email: str
    supervisor: str
    token: str
    message_id: str
    subject: str
    text: str


def prompted_sample(session: Session, count: int, after_id: int = 0) -> list[Prompted]:
    """`count` prompts spread evenly over those above `after_id` (every k-th), with the text of the email sent."""
    supervisor = aliased(Employee)
    ids = session.scalars(select(Prompt.id).where(Prompt.id > after_id).order_by(Prompt.id)).all()
    if not ids:
        return []
    step = max(1, len(ids) // count)
    chosen = ids[::step][:count]
    rows = session.execute(
        select(Employee.id, Employee.name, Employee.email, supervisor.name, ReplyToken.token,
               OutboundMessage.message_id, OutboundMessage.subject, OutboundMessage.raw)
        .join(Prompt, Prompt.employee_id == Employee.id)
        .join(ReplyToken, (ReplyToken.prompt_id == Prompt.id) & (ReplyToken.purpose == TokenPurpose.PROMPT))
        .join(OutboundMessage, (OutboundMessage.token_id == ReplyToken.id) & (OutboundMessage.kind == "prompt"))
        .outerjoin(supervisor, supervisor.id == Employee.supervisor_id)
        .where(Prompt.id.in_(chosen)).order_by(Prompt.id)).all()
    out = []
    for employee_id, name, address, supervisor_name, token, message_id, subject, raw in rows:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        text = msg.get_body(preferencelist=("plain",)).get_content()
        out.append(Prompted(employee_id, name, address, supervisor_name or "", token, message_id, subject, text))
    return out


DATES = ("02/12/2026", "3 Desember 2026", "December 3, 2026", "2 Des 2026")
TIMES = ("09.00-10.00", "13.00 - 14.00", "9:30 - 10:30", "14.00-15.00")
RATINGS = ("1", "2", "Sangat bermanfaat", "Very useful", "3", "Cukup bermanfaat")
NONE = ("-", "tidak ada", "none", "")
NOTE_LINES = (
    "Membahas contoh penilaian kendaraan dinas dan cara membaca laporan penilai.",
    "Mencoba menghitung nilai limit bersama mentor dengan dua pendekatan.",
    "Kami membandingkan pendekatan pasar dan pendekatan biaya pada tiga objek lelang.",
    "Mentor menjelaskan dokumen persyaratan yang wajib ada sebelum pengumuman lelang.",
    "Saya mencatat pertanyaan peserta yang sering muncul saat aanwijzing.",
)
SIZES = (("small", 1), ("medium", 8), ("large", 60))


def form_text(i: int, person: Prompted) -> str:
    """A filled form; the notes are one, eight or sixty lines long."""
    size, lines = SIZES[i % len(SIZES)]
    notes = "\n".join(NOTE_LINES[(i + n) % len(NOTE_LINES)] for n in range(lines))
    mentor = person.supervisor if i % 2 == 0 else ""
    form = [
        f"Tanggal sesi / Session date: {DATES[i % len(DATES)]}",
        f"Jam / Time: {TIMES[i % len(TIMES)]}",
        f"Mentor: {mentor}",
        f"Topik / Topic: Penilaian barang sitaan untuk lelang ({size})",
        "Tujuan pembelajaran / Learning objectives: Memahami pendekatan pasar dan pendekatan biaya",
        f"Catatan dan hasil pembelajaran / Notes and learning outcomes:\n{notes}",
        "Sumber referensi / References: PMK tentang Petunjuk Pelaksanaan Lelang",
        f"Penilaian / Rating: {RATINGS[i % len(RATINGS)]}",
        f"Isu tindak lanjut / Follow-up issues: {NONE[i % len(NONE)]}",
        "Rencana selanjutnya / Next steps: Praktik penilaian mandiri",
        "Kebutuhan / Needs: -",
    ]
    # No trailing spaces: a flowed client would read "Mentor: " as a soft break and join the next line on.
    return "\n".join(line.rstrip() for line in form)


def _shapes() -> list[tuple[str, Callable]]:
    c = clients()
    return [
        ("outlook_desktop_en", lambda r: c.outlook(r)),
        ("outlook_desktop_id", lambda r: c.outlook(r, locale="id")),
        ("outlook_web", lambda r: c.outlook(r, web=True)),
        ("gmail_web_en", lambda r: c.gmail(r)),
        ("gmail_web_id", lambda r: c.gmail(r, locale="id")),
        ("gmail_mobile_id", lambda r: c.gmail(r, locale="id", mobile=True)),
        ("iphone_en", lambda r: c.iphone(r)),
        ("iphone_id", lambda r: c.iphone(r, locale="id")),
        ("apple_mail", lambda r: c.apple_mail(r)),
        ("thunderbird", lambda r: c.thunderbird(r)),
        ("thunderbird_signature", lambda r: c.thunderbird(r, signature="Budi\nSeksi Pelayanan Lelang")),
        ("html_only", lambda r: c.html_only(r)),
        ("yahoo", lambda r: c.yahoo(r)),
    ]


def build_replies(sample: list[Prompted], service: str) -> list[tuple[str, bytes]]:
    """(client shape, raw bytes) for each prompted person, the shapes taken in turn."""
    c = clients()
    local, domain = service.split("@")

    @dataclass(frozen=True)
    class Original(c.Original):
        """The prompt as sent: our reply address with its token, its real subject and Message-ID."""

        @property
        def reply_to(self) -> str:
            return f"{local}+{self.token}@{domain}"

    shapes = _shapes()
    out = []
    for i, person in enumerate(sample):
        template = c.prompt_to(c.Person(person.name, person.email))
        original = Original(**{f.name: getattr(template, f.name) for f in dataclasses.fields(c.Original)})
        original = dataclasses.replace(original, token=person.token, subject=person.subject,
                                       message_id=person.message_id, body=person.text.rstrip("\n"))
        intro = "Selamat siang,\n\n" if i % 3 == 0 else ""
        closing = f"\n\nTerima kasih,\n{person.name.split(',')[0]}" if i % 4 != 1 else ""
        # Clients quote a display name with a comma ("Rina, S.E."); the shapes here do not, so titles stay out.
        reply = c.Reply(c.Person(person.name.split(",")[0], person.email), original,
                        intro + form_text(i, person) + closing,
                        "Fri, 4 Dec 2026 08:15:00 +0700", f"<bench.{i}.{person.token[:8]}@mail.example.test>")
        name, shape = shapes[i % len(shapes)]
        out.append((name, shape(reply)))
    return out
