"""Build replies the way people write them: a filled form on top, the prompt quoted below."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from datetime import datetime, timezone

GOOD_FORM = """Tanggal sesi / Session date: 3 Desember 2026
Jam / Time: 09.00-10.00
Mentor:
Topik / Topic: Penyusunan nilai limit lelang
Tujuan pembelajaran / Learning objectives: Memahami dasar penetapan nilai limit
Catatan dan hasil pembelajaran / Notes and learning outcomes: Membahas tiga kasus lelang eksekusi
dan cara membaca laporan penilaian.
Sumber referensi / References: PMK 213/PMK.06/2020
Penilaian / Rating: 1
Isu tindak lanjut / Follow-up issues:
- Akses aplikasi lelang sering terputus [Unit: Seksi Kepatuhan Internal, Hukum dan Informasi]
Rencana selanjutnya / Next steps: Mendampingi satu pelaksanaan lelang
"""


def reply_to(prompt, sender: str, body: str, *, subject: str | None = None, to: str | None = None,
             date: datetime | None = None, extra_headers: dict | None = None) -> EmailMessage:
    """A plain-text reply to `prompt` (an imap-tools MailMessage) from `sender`, quoting it."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to or parseaddr(prompt.headers["reply-to"][0])[1]
    msg["Subject"] = subject or "Re: " + " ".join(prompt.subject.split())
    msg["Date"] = format_datetime(date or datetime(2026, 12, 4, 2, 0, tzinfo=timezone.utc))
    msg["Message-ID"] = make_msgid(domain="example.test")
    msg["In-Reply-To"] = prompt.headers["message-id"][0]
    msg["References"] = prompt.headers["message-id"][0]
    for name, value in (extra_headers or {}).items():
        msg[name] = value
    quoted = "\n".join("> " + line for line in prompt.text.splitlines())
    msg.set_content(f"{body}\n\nOn Tue, 1 Dec 2026 at 08:00, CLD <{parseaddr(prompt.from_)[1]}> wrote:\n{quoted}\n")
    return msg
