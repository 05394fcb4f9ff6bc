"""The hand-built MIME writer parses to what the stdlib's EmailMessage builder produced, and stays on the wire."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from email.utils import formataddr

import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from tests.conftest import ROOT
from tests.unit.test_email_templates import prompt_context
from workflow.mail.outbound import Attachment, Envelope, Rendered, build_message, one_line, render
from workflow.settings import load_settings

SAMPLES = ROOT / "docs" / "emails"
SETTINGS = load_settings(reply_address="cld@office.example")
XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
# Headers describing the MIME structure; the structure itself is compared part by part instead.
MIME_HEADERS = {"mime-version", "content-type", "content-transfer-encoding"}


def stdlib_message(settings, envelope: Envelope, rendered: Rendered, attachments, *, message_id: str,
                   date: str) -> EmailMessage:
    """The builder cld used before workflow/mail/mime.py (EmailMessage), kept as the reference."""
    msg = EmailMessage()
    msg["From"] = formataddr((settings.from_name, settings.reply_address))
    if len(envelope.to) == 1 and envelope.to_name:
        msg["To"] = formataddr((one_line(envelope.to_name), envelope.to[0]))
    else:
        msg["To"] = ", ".join(envelope.to)
    if envelope.cc:
        msg["Cc"] = ", ".join(envelope.cc)
    msg["Subject"] = one_line(envelope.subject)
    msg["Date"] = date
    msg["Message-ID"] = message_id
    if envelope.reply_to:
        msg["Reply-To"] = envelope.reply_to
    if envelope.in_reply_to:
        msg["In-Reply-To"] = envelope.in_reply_to
        msg["References"] = " ".join([*envelope.references, envelope.in_reply_to])
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    # set_content() below drops every Content-* header, so the old messages never carried this one.
    msg["Content-Language"] = "id, en"
    msg.set_content(rendered.text, cte="quoted-printable")
    msg.add_alternative(rendered.html, subtype="html", cte="quoted-printable")
    for item in attachments or []:
        msg.add_attachment(item.content, maintype=item.maintype, subtype=item.subtype, filename=item.filename)
    return msg


def parse(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.default)


def headers_of(message) -> list[tuple[str, str]]:
    # Stripped: the stdlib sometimes folds right after "Subject:", which parses back with a leading space.
    return [(name.lower(), str(value).strip()) for name, value in message.items()
            if name.lower() not in MIME_HEADERS]


def addresses_of(message) -> dict[str, list[tuple[str, str]]]:
    return {name: [(a.display_name, a.addr_spec) for a in message[name].addresses]
            for name in ("from", "to", "cc", "reply-to") if message[name] is not None}


def parts_of(message) -> list[tuple]:
    return [(part.get_content_type(), part.get_content_charset(), part.get_filename(), part.get_content())
            for part in message.walk() if not part.is_multipart()]


def structure_of(message) -> list[str]:
    return [part.get_content_type() for part in message.walk()]


def both(envelope: Envelope, rendered: Rendered, attachments=None):
    """(ours, the reference) parsed back, built from the same envelope, content, Date and Message-ID."""
    ours = build_message(SETTINGS, envelope, rendered, attachments)
    reference = stdlib_message(SETTINGS, envelope, rendered, attachments, message_id=ours["Message-ID"],
                               date=ours["Date"])
    return parse(ours.as_bytes()), parse(reference.as_bytes(policy=email.policy.SMTP))


def assert_same_message(ours, reference):
    # The one deliberate difference: Content-Language was always meant to be sent, and now it is.
    assert [header for header in headers_of(ours) if header[0] != "content-language"] == headers_of(reference)
    assert (ours["Content-Language"], reference["Content-Language"]) == ("id, en", None)
    assert addresses_of(ours) == addresses_of(reference)
    assert structure_of(ours) == structure_of(reference)
    assert parts_of(ours) == parts_of(reference)
    assert not ours.defects and all(not part.defects for part in ours.walk())


def sample(kind: str, lang: str) -> Rendered:
    head, text = (SAMPLES / f"{kind}.{lang}.txt").read_text(encoding="utf-8").split("\n\n", 1)
    return Rendered(head.removeprefix("Subject: "), text, (SAMPLES / f"{kind}.{lang}.html").read_text(encoding="utf-8"))


SAMPLED = sorted({path.name.split(".")[0] for path in SAMPLES.glob("*.id.txt")})


@pytest.mark.parametrize("lang", ["id", "en"])
@pytest.mark.parametrize("kind", SAMPLED)
def test_every_sampled_email_parses_to_what_the_stdlib_builder_made(kind, lang):
    rendered = sample(kind, lang)
    envelope = Envelope(to=["dewi.lestari@office.example"], to_name="Dewi Lestari", subject=rendered.subject,
                        reply_to="cld+" + "a1" * 16 + "@office.example")
    assert_same_message(*both(envelope, rendered))


def test_an_answer_in_a_thread_keeps_its_threading_headers():
    rendered = render("prompt", "en", prompt_context("Siti Nurhaliza"))
    envelope = Envelope(to=["siti@office.example"], to_name="Siti Nurhaliza, S.E.", subject="Re: " + rendered.subject,
                        reply_to="cld+token@office.example", in_reply_to="<CAF=abc.123@mail.gmail.com>",
                        references=["<first@example.test>", "<second@example.test>"])
    assert_same_message(*both(envelope, rendered))


def test_several_recipients_and_copies_are_all_kept():
    rendered = render("prompt", "id", prompt_context("Tim"))
    envelope = Envelope(to=["a@office.example", "b@office.example"], cc=["head@office.example", "hr@office.example"],
                        subject="Ringkasan tim — Desember 2026")
    ours, reference = both(envelope, rendered)
    assert_same_message(ours, reference)
    message = build_message(SETTINGS, envelope, rendered)
    assert message.recipients() == ["a@office.example", "b@office.example", "head@office.example",
                                    "hr@office.example"]


@pytest.mark.parametrize("name", ["Ni Made Ayu Wulandari", "Ünïcödé Çé, Jr.", 'Budi "Bud" \\ Santoso',
                                  "張偉", "=?utf-8?q?not_a_word?= Budi", "Budi\r\nBcc: evil@example.test"])
def test_display_names_parse_back_as_they_were_given(name):
    rendered = render("prompt", "en", prompt_context(name))
    envelope = Envelope(to=["budi@office.example"], to_name=name, subject=f"Untuk {name}")
    ours, reference = both(envelope, rendered)
    assert ours["To"].addresses[0].display_name == one_line(name)
    assert str(ours["Subject"]) == one_line(f"Untuk {name}")
    if "=?" not in name:  # the stdlib decodes an encoded word typed as text; we send the text itself
        assert_same_message(ours, reference)


def test_attachments_follow_the_alternative_part_with_their_type_and_name():
    rendered = render("prompt", "id", prompt_context("Budi"))
    attachments = [Attachment("cld-2026-12.xlsx", bytes(range(256)) * 40, *XLSX),
                   Attachment("laporan bulanan é 2026.pdf", b"%PDF-1.4\n" * 100, "application", "pdf"),
                   Attachment("catatan.txt", b"")]
    envelope = Envelope(to=["budi@office.example"], to_name="Budi", subject="Laporan / Report")
    ours, reference = both(envelope, rendered, attachments)
    assert_same_message(ours, reference)
    assert structure_of(ours) == ["multipart/mixed", "multipart/alternative", "text/plain", "text/html",
                                  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                                  "application/pdf", "application/octet-stream"]


def test_a_very_long_non_ascii_file_name_is_split_into_sections():
    name = "Laporan pembelajaran — " + "é" * 80 + ".xlsx"
    message = build_message(SETTINGS, Envelope(to=["a@office.example"], subject="x"), Rendered("x", "t", "<p>t</p>"),
                            [Attachment(name, b"data", *XLSX)])
    raw = message.as_bytes()
    assert b"filename*1*=" in raw
    assert parse(raw).get_payload()[1].get_filename() == name
    assert max(len(line) for line in raw.split(b"\r\n") if b"filename" in line) <= 78


def test_the_outbox_gets_recipients_id_and_subject_without_parsing():
    rendered = render("prompt", "id", prompt_context("Budi"))
    message = build_message(SETTINGS, Envelope(to=["Budi@Office.Example"], to_name="Budi", subject="Sesi — Desember"),
                            rendered)
    message["Bcc"] = "Audit <audit@office.example>"
    assert message.recipients() == ["budi@office.example", "audit@office.example"]
    assert message.get_all("Bcc") == ["Audit <audit@office.example>"]
    del message["Bcc"]
    assert message.get_all("Bcc", []) == [] and message["Bcc"] is None
    message["X-CLD-Kind"] = "prompt"
    parsed = parse(message.as_bytes(policy=email.policy.SMTP))
    assert parsed["X-CLD-Kind"] == "prompt" and parsed["Bcc"] is None
    assert message["Subject"] == "Sesi — Desember" == str(parsed["Subject"])
    assert message["Message-ID"] == parsed["Message-ID"] and message["Message-ID"].endswith("@office.example>")


def test_each_multipart_gets_its_own_boundary_that_no_content_contains():
    rendered = Rendered("s", "--=_ boundary look-alike\n=_abc\n", "<p>=_</p>")
    message = build_message(SETTINGS, Envelope(to=["a@office.example"], subject="s"), rendered,
                            [Attachment("a.bin", b"=_" * 100)])
    raw = message.as_bytes()
    boundaries = {part.get_boundary() for part in parse(raw).walk() if part.is_multipart()}
    assert len(boundaries) == 2
    assert parts_of(parse(raw))[0][3].replace("\r\n", "\n") == rendered.text


def wire_lines(raw: bytes) -> list[bytes]:
    assert raw.endswith(b"\r\n")
    lines = raw[:-2].split(b"\r\n")
    assert not any(b"\n" in line or b"\r" in line for line in lines), "a bare CR or LF"
    assert all(len(line) <= 998 for line in lines)
    raw.decode("ascii")
    return lines


def quoted_printable_bodies(raw: bytes) -> list[bytes]:
    marker = b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    return [chunk.split(b"\r\n--=_", 1)[0] for chunk in raw.split(marker)[1:]]


names = st.text(st.characters(exclude_categories=("Cs",)), max_size=120)
bodies = st.lists(st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=300),
    st.sampled_from([".", "..", ". ", "From here on", "From ", "trailing spaces   ", "tab\t", "=", "=?utf-8?q?x?=",
                     "x" * 200, " " * 90, "é" * 100, "😀" * 40, "--=_", ""]),
), max_size=12).map("\n".join)


@hypothesis_settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=names, subject=st.one_of(names, st.text(max_size=1200), st.sampled_from(
    ["Re: =?utf-8?q?ab?=", "x" * 1500, "a\r\nBcc: x@y.test", "ünï " * 200])), text=bodies, html=bodies,
    filename=st.one_of(st.none(), names.filter(lambda n: one_line(n))))
def test_any_name_subject_and_body_survive_the_round_trip(name, subject, text, html, filename):
    attachments = [Attachment(filename, filename.encode("utf-8"))] if filename else []
    message = build_message(SETTINGS, Envelope(to=["budi@office.example"], to_name=name, subject=subject),
                            Rendered(subject, text, html), attachments)
    raw = message.as_bytes()
    lines = wire_lines(raw)
    body_start = lines.index(b"")
    assert all(len(line) <= 78 for line in lines[body_start:]), "a body line longer than 78"
    for encoded in quoted_printable_bodies(raw):
        assert all(len(line) <= 76 for line in encoded.split(b"\r\n")), "a quoted-printable line longer than 76"
    parsed = parse(raw)
    assert str(parsed["Subject"]) == one_line(subject)
    [to] = parsed["To"].addresses
    assert (to.display_name, to.addr_spec) == (one_line(name), "budi@office.example")
    assert parsed["Bcc"] is None
    plain, rich, *attached = [part for part in parsed.walk() if not part.is_multipart()]
    assert plain.get_content().replace("\r\n", "\n") == _normal(text)
    assert rich.get_content().replace("\r\n", "\n") == _normal(html)
    if filename:
        assert attached[0].get_filename() == one_line(filename)
        assert attached[0].get_content() == filename.encode("utf-8")


def _normal(text: str) -> str:
    """What a text part carries: lines split on CR, LF or CRLF, joined and ended by a newline (as the stdlib)."""
    return "\n".join(line.decode("utf-8") for line in text.encode("utf-8").splitlines()) + "\n"
