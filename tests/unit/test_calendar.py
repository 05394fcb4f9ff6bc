from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest

from workflow.calendar import (
    OfficeCalendar,
    due_prompt_period,
    due_reminder,
    is_period_over,
    label,
    next_period,
    parse_period,
    period_bounds,
    periods_to_close,
    previous_period,
)

WIB = ZoneInfo("Asia/Jakarta")
UTC = timezone.utc


@pytest.fixture
def office():
    return OfficeCalendar(tz=WIB)


def wib(*args):
    return datetime(*args, tzinfo=WIB)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("period", "first"),
    [
        ("2026-01", date(2026, 1, 2)),  # 1 Jan is New Year's Day, a Thursday
        ("2026-02", date(2026, 2, 2)),  # 1 Feb is a Sunday
        ("2026-03", date(2026, 3, 2)),  # 1 Mar is a Sunday
        ("2026-05", date(2026, 5, 4)),  # 1 May is Labour Day, then a weekend
        ("2026-06", date(2026, 6, 2)),  # 1 Jun is Pancasila Day
        ("2026-08", date(2026, 8, 3)),  # 1 Aug is a Saturday
        ("2026-11", date(2026, 11, 2)),  # 1 Nov is a Sunday
        ("2026-12", date(2026, 12, 1)),
        ("2027-01", date(2027, 1, 4)),  # 1 Jan 2027 is a Friday and a holiday
        ("2027-05", date(2027, 5, 3)),  # 1 May 2027 is a Saturday
        ("2027-06", date(2027, 6, 2)),  # Pancasila Day again, on a Tuesday
        ("2027-08", date(2027, 8, 2)),  # 1 Aug 2027 is a Sunday
    ],
)
def test_the_first_working_day_skips_weekends_and_holidays(office, period, first):
    assert office.nth_working_day(period, 1) == first


def test_public_holidays_are_not_working_days(office):
    for holiday in (
        date(2026, 1, 1),
        date(2026, 1, 16),  # Isra Mikraj
        date(2026, 2, 17),  # Imlek
        date(2026, 3, 19),  # Nyepi
        date(2026, 4, 3),  # Wafat Yesus Kristus
        date(2026, 5, 14),  # Kenaikan Yesus Kristus
        date(2026, 5, 27),  # Idul Adha
        date(2026, 8, 17),  # Independence Day, a Monday
        date(2026, 12, 25),
        date(2027, 8, 17),  # Independence Day, a Tuesday
    ):
        assert not office.is_working_day(holiday), holiday


def test_cuti_bersama_around_idul_fitri_2026_is_not_worked_by_default(office):
    # Idul Fitri 1447 H falls on 21-22 March 2026 (a weekend); Nyepi is on the 19th and the
    # 18th, 20th, 23rd and 24th are cuti bersama, so the office is shut from the 18th to the 24th.
    assert [d.day for d in office.working_days("2026-03") if 16 <= d.day <= 27] == [
        16, 17, 25, 26, 27,
    ]


def test_cuti_bersama_can_be_worked_when_the_office_chooses(office):
    working_through = OfficeCalendar(tz=WIB, include_cuti_bersama=False)
    assert working_through.is_working_day(date(2026, 12, 24))
    assert not office.is_working_day(date(2026, 12, 24))
    assert not working_through.is_working_day(date(2026, 12, 25))


def test_an_ordinary_weekday_is_a_working_day(office):
    assert office.is_working_day(date(2026, 7, 1))
    assert not office.is_working_day(date(2026, 7, 4))  # Saturday
    assert not office.is_working_day(date(2026, 7, 5))  # Sunday


def test_the_tenth_working_day_counts_past_the_new_year_holiday(office):
    assert office.nth_working_day("2026-01", 10) == date(2026, 1, 15)


def test_the_tenth_working_day_of_march_2026_comes_before_the_lebaran_break(office):
    assert office.nth_working_day("2026-03", 10) == date(2026, 3, 13)


def test_negative_positions_count_back_from_the_last_working_day(office):
    assert office.nth_working_day("2026-12", -1) == date(2026, 12, 31)
    assert office.nth_working_day("2026-12", -3) == date(2026, 12, 29)


def test_asking_for_a_working_day_the_month_does_not_have_is_an_error(office):
    with pytest.raises(ValueError, match="working days"):
        office.nth_working_day("2026-03", 30)
    with pytest.raises(ValueError):
        office.nth_working_day("2026-03", 0)


