"""Properties of the form parser and the trimmer over generated input."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workflow.mail.decisions import parse_decision, parse_followup_status
from workflow.mail.forms import RATINGS, is_nothing, parse_entry_form, render_entry_form
from workflow.mail.trim import strip_quote_prefix, trim_reply

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Words without colons, slashes, brackets, bullets or emphasis: values that cannot pose as labels.
WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéü0123456789.,;'?!",
               min_size=1, max_size=12)
LINE = st.lists(WORD, min_size=1, max_size=8).map(" ".join).filter(lambda line: not is_nothing(line))
VALUE = st.lists(LINE, min_size=1, max_size=3).map("\n".join)
SESSION = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31))


@st.composite
def entry_fields(draw) -> dict:
    start = draw(st.integers(min_value=0, max_value=23 * 60))
    duration = draw(st.integers(min_value=1, max_value=min(480, 23 * 60 + 59 - start)))
    end = start + duration
    followups = draw(st.lists(st.fixed_dictionaries({"text": LINE, "unit": st.none() | LINE}), max_size=3))
    return {
        "session_date": draw(SESSION).isoformat(),
        "start_time": f"{start // 60:02d}:{start % 60:02d}",
        "end_time": f"{end // 60:02d}:{end % 60:02d}",
        "duration_minutes": duration,
        "mentor": draw(st.none() | LINE),
        "topic": draw(VALUE),
        "objectives": draw(st.none() | VALUE),
        "notes": draw(VALUE),
        "references": draw(st.none() | VALUE),
        "rating": draw(st.sampled_from([key for key, *_ in RATINGS])),
        "followups": followups,
        "next_steps": draw(st.none() | VALUE),
        "needs": draw(st.none() | VALUE),
        "over_hour": duration > 60,
    }


@FAST
@given(entry_fields(), st.sampled_from(["id", "en"]))
def test_a_rendered_form_parses_back_to_the_same_fields(fields, lang):
    assert parse_entry_form(render_entry_form(fields, lang)).fields == fields


@FAST
@given(st.text(max_size=2000), st.none() | st.sampled_from(["2026-12", "2026-02"]), st.none() | SESSION)
def test_the_form_parser_never_raises(text, period, today):
    result = parse_entry_form(text, period=period, today=today)
    assert set(result.fields) >= {"session_date", "rating", "followups", "over_hour"}


LABELLED = st.lists(st.sampled_from([
    "Tanggal sesi / Session date:", "Jam / Time:", "Durasi (menit) / Duration (minutes):", "Topik:", "Rating:",
    "Penilaian / Rating:", "Isu tindak lanjut / Follow-up issues:", "- ", "[Unit: ", "1 = ", "s.d.", "：",
    "31/02/2026", "9-10", "99:99-10", "1,5 jam", "tidak bermanfaat", "\n", "> ", "**",
]) | st.text(max_size=20), max_size=40).map("".join)


@FAST
@given(LABELLED)
def test_the_form_parser_never_raises_on_label_soup(text):
    parse_entry_form(text, period="2026-12", today=dt.date(2026, 12, 31))


@FAST
@given(st.text(max_size=2000))
def test_the_trimmer_and_the_answer_parsers_never_raise(text):
    trim_reply(text)
    parse_decision(text)
    parse_followup_status(text)


ATTRIBUTIONS = st.sampled_from([
    "On Tue, Dec 1, 2026 at 8:00 AM CLD <cld@office.example> wrote:",
    "Pada tanggal Sel, 1 Des 2026 pukul 08.00 CLD <cld@office.example> menulis:",
    "",
])
QUOTED = st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
                          max_size=40).map(lambda s: f"> QUOTED {s}"), min_size=1, max_size=15).map("\n".join)


@FAST
@given(entry_fields(), ATTRIBUTIONS, QUOTED)
def test_a_form_above_the_quote_is_never_mixed_with_text_from_below(fields, attribution, quoted):
    new = render_entry_form(fields)
    result = trim_reply(f"{new}\n{attribution}\n{quoted}\n")
    assert "QUOTED" not in result
    assert parse_entry_form(result).fields == fields


@FAST
@given(st.lists(LINE, min_size=1, max_size=6).map("\n".join), ATTRIBUTIONS, QUOTED)
def test_new_text_above_a_quote_without_a_filled_form_is_all_that_is_kept(new, attribution, quoted):
    result = trim_reply(f"{new}\n\n{attribution}\n{quoted}")
    assert "QUOTED" not in result
    assert all(line.strip() in new for line in result.split("\n"))


@FAST
@given(st.text(max_size=600))
def test_every_line_trimming_returns_was_in_the_input(text):
    source = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = set(source.split("\n")) | set(strip_quote_prefix(source).split("\n"))
    stripped = {line.strip() for line in lines}
    assert all(line.strip() in stripped for line in trim_reply(text).split("\n") if line.strip())
