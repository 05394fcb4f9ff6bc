import pytest

from workflow.appreciative import PHASES, phase_for, question_pair_for, supervisor_guide
from workflow.calendar import next_period


def twelve_periods_from(start):
    periods = [start]
    while len(periods) < 12:
        periods.append(next_period(periods[-1]))
    return periods


def test_the_cycle_has_the_four_phases_in_order():
    assert [phase.key for phase in PHASES] == ["discover", "dream", "design", "destiny"]


def test_every_question_exists_in_both_languages():
    for phase in PHASES:
        assert set(phase.name) == set(phase.description) == {"id", "en"}
        for question in phase.questions:
            assert set(question) == {"id", "en"}
            assert all(text.strip() and text.strip()[-1] in "?." for text in question.values())


def test_the_bank_holds_at_least_three_pairs_of_questions_per_phase():
    for phase in PHASES:
        assert len(phase.questions) >= 6
        assert len(phase.questions) % 2 == 0
    assert sum(len(phase.questions) for phase in PHASES) // 2 >= 12


def test_no_question_is_repeated_in_either_language():
    for lang in ("id", "en"):
        texts = [q[lang] for phase in PHASES for q in phase.questions]
        assert len(texts) == len(set(texts))


def test_the_phase_changes_every_month_starting_with_discover_in_january():
    assert [phase_for(p).key for p in ("2026-01", "2026-02", "2026-03", "2026-04", "2026-05")] == [
        "discover", "dream", "design", "destiny", "discover",
    ]


@pytest.mark.parametrize("start", ["2026-01", "2026-07", "2027-11"])
def test_twelve_consecutive_periods_cover_every_phase_and_every_question(start):
    periods = twelve_periods_from(start)
    assert {phase_for(p).key for p in periods} == {phase.key for phase in PHASES}
    asked = [q for p in periods for q in question_pair_for(p, "en")[1:]]
    every_question = [q["en"] for phase in PHASES for q in phase.questions]
    assert sorted(asked) == sorted(every_question)


def test_a_phase_asks_a_different_pair_each_time_it_comes_round():
    first_visits = [question_pair_for(p, "id") for p in ("2026-01", "2026-05", "2026-09")]
    assert len({pair[1] for pair in first_visits}) == 3
    assert {pair[0] for pair in first_visits} == {"Menemukan (Discover)"}


def test_the_questions_for_a_period_are_the_same_every_time():
    assert question_pair_for("2026-12", "id") == question_pair_for("2026-12", "id")
    assert question_pair_for("2026-12", "en") == question_pair_for("2027-12", "en")


def test_both_languages_ask_the_same_questions_in_the_same_month():
    name_id, first_id, _ = question_pair_for("2026-03", "id")
    name_en, first_en, _ = question_pair_for("2026-03", "en")
    design = next(phase for phase in PHASES if phase.key == "design")
    assert (name_id, name_en) == (design.name["id"], design.name["en"])
    assert any(q["id"] == first_id and q["en"] == first_en for q in design.questions)


def test_an_unknown_language_or_period_is_refused():
    with pytest.raises(ValueError):
        question_pair_for("2026-12", "fr")
    with pytest.raises(ValueError):
        question_pair_for("2026-13", "id")
    with pytest.raises(ValueError):
        supervisor_guide("jv")


@pytest.mark.parametrize("lang", ["id", "en"])
def test_the_supervisor_guide_lists_four_phases_with_two_questions_each(lang):
    guide = supervisor_guide(lang)
    assert [name for name, _, _ in guide] == [phase.name[lang] for phase in PHASES]
    for _, description, questions in guide:
        assert description and "\n" not in description
        assert len(questions) == 2
