"""How each mail client shapes a reply: headers, MIME structure, transfer encoding and quoting style.

Used only by make_corpus.py to write the committed .eml fixtures; the tests read the files, not this.
"""

from __future__ import annotations

import base64
import html
import quopri
import textwrap
from dataclasses import dataclass, field

from workflow.mail.forms import render_entry_form
from workflow.mail.trim import MARKER

OFFICE = "office.example"
PROMPT_TOKEN = "0123456789abcdef0123456789abcdef"
SIGNOFF_TOKEN = "fedcba9876543210fedcba9876543210"
FOLLOWUP_TOKEN = "a1b2c3d4e5f60718293a4b5c6d7e8f90"


@dataclass(frozen=True)
class Person:
    """Someone who sends or receives mail in the corpus."""

    name: str
    address: str


@dataclass(frozen=True)
class Original:
    """A message we sent, which the person replies to."""

    token: str
    subject: str
    message_id: str
    date_en: str  # as Outlook prints it in English
    date_id: str  # as Outlook prints it in Indonesian
    gmail_en: str
    gmail_id: str
    to: Person
    body: str

    @property
    def reply_to(self) -> str:
        return f"cld+{self.token}@{OFFICE}"


CLD = Person("CLD KPKNL Jakarta Contoh", f"cld@{OFFICE}")


def prompt_body(name: str) -> str:
    return (
        f"{MARKER}\n\n"
        f"Yth. {name},\n\n"
        "Silakan balas email ini dan isi formulir di bawah untuk sesi coaching\n"
        "Desember 2026. Pilih satu nilai untuk penilaian (1-4).\n"
        "Please reply to this email and fill in the form below for your December\n"
        "2026 coaching session. Choose one value for the rating (1-4).\n\n"
        f"{render_entry_form(None)}\n"
        f"Kode balasan / Reply code: {PROMPT_TOKEN}\n"
        "-- \n"
        "CLD - Coaching & Learning Diary\n"
        "KPKNL Jakarta Contoh\n"
    )


def prompt_to(person: Person) -> Original:
    slug = person.address.split("@")[0]
    return Original(
        token=PROMPT_TOKEN,
        subject=f"[CLD-{PROMPT_TOKEN[:12]}] Sesi coaching Desember 2026 / Coaching session December 2026",
        message_id=f"<cld.prompt.2026-12.{slug}@{OFFICE}>",
        date_en="Tuesday, December 1, 2026 8:00 AM",
        date_id="Selasa, 01 Desember 2026 08.00",
        gmail_en="Tue, Dec 1, 2026 at 8:00 AM",
        gmail_id="Sel, 1 Des 2026 pukul 08.00",
        to=person,
        body=prompt_body(person.name),
    )


SIGNED_ENTRY = {
    "session_date": "2026-12-02", "start_time": "09:00", "end_time": "10:00", "duration_minutes": 60,
    "mentor": "Ratna Dewi", "topic": "Penilaian barang sitaan untuk lelang",
    "objectives": "Memahami pendekatan pasar dan pendekatan biaya",
    "notes": "Membahas contoh penilaian kendaraan dinas.\nMencoba menghitung nilai limit bersama mentor.",
    "references": "PMK tentang Petunjuk Pelaksanaan Lelang", "rating": "very_useful",
    "followups": [{"text": "Akses aplikasi penilaian belum aktif", "unit": "Subbagian Umum"}],
    "next_steps": "Praktik penilaian mandiri", "needs": None,
}


