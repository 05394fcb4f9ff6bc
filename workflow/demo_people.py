"""Simulated people for `cld demo`: how they write their replies, in several clients' styles."""

from __future__ import annotations

import html
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from workflow import clock


def filled_form(*, day: int, topic: str, notes: str, rating: str, time: str = "09.00-10.00",
                duration: str = "", objectives: str = "", references: str = "", issues: str = "",
                next_steps: str = "", english: bool = False) -> str:
    """A filled reply form; `english` uses the English labels only."""
    month = "December 2026" if english else "Desember 2026"
    labels = (("Session date", "Time", "Duration (minutes)", "Topic", "Learning objectives",
               "Notes and learning outcomes", "References", "Rating", "Follow-up issues", "Next steps")
              if english else
              ("Tanggal sesi", "Jam", "Durasi (menit)", "Topik", "Tujuan pembelajaran",
               "Catatan dan hasil pembelajaran", "Sumber referensi", "Penilaian", "Isu tindak lanjut",
               "Rencana selanjutnya"))
    values = (f"{day} {month}", time, duration, topic, objectives, notes, references, rating, issues, next_steps)
    return "\n".join(f"{label}: {value}".rstrip() for label, value in zip(labels, values) if value) + "\n"


def _base(prompt, sender: str, subject: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = parseaddr(prompt.headers.get("reply-to", (prompt.from_,))[0])[1]
    msg["Subject"] = subject or "Re: " + " ".join(prompt.subject.split())
    msg["Date"] = format_datetime(clock.now())
    msg["Message-ID"] = make_msgid(domain=sender.split("@")[1])
    msg["In-Reply-To"] = prompt.headers["message-id"][0]
    msg["References"] = prompt.headers["message-id"][0]
    return msg


def gmail_reply(prompt, sender: str, body: str) -> EmailMessage:
    """Top-posted, the prompt quoted below an 'On ... wrote:' line."""
    msg = _base(prompt, sender)
    quoted = "\n".join("> " + line for line in prompt.text.splitlines())
    msg.set_content(f"{body}\nOn Tue, Dec 1, 2026 at 8:00 AM CLD <{parseaddr(prompt.from_)[1]}> wrote:\n{quoted}\n")
    return msg


def outlook_reply(prompt, sender: str, body: str, name: str) -> EmailMessage:
    """Outlook in Indonesian: a header block, no '>' quoting, a signature with a disclaimer."""
    msg = _base(prompt, sender)
    msg.set_content(f"{body}\nSalam,\n{name}\n\n________________________________\n"
                    f"Dari: CLD <{parseaddr(prompt.from_)[1]}>\nDikirim: Selasa, 01 Desember 2026 08.00\n"
                    f"Kepada: {name} <{sender}>\nSubjek: {' '.join(prompt.subject.split())}\n\n{prompt.text}\n")
    return msg


def iphone_reply(prompt, sender: str, body: str) -> EmailMessage:
    """A phone reply: a 'Dikirim dari iPhone saya' line, then the quote."""
    msg = _base(prompt, sender)
    quoted = "\n".join("> " + line for line in prompt.text.splitlines())
    msg.set_content(f"{body}\nDikirim dari iPhone saya\n\n> Pada 1 Des 2026, pukul 08.00, CLD "
                    f"<{parseaddr(prompt.from_)[1]}> menulis:\n{quoted}\n")
    return msg


def html_only_reply(prompt, sender: str, body: str) -> EmailMessage:
    """Webmail that sends HTML only."""
    msg = _base(prompt, sender)
    lines = "".join(f"<div>{html.escape(line) or '<br>'}</div>" for line in body.splitlines())
    msg.set_content(f"<html><body>{lines}<blockquote>{html.escape(prompt.text[:500])}</blockquote></body></html>",
                    subtype="html")
    return msg


def inline_reply(prompt, sender: str, answers: dict[str, str]) -> EmailMessage:
    """Fills the form inside the quoted prompt, as some people do."""
    msg = _base(prompt, sender)
    lines = []
    for line in prompt.text.splitlines():
        label = line.split(":", 1)[0]
        filled = next((f"{line.rstrip()} {value}" for key, value in answers.items() if label.startswith(key)), line)
        lines.append("> " + filled)
    msg.set_content("Sudah saya isi di bawah.\n\nOn Tue, Dec 1, 2026 CLD wrote:\n" + "\n".join(lines) + "\n")
    return msg


def auto_reply(prompt, sender: str) -> EmailMessage:
    """An out-of-office answer."""
    msg = _base(prompt, sender, subject="Balasan otomatis: " + " ".join(prompt.subject.split()))
    msg["Auto-Submitted"] = "auto-replied"
    msg.set_content("Saya sedang cuti sampai 14 Desember 2026. / I am on leave until 14 December 2026.\n")
    return msg


def plain_reply(request, sender: str, body: str) -> EmailMessage:
    """A short reply on top of a request (a decision, a status)."""
    msg = _base(request, sender)
    quoted = "\n".join("> " + line for line in request.text.splitlines()[:40])
    msg.set_content(f"{body}\n\nOn Tue, Dec 1, 2026 CLD wrote:\n{quoted}\n")
    return msg


def plain_reply_to_address(to: str, sender: str, subject: str, body: str) -> EmailMessage:
    """A new message (not a reply) to the service address: no token anywhere."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"] = format_datetime(clock.now())
    msg["Message-ID"] = make_msgid(domain=sender.split("@")[1])
    msg.set_content(body)
    return msg
