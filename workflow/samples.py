"""Rendered samples of every email, for reviewers (`scripts/render-email-samples` writes docs/emails/).

The contexts are the real ones: the demo's month runs with an observer on the renderer, plus a few
extra moments the demo does not show (an unrouted mail, a message too large, an expired code, ...).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from workflow import clock, demo
from workflow import demo_people as people
from workflow.mail import outbound
from workflow.settings import use_settings

HEADER = "Subject: {subject}\n\n"


def collect_contexts(folder: Path) -> dict[str, dict]:
    """The first context each kind of email was rendered with during a demo month and its extras."""
    seen: dict[str, dict] = {}

    def observe(kind: str, _lang: str, context: dict) -> None:
        seen.setdefault(kind, context)

    outbound.observers.append(observe)
    try:
        with demo.Office(folder, echo=lambda *_: None) as office:
            demo._month(office)
            _extras(office)
    finally:
        outbound.observers.remove(observe)
    return seen


def _extras(office: demo.Office) -> None:
    staff = office.staff()
    someone, mentored = staff[-2], staff[-3]
    office.at("2027-01-04 09:00")
    office.send(people.plain_reply_to_address(office.settings.reply_address, someone.email, "Pertanyaan / A question",
                                              "Apakah sesi bulan ini boleh dua kali? / May I hold two sessions?"))
    office.poll()
    use_settings(office.settings.model_copy(update={"max_message_bytes": 4096}))
    office.send(people.plain_reply_to_address(office.settings.reply_address, someone.email, "Lampiran / Attachment",
                                              "x" * 5000))
    office.poll()
    use_settings(office.settings)
    office.at("2027-01-04 10:00")
    [prompt] = office.inbox(mentored.email, "prompt")
    head = office.person(is_head=True)
    office.send(people.gmail_reply(prompt, mentored.email, people.filled_form(
        day=28, topic="Belajar dari pimpinan", rating="1", notes="Sesi dengan kepala kantor.").replace(
        "Topik:", f"Mentor: {head.name}\nTopik:")))
    office.poll()
    resolved_unit = demo._issue_unit(office)
    for notice in office.inbox(resolved_unit.email, "followup_notice")[:1]:
        office.send(people.plain_reply(notice, resolved_unit.email, "oke"))
    office.poll()
    signer = office.person(id=staff[0].supervisor_id)
    for request in office.inbox(signer.email, "signoff_request")[:1]:
        office.send(people.plain_reply(request, signer.email, "SETUJU"))
    office.poll()
    office.at("2027-02-20 09:00")
    waiting = staff[1]  # the demo leaves this person's sign-off pending; by now its code has expired
    late_signer = office.person(id=waiting.supervisor_id)
    for request in office.inbox(late_signer.email, "signoff_request"):
        if waiting.name in request.text:
            office.send(people.plain_reply(request, late_signer.email, "SETUJU"))
    office.poll()
    [prompt] = office.inbox(someone.email, "prompt")
    office.send(people.gmail_reply(prompt, someone.email, "Tanggal sesi / Session date: 3 Desember 2026\n"))
    office.poll()


def write_samples(out: Path) -> list[Path]:
    """Render every collected kind in both languages (text and HTML) into `out`."""
    original = clock._source
    try:
        with tempfile.TemporaryDirectory(prefix="cld-samples-") as folder:
            contexts = collect_contexts(Path(folder) / "office")
    finally:
        clock.set_clock(original)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.*"):
        if old.suffix in (".txt", ".html"):
            old.unlink()
    written = []
    for kind in sorted(contexts):
        for lang in ("id", "en"):
            rendered = outbound.render(kind, lang, contexts[kind])
            text = out / f"{kind}.{lang}.txt"
            text.write_text(HEADER.format(subject=rendered.subject) + rendered.text, encoding="utf-8")
            html = out / f"{kind}.{lang}.html"
            html.write_text(rendered.html, encoding="utf-8")
            written += [text, html]
    templates = sorted(p.name for p in outbound.TEMPLATES.iterdir() if p.is_dir() and not p.name.startswith("_"))
    missing = [name for name in templates if name not in contexts]
    lines = ["# Email samples", "",
             "Every email cld sends, rendered with real contexts from a demo month (`scripts/render-email-samples`).",
             "Each exists in both languages: the reader's language comes first, the other follows.", "",
             "| email | Bahasa Indonesia first | English first |", "| --- | --- | --- |"]
    lines += [f"| {kind} | [text]({kind}.id.txt) · [HTML]({kind}.id.html) | [text]({kind}.en.txt) · "
              f"[HTML]({kind}.en.html) |" for kind in sorted(contexts)]
    if missing:
        lines += ["", "Not sampled (no demo moment produces them yet): " + ", ".join(missing)]
    (out / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return written