def test_march_2027_loses_a_whole_week_to_lebaran(office):
    # Nyepi on the 8th, Idul Fitri 1448 H on the 10th-11th, cuti bersama on the 9th, 12th and 15th.
    assert len(office.working_days("2026-03")) == 17
    assert len(office.working_days("2027-03")) == 15
    assert date(2027, 3, 16) in office.working_days("2027-03")


def test_reminders_fall_on_the_tenth_and_the_third_from_last_working_day(office):
    assert office.reminder_dates("2026-01") == [date(2026, 1, 15), date(2026, 1, 28)]
    assert office.reminder_dates("2026-12") == [date(2026, 12, 14), date(2026, 12, 29)]


def test_reminders_that_coincide_are_sent_once():
    cal = OfficeCalendar(tz=WIB, reminder_working_days=(10, 15), reminder_days_before_end=(3,))
    # March 2026 has 17 working days, so the 15th is also the third from last.
    assert cal.reminder_dates("2026-03") == [date(2026, 3, 13), date(2026, 3, 27)]


def test_no_reminder_falls_on_or_before_the_prompt_day():
    cal = OfficeCalendar(tz=WIB, prompt_working_day=10, reminder_working_days=(1, 10))
    assert cal.reminder_dates("2026-01") == [date(2026, 1, 28)]


def test_add_working_days_steps_over_a_weekend(office):
    assert office.add_working_days(date(2026, 7, 10), 1) == date(2026, 7, 13)  # Fri -> Mon


def test_add_working_days_steps_over_a_weekend_and_a_holiday(office):
    # Thursday 13 August + 2: Friday 14th, then Monday 17th is Independence Day.
    assert office.add_working_days(date(2026, 8, 13), 2) == date(2026, 8, 18)


def test_add_working_days_steps_over_the_whole_lebaran_break(office):
    assert office.add_working_days(date(2026, 3, 17), 1) == date(2026, 3, 25)


def test_adding_zero_working_days_rolls_a_day_off_forward_to_a_working_day(office):
    assert office.add_working_days(date(2026, 7, 1), 0) == date(2026, 7, 1)
    assert office.add_working_days(date(2026, 8, 15), 0) == date(2026, 8, 18)


def test_adding_negative_working_days_is_refused(office):
    with pytest.raises(ValueError):
        office.add_working_days(date(2026, 7, 1), -1)


def test_working_days_between_counts_the_end_but_not_the_start(office):
    assert office.working_days_between(date(2026, 8, 13), date(2026, 8, 18)) == 2
    assert office.working_days_between(date(2026, 8, 18), date(2026, 8, 13)) == -2
    assert office.working_days_between(date(2026, 7, 1), date(2026, 7, 1)) == 0


def test_working_days_between_undoes_add_working_days(office):
    start = date(2026, 3, 13)
    for n in range(1, 30):
        assert office.working_days_between(start, office.add_working_days(start, n)) == n


def test_the_prompt_goes_out_at_eight_on_the_first_working_day(office):
    assert office.prompt_at("2026-12") == wib(2026, 12, 1, 8, 0)


def test_the_prompt_moves_to_the_next_working_day_when_the_first_is_a_holiday(office):
    assert office.prompt_at("2026-06") == wib(2026, 6, 2, 8, 0)


def test_an_office_closure_shifts_the_prompt_day():
    moving_day = OfficeCalendar(tz=WIB, closures=frozenset({date(2026, 7, 1)}))
    assert moving_day.prompt_at("2026-07") == wib(2026, 7, 2, 8, 0)
    assert not moving_day.is_working_day(date(2026, 7, 1))


def test_settings_values_are_accepted_as_plain_lists_and_strings():
    cal = OfficeCalendar(tz="Asia/Jakarta", closures=[date(2026, 7, 1)], reminder_working_days=[5])
    assert cal.closures == frozenset({date(2026, 7, 1)})
    assert cal.reminder_working_days == (5,)
    assert hash(cal) == hash(cal)


def test_eight_oclock_wib_is_one_oclock_utc_all_year_round(office):
    # Asia/Jakarta has no daylight saving, so the offset is +07:00 in January and in July alike.
    assert office.prompt_at("2026-01") == utc(2026, 1, 2, 1, 0)
    assert office.prompt_at("2026-07") == utc(2026, 7, 1, 1, 0)
    assert office.prompt_at("2026-07").utcoffset().total_seconds() == 7 * 3600