def signoff_to(signer: Person, employee: Person) -> Original:
    return Original(
        token=SIGNOFF_TOKEN,
        subject=f"[CLD-{SIGNOFF_TOKEN[:12]}] Persetujuan catatan coaching {employee.name} / "
                f"Sign-off request: {employee.name}",
        message_id=f"<cld.signoff.1042@{OFFICE}>",
        date_en="Thursday, December 3, 2026 10:15 AM",
        date_id="Kamis, 03 Desember 2026 10.15",
        gmail_en="Thu, Dec 3, 2026 at 10:15 AM",
        gmail_id="Kam, 3 Des 2026 pukul 10.15",
        to=signer,
        body=(
            f"{MARKER}\n\n"
            f"Yth. {signer.name},\n\n"
            f"{employee.name} mengirim catatan coaching berikut. Balas SETUJU untuk menyetujui,\n"
            "atau REVISI diikuti alasannya.\n"
            f"{employee.name} sent the coaching notes below. Reply APPROVE to sign them off,\n"
            "or REVISE followed by your reasons.\n\n"
            f"{render_entry_form(SIGNED_ENTRY)}\n"
            f"Kode balasan / Reply code: {SIGNOFF_TOKEN}\n"
        ),
    )


def followup_to(unit: Person) -> Original:
    return Original(
        token=FOLLOWUP_TOKEN,
        subject=f"[CLD-{FOLLOWUP_TOKEN[:12]}] Isu tindak lanjut / Follow-up issue: Akses aplikasi penilaian",
        message_id=f"<cld.followup.77@{OFFICE}>",
        date_en="Friday, December 4, 2026 9:00 AM",
        date_id="Jumat, 04 Desember 2026 09.00",
        gmail_en="Fri, Dec 4, 2026 at 9:00 AM",
        gmail_id="Jum, 4 Des 2026 pukul 09.00",
        to=unit,
        body=(
            f"{MARKER}\n\n"
            f"Yth. {unit.name},\n\n"
            "Isu berikut muncul dari sesi coaching Budi Santoso (2 Desember 2026):\n"
            "The following issue came up in Budi Santoso's coaching session (2 December 2026):\n\n"
            "  Akses aplikasi penilaian belum aktif\n\n"
            "Tenggat / Deadline: 18/12/2026\n"
            "Balas PROSES (boleh dengan Target: tanggal) atau SELESAI diikuti catatannya.\n"
            "Reply IN PROGRESS (optionally with Target: date) or RESOLVED followed by a note.\n\n"
            f"Kode balasan / Reply code: {FOLLOWUP_TOKEN}\n"
        ),
    )


@dataclass
class Reply:
    """One reply as typed by a person; the client function decides its shape."""

    sender: Person
    original: Original
    text: str
    date: str
    message_id: str
    subject_prefix: str = "Re: "
    extra_headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def subject(self) -> str:
        return self.subject_prefix + self.original.subject


def crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8", "surrogateescape")


def qp(text: str, charset: str = "utf-8") -> str:
    return quopri.encodestring(text.encode(charset)).decode("ascii")


def b64(text: str, charset: str = "utf-8") -> str:
    return base64.encodebytes(text.encode(charset)).decode("ascii")


def quote(text: str, prefix: str = "> ") -> str:
    return "\n".join((prefix + line).rstrip() if line else prefix.rstrip() for line in text.rstrip("\n").split("\n"))


def flow(text: str, width: int = 72) -> str:
    """RFC 3676 format=flowed: long lines broken after a space, which marks the soft break."""
    out = []
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        prefix, content = line[:depth], line[depth:].lstrip(" ") if depth else line
        prefix = prefix + " " if depth else ""
        if content.startswith((" ", "From ", ">")) and not depth:
            content = " " + content  # space-stuffing
        if len(prefix + content) <= width or content == "-- ":
            out.append(prefix + content)
            continue
        pieces = textwrap.wrap(content, width - len(prefix), break_long_words=False, drop_whitespace=True)
        for piece in pieces[:-1]:
            out.append(prefix + piece + " ")  # the trailing space marks a soft break
        out.append(prefix + pieces[-1])
    return "\n".join(out)


def headers(pairs: list[tuple[str, str]]) -> str:
    return "".join(f"{name}: {value}\n" for name, value in pairs)


