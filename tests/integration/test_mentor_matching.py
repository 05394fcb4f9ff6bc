"""The mentor field: a name or address, matched against the roster, ignoring case and titles."""

from types import SimpleNamespace

import pytest

from tests.support.diary_rows import person
from workflow.diary import match_mentor


@pytest.fixture
def kevin_writes(office):
    """Kevin reports to Made, who reports to Ratna, who reports to Hendra (the head of office)."""
    ctx = SimpleNamespace(session=office, person=person(office, "kevin"))
    return lambda written: match_mentor(ctx, written)


def test_a_superior_is_found_by_name_without_titles_in_any_case(office, kevin_writes):
    assert kevin_writes("ibu ratna sari dewi") == person(office, "ratna")
    assert kevin_writes("Dr. Hendra Wijaya") == person(office, "hendra")
    assert kevin_writes("Pak Made") == person(office, "made")


def test_someone_outside_the_chain_is_found_across_the_roster(office, kevin_writes):
    assert kevin_writes("Bambang Hermawan, S.E., M.Ak.") == person(office, "bambang")
    assert kevin_writes("bambang.hermawan@example.test") == person(office, "bambang")


def test_an_unknown_or_ambiguous_name_matches_nobody(office, kevin_writes):
    assert kevin_writes("Seseorang Yang Tidak Ada") is None
    assert kevin_writes("") is None