def test_a_later_prompt_time_is_honoured():
    cal = OfficeCalendar(tz=WIB, prompt_time=time(9, 30), prompt_working_day=2)
    assert cal.prompt_at("2026-01") == wib(2026, 1, 5, 9, 30)


def test_a_period_closes_at_midnight_local_time_on_the_first_of_the_next_month(office):
    assert office.close_at("2026-12") == wib(2027, 1, 1, 0, 0)
    assert office.close_at("2026-12") == utc(2026, 12, 31, 17, 0)


def test_the_period_of_an_instant_is_taken_in_office_time(office):
    # 17:30 UTC on 31 January is already half past midnight on 1 February in Jakarta.
    assert office.period_of(utc(2026, 1, 31, 17, 30)) == "2026-02"
    assert office.period_of(utc(2026, 1, 31, 16, 59)) == "2026-01"


def test_a_naive_datetime_is_refused(office):
    with pytest.raises(ValueError, match="aware"):
        office.period_of(datetime(2026, 1, 31, 17, 30))


def test_period_bounds_know_month_lengths():
    assert period_bounds("2026-02") == (date(2026, 2, 1), date(2026, 2, 28))
    assert period_bounds("2028-02") == (date(2028, 2, 1), date(2028, 2, 29))
    assert period_bounds("2026-12") == (date(2026, 12, 1), date(2026, 12, 31))


def test_periods_step_across_the_year_boundary():
    assert next_period("2026-12") == "2027-01"
    assert previous_period("2027-01") == "2026-12"
    assert next_period("2026-06") == "2026-07"
    assert previous_period("2026-06") == "2026-05"


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-1", "26-01", "2026/01", "Desember", ""])
def test_a_malformed_period_is_rejected_with_a_clear_message(text):
    with pytest.raises(ValueError, match="period"):
        parse_period(text)


def test_a_period_with_surrounding_spaces_is_accepted():
    assert parse_period(" 2026-12 ") == "2026-12"


def test_labels_name_the_month_in_the_reader_s_language(office):
    assert label("2026-12", "id") == "Desember 2026"
    assert label("2026-12", "en") == "December 2026"
    assert office.label("2027-08", "id") == "Agustus 2027"
    assert label("2026-05", "id") == "Mei 2026"
    with pytest.raises(ValueError):
        label("2026-12", "fr")


def test_no_prompt_is_due_before_eight_on_the_first_working_day(office):
    assert due_prompt_period(office, wib(2026, 1, 1, 9, 0)) is None  # New Year's Day
    assert due_prompt_period(office, wib(2026, 1, 2, 7, 59)) is None


def test_the_prompt_is_due_from_eight_on_the_first_working_day_onwards(office):
    assert due_prompt_period(office, wib(2026, 1, 2, 8, 0)) == "2026-01"
    assert due_prompt_period(office, utc(2026, 1, 2, 1, 0)) == "2026-01"
    # A job that was down for days still finds the period due later in the month.
    assert due_prompt_period(office, wib(2026, 1, 20, 14, 0)) == "2026-01"


def test_a_reminder_is_due_on_a_reminder_day_after_the_prompt_hour(office):
    assert due_reminder(office, wib(2026, 1, 15, 8, 0)) == date(2026, 1, 15)
    assert due_reminder(office, wib(2026, 1, 28, 16, 0)) == date(2026, 1, 28)


def test_no_reminder_is_due_early_in_the_morning_or_on_other_days(office):
    assert due_reminder(office, wib(2026, 1, 15, 7, 0)) is None
    assert due_reminder(office, wib(2026, 1, 16, 9, 0)) is None
    # 23:00 UTC on the 14th is 06:00 WIB on the 15th: the right day but too early.
    assert due_reminder(office, utc(2026, 1, 14, 23, 0)) is None


def test_a_period_is_over_from_midnight_local_time(office):
    assert not is_period_over(office, "2026-12", wib(2026, 12, 31, 23, 59))
    assert is_period_over(office, "2026-12", wib(2027, 1, 1, 0, 0))
    assert is_period_over(office, "2026-12", utc(2026, 12, 31, 17, 0))


def test_periods_to_close_catches_up_on_every_finished_month(office):
    now = wib(2027, 2, 3, 8, 0)
    assert periods_to_close(office, now, "2026-11") == ["2026-12", "2027-01"]
    assert periods_to_close(office, now, "2027-01") == []
    assert periods_to_close(office, now, None) == ["2027-01"]