def _thread(reply: Reply) -> list[tuple[str, str]]:
    return [("In-Reply-To", reply.original.message_id), ("References", reply.original.message_id)]


def _html_lines(text: str, tag: str = "div", attributes: str = "") -> str:
    return "\n".join(f"<{tag}{attributes}>{html.escape(line) if line else '&nbsp;'}</{tag}>"
                     for line in text.split("\n"))


def outlook(reply: Reply, *, locale: str = "en", charset: str = "utf-8", web: bool = False) -> bytes:
    """Outlook desktop (Word HTML beside a plain part) or Outlook on the web (the underscore separator)."""
    o = reply.original
    if locale == "id":
        block = (f"Dari: {CLD.name} <{CLD.address}>\nDikirim: {o.date_id}\nKepada: {o.to.name} <{o.to.address}>\n"
                 f"Subjek: {o.subject}\n")
    else:
        block = (f"From: {CLD.name} <{CLD.address}>\nSent: {o.date_en}\nTo: {o.to.name} <{o.to.address}>\n"
                 f"Subject: {o.subject}\n")
    separator = "________________________________\n" if web else ""
    plain = f"{reply.text}\n\n{separator}{block}\n{o.body}"
    boundary = "_000_SG2PR06MB543210A1B2C3D4E5F6SG2PR06MB5432apcp_"
    html_body = (
        '<html xmlns:o="urn:schemas-microsoft-com:office:office">\n<head>\n'
        f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">\n'
        '<meta name="Generator" content="Microsoft Word 15 (filtered medium)">\n'
        "<style><!--\np.MsoNormal {margin:0cm; font-size:11.0pt; font-family:\"Calibri\",sans-serif;}\n--></style>\n"
        '</head>\n<body lang="EN-US" link="#0563C1" vlink="#954F72" style="word-wrap:break-word">\n'
        '<div class="WordSection1">\n' + _html_lines(reply.text, "p", ' class="MsoNormal"') + "\n"
        '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">\n'
        '<p class="MsoNormal">' + "<br>\n".join(
            f"<b>{html.escape(line.split(':', 1)[0])}:</b>{html.escape(line.split(':', 1)[1])}"
            for line in block.strip().split("\n")) + "</p>\n</div>\n"
        + _html_lines(o.body, "p", ' class="MsoNormal"')
        + "\n</div>\n</body>\n</html>\n"
    )
    lang = "id-ID" if locale == "id" else "en-US"
    head = [
        ("Received", "from SG2PR06MB5432.apcprd06.prod.outlook.example (2603:1096:4:1a::15) by "
                     f"mx1.{OFFICE} with ESMTPS id 4Fq2Lk0Zz9z1; {reply.date}"),
        ("From", f"{reply.sender.name} <{reply.sender.address}>"),
        ("To", f'"{CLD.name}" <{o.reply_to}>'),
        ("Subject", ("BLS: " if locale == "id" and not web else "RE: ") + o.subject),
        ("Thread-Topic", o.subject),
        ("Thread-Index", "AQHbRk3xZ2Vq8o9yS0mS3tL1kQ2b7A=="),
        ("Date", reply.date),
        ("Message-ID", reply.message_id),
        *_thread(reply),
        ("Accept-Language", lang if lang == "en-US" else f"{lang}, en-US"),
        ("Content-Language", lang),
        ("X-MS-Has-Attach", ""),
        ("X-MS-TNEF-Correlator", ""),
        *reply.extra_headers,
        ("Content-Type", f'multipart/alternative;\n\tboundary="{boundary}"'),
        ("MIME-Version", "1.0"),
    ]
    body = (
        f"--{boundary}\nContent-Type: text/plain; charset=\"{charset}\"\nContent-Transfer-Encoding: quoted-printable\n\n"
        f"{qp(plain, charset)}\n"
        f"--{boundary}\nContent-Type: text/html; charset=\"{charset}\"\nContent-Transfer-Encoding: quoted-printable\n\n"
        f"{qp(html_body, charset)}\n--{boundary}--\n"
    )
    return crlf(headers(head) + "\n" + body)


