"""Every email template renders in both languages, escapes user text, and has a committed sample."""

from email import message_from_bytes, policy

import pytest

from tests.conftest import ROOT
from workflow.mail.outbound import TEMPLATES, Envelope, build_message, render
from workflow.settings import load_settings

SAMPLES = ROOT / "docs" / "emails"
KINDS = sorted(p.name for p in TEMPLATES.iterdir() if p.is_dir() and not p.name.startswith("_"))
NOT_SAMPLED: set[str] = set()


@pytest.mark.parametrize("kind", KINDS)
def test_every_email_has_a_committed_sample_in_both_languages_text_and_html(kind):
    if kind in NOT_SAMPLED:
        assert kind in (SAMPLES / "README.md").read_text()
        return
    for lang in ("id", "en"):
        assert (SAMPLES / f"{kind}.{lang}.txt").read_text().startswith("Subject: ")
        assert "</html>" in (SAMPLES / f"{kind}.{lang}.html").read_text()


@pytest.mark.parametrize("kind", KINDS)
def test_every_template_has_both_language_sections(kind):
    for name in ("subject.txt", "id.txt", "en.txt", "id.html", "en.html"):
        assert (TEMPLATES / kind / name).is_file()


def prompt_context(name):
    return {"office_name": "KPKNL <Contoh>", "employee_name": name, "supervisor_name": "Budi & Co",
            "mentor_hint": True, "period": "2026-12", "short_code": "0123456789ab", "reply_code": "0" * 32,
            "questions": {"id": ("Fase", "Q1?", "Q2?"), "en": ("Phase", "Q1?", "Q2?")}, "open_followups": [],
            "last_next_steps": "<b>langkah</b>", "form": "Topik / Topic: <i>x</i>", "rating_links": [],
            "needs_href": "mailto:cld@office.example", "deadline_id": "31 Desember 2026",
            "deadline_en": "31 December 2026"}


def test_a_name_with_a_script_tag_renders_as_text_in_the_html_part():
    rendered = render("prompt", "id", prompt_context("<script>alert('x')</script> Budi"))
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;" in rendered.html
    assert "&lt;b&gt;langkah&lt;/b&gt;" in rendered.html and "Budi &amp; Co" in rendered.html
    assert "<script>alert('x')</script> Budi" in rendered.text


def test_a_name_with_line_breaks_cannot_inject_headers():
    settings = load_settings(reply_address="cld@office.example")
    rendered = render("prompt", "en", prompt_context("Budi\r\nBcc: victim@example.test"))
    message = build_message(settings, Envelope(to=["budi@example.test"], to_name="Budi\r\nBcc: x@example.test",
                                               subject="Hi\r\nBcc: y@example.test"), rendered)
    parsed = message_from_bytes(message.as_bytes(policy=policy.SMTP), policy=policy.default)
    assert parsed["Bcc"] is None
    assert "\n" not in str(parsed["Subject"]) and "\n" not in str(parsed["To"])


def test_the_reader_language_comes_first():
    indonesian = render("prompt", "id", prompt_context("Budi")).text
    english = render("prompt", "en", prompt_context("Budi")).text
    assert indonesian.index("Yth.") < indonesian.index("Dear")
    assert english.index("Dear") < english.index("Yth.")


@pytest.mark.parametrize("lang", ["id", "en"])
def test_rating_links_reach_the_html_escaped_exactly_once(lang):
    """The hrefs are handed over already escaped (prompts.rating_links): the same as escaping them there."""
    from urllib.parse import quote

    from markupsafe import escape

    from workflow.mail.forms import RATINGS, render_entry_form
    from workflow.prompts import rating_links

    reply_to, subject = "cld+0123456789abcdef0123456789abcdef@office.example", "Re: [CLD-0123456789ab] Sesi <&> \"x\""
    links = rating_links(reply_to, subject, lang)
    assert len(links) == len(RATINGS)
    for link, (key, *_rest) in zip(links, RATINGS):
        raw = f"mailto:{reply_to}?subject={quote(subject)}&body={quote(render_entry_form({'rating': key}, lang))}"
        assert str(link["href"]) == str(escape(raw))
        assert "&amp;body=" in link["href"] and "<" not in link["href"]