def gmail(reply: Reply, *, locale: str = "en", mobile: bool = False, attribution: str | None = None,
          quoted_body: str | None = None) -> bytes:
    """Gmail web or Android: multipart/alternative, an attribution wrapped at 78 columns, '> ' quotes."""
    o = reply.original
    if attribution is None:
        when = o.gmail_id if locale == "id" else o.gmail_en
        if mobile and locale == "id":
            attribution = f"Pada {when.replace(' pukul', '')}, {CLD.name} <{o.reply_to}> menulis:"
        elif locale == "id":
            attribution = f"Pada tanggal {when} {CLD.name} <\n{o.reply_to}> menulis:"
        else:
            attribution = f"On {when} {CLD.name} <\n{o.reply_to}> wrote:"
    quoted = quoted_body if quoted_body is not None else quote(o.body)
    plain = f"{reply.text}\n\n{attribution}\n\n{quoted}\n"
    boundary = "000000000000b4c1a2060f5d3e21"
    html_body = (
        f'<div dir="ltr">{"<br>".join(html.escape(line) for line in reply.text.split(chr(10)))}</div><br>'
        f'<div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
        f'{html.escape(attribution.replace(chr(10), ""))}<br></div>'
        '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid '
        'rgb(204,204,204);padding-left:1ex">'
        f'{"<br>".join(html.escape(line) for line in o.body.split(chr(10)))}</blockquote></div>\n'
    )
    encoding, plain_body, html_part = "7bit", plain, html_body
    if not plain.isascii():
        encoding, plain_body, html_part = "quoted-printable", qp(plain), qp(html_body)
    head = [
        ("Received", f"by mail-pl1-f170.google.example with SMTP id d9443c01a7336-21f0a1b2c3dso1234567; {reply.date}"),
        ("DKIM-Signature", "v=1; a=rsa-sha256; c=relaxed/relaxed;\n        d=mail.example.test; s=20230601; "
                           "t=1764817200; x=1765422000; darn=office.example;\n        h=to:subject:message-id:"
                           "date:from:in-reply-to:references:mime-version;\n        bh=47DEQpj8HBSa+/TImW+5JCeu"
                           "QeRkm5NMpJWZG3hSuFU=;\n        b=Zm9vYmFyYmF6cXV4"),
        ("X-Gm-Message-State", "AOJu0YzQ1b2c3d4e5f6g7h8i9j0kLmNoPqRsTuVwXyZ"),
        ("MIME-Version", "1.0"),
        *_thread(reply),
        ("From", f"{reply.sender.name} <{reply.sender.address}>"),
        ("Date", reply.date),
        ("Message-ID", reply.message_id),
        ("Subject", reply.subject),
        ("To", f"{CLD.name} <{o.reply_to}>"),
        *reply.extra_headers,
        ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
    ]
    body = (
        f"--{boundary}\nContent-Type: text/plain; charset=\"UTF-8\"\nContent-Transfer-Encoding: {encoding}\n\n"
        f"{plain_body}\n"
        f"--{boundary}\nContent-Type: text/html; charset=\"UTF-8\"\nContent-Transfer-Encoding: {encoding}\n\n"
        f"{html_part}\n--{boundary}--\n"
    )
    return crlf(headers(head) + "\n" + body)


def iphone(reply: Reply, *, locale: str = "en") -> bytes:
    """iOS Mail: one quoted-printable plain part; the attribution itself is quoted."""
    o = reply.original
    if locale == "id":
        attribution = f"Pada 1 Des 2026, pukul 08.00, {CLD.name} <{o.reply_to}> menulis:"
    else:
        attribution = f"On Dec 1, 2026, at 08:00, {CLD.name} <{o.reply_to}> wrote:"
    if o.token != PROMPT_TOKEN:
        attribution = attribution.replace("1 Des", "3 Des").replace("Dec 1", "Dec 3")
    plain = f"{reply.text}\n\n{quote(attribution)}\n>\n{quote(o.body)}\n"
    head = [
        ("Received", f"from smtpclient.apple ([182.1.12.34]) by mx1.{OFFICE} with ESMTPSA; {reply.date}"),
        ("Content-Type", "text/plain;\n\tcharset=utf-8"),
        ("Content-Transfer-Encoding", "quoted-printable"),
        ("From", f"{reply.sender.name} <{reply.sender.address}>"),
        ("Mime-Version", "1.0 (1.0)"),
        ("Subject", reply.subject),
        ("Date", reply.date),
        ("Message-Id", reply.message_id),
        *_thread(reply),
        ("To", f"{CLD.name} <{o.reply_to}>"),
        ("X-Mailer", "iPhone Mail (22B91)"),
        *reply.extra_headers,
    ]
    return crlf(headers(head) + "\n" + qp(plain))


def apple_mail(reply: Reply) -> bytes:
    """macOS Mail: format=flowed with DelSp=yes, quoted-printable."""
    o = reply.original
    text = f"{reply.text}\n\n> On 1 Dec 2026, at 08:00, {CLD.name} <{o.reply_to}> wrote:\n>\n{quote(o.body)}\n"
    head = [
        ("Received", f"from smtpclient.apple ([36.71.140.2]) by mx1.{OFFICE} with ESMTPSA; {reply.date}"),
        ("From", f"{reply.sender.name} <{reply.sender.address}>"),
        ("Content-Type", "text/plain;\n\tcharset=utf-8;\n\tdelsp=yes;\n\tformat=flowed"),
        ("Content-Transfer-Encoding", "quoted-printable"),
        ("Mime-Version", "1.0 (Mac OS X Mail 16.0 \\(3826.200.121\\))"),
        ("Subject", reply.subject),
        ("Date", reply.date),
        *_thread(reply),
        ("To", f"{CLD.name} <{o.reply_to}>"),
        ("Message-Id", reply.message_id),
        ("X-Mailer", "Apple Mail (2.3826.200.121)"),
    ]
    return crlf(headers(head) + "\n" + qp(flow_delsp(text)))


def flow_delsp(text: str, width: int = 72) -> str:
    """format=flowed with DelSp=yes: lines may break inside a word run, marked by one added space."""
    out = []
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        prefix = line[:depth] + (" " if depth else "")
        content = line[depth:].lstrip(" ") if depth else line
        while len(prefix + content) > width:
            cut = content.rfind(" ", 0, width - len(prefix))
            if cut <= 0:
                break
            out.append(prefix + content[: cut + 1] + " ")  # keep the real space, add the DelSp one
            content = content[cut + 1:]
        out.append(prefix + content)
    return "\n".join(out)


def thunderbird(reply: Reply, *, signature: str | None = None) -> bytes:
    """Thunderbird: format=flowed at 72 columns, 8bit UTF-8, 'On DATE, NAME wrote:'."""
    o = reply.original
    text = reply.text + (f"\n\n-- \n{signature}" if signature else "")
    text += f"\n\nOn 01/12/2026 08.00, {CLD.name} wrote:\n{quote(o.body)}\n"
    head = [
        ("Received", f"from [10.12.1.45] (unknown [10.12.1.45]) by mx1.{OFFICE} (Postfix) with ESMTPSA id "
                     f"4Fq3Abc; {reply.date}"),
        ("Message-ID", reply.message_id),
        ("Date", reply.date),
        ("MIME-Version", "1.0"),
        ("User-Agent", "Mozilla Thunderbird"),
        ("Subject", reply.subject),
        ("Content-Language", "id"),
        ("To", f"{CLD.name} <{o.reply_to}>"),
        *_thread(reply),
        ("From", f"{reply.sender.name} <{reply.sender.address}>"),
        ("Content-Type", "text/plain; charset=UTF-8; format=flowed"),
        ("Content-Transfer-Encoding", "8bit"),
    ]
    return crlf(headers(head) + "\n" + flow(text))


def html_only(reply: Reply, *, mailer: str = "Zimbra 10.0.6_GA_4552 (ZimbraWebClient - GC120 (Win)/10.0.6_GA_4552)"
              ) -> bytes:
    """A webmail that sends only HTML, with the original in a blockquote."""
    o = reply.original
    body = (
        "<html><head><style type='text/css'>p { margin: 0; }</style>"
        "<script>trackOpen()</script></head>"
        "<body><div style=\"font-family: arial, helvetica, sans-serif; font-size: 12pt; color: #000000\">"
        + "".join(f"<p>{html.escape(line) if line else '<br>'}</p>" for line in reply.text.split("\n"))
        + '<img src="https://tracker.example.test/pixel.gif" width="1" height="1">'
        + f"<br><hr id=\"zwchr\"><div><b>Dari: </b>&quot;{html.escape(CLD.name)}&quot; &lt;{o.reply_to}&gt;<br>"
        + f"<b>Kepada: </b>&quot;{html.escape(o.to.name)}&quot; &lt;{o.to.address}&gt;<br>"
        + "<b>Terkirim: </b>Selasa, 1 Desember 2026 08:00:00<br>"
        + f"<b>Subjek: </b>{html.escape(o.subject)}<br></div><br>"
        + "<blockquote style=\"border-left:2px solid #1010FF;margin-left:5px;padding-left:5px;\">"
        + "<br>".join(html.escape(line) for line in o.body.split("\n"))
        + "</blockquote></div></body></html>\n"
    )
    head = [
        ("Received", f"from mail.{OFFICE} (localhost [127.0.0.1]) by mx1.{OFFICE} (Postfix); {reply.date}"),
        ("Date", reply.date),
        ("From", f"{reply.sender.name} <{reply.sender.address}>"),
        ("To", f"{CLD.name} <{o.reply_to}>"),
        ("Message-ID", reply.message_id),
        *_thread(reply),
        ("Subject", reply.subject),
        ("MIME-Version", "1.0"),
        ("Content-Type", "text/html; charset=utf-8"),
        ("Content-Transfer-Encoding", "quoted-printable"),
        ("X-Mailer", mailer),
    ]
    return crlf(headers(head) + "\n" + qp(body))


def yahoo(reply: Reply) -> bytes:
    """Yahoo Mail for Android: base64 parts, a device line and an indented, unmarked quote."""
    o = reply.original
    plain = (f"{reply.text}\n\nDikirim dari Yahoo Mail di Android\n\n"
             f"  Pada Sel, 1 Des 2026 pada 8:00, {CLD.name}<{o.reply_to}> menulis:   \n"
             + "\n".join("   " + line for line in o.body.split("\n")) + "\n")
    boundary = "----=_Part_3412877_1029384756.1764900000000"
    html_body = f'<div id="yMail_cursorElementTracker">{html.escape(reply.text)}</div>\n'
    head = [
        ("Received", f"from sonic310-21.consmr.mail.sg3.yahoo.example by mx1.{OFFICE}; {reply.date}"),
        ("Date", reply.date),
        ("From", f"{reply.sender.name} <{reply.sender.address}>"),
        ("To", f"{CLD.name} <{o.reply_to}>"),
        ("Message-ID", reply.message_id),
        *_thread(reply),
        ("Subject", reply.subject),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/alternative; \n\tboundary="{boundary}"'),
        ("X-Mailer", "WebService/1.1.22941 YMailNorrin"),
    ]
    body = (
        f"--{boundary}\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: base64\n\n{b64(plain)}\n"
        f"--{boundary}\nContent-Type: text/html; charset=UTF-8\nContent-Transfer-Encoding: base64\n\n"
        f"{b64(html_body)}\n--{boundary}--\n"
    )
    return crlf(headers(head) + "\n" + body)
