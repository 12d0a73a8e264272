"""psi.goals.recurrence: reading rules, expanding them in local time, describing them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from psi.errors import GoalError, InvalidRule, UserError
from psi.goals.recurrence import (
    describe,
    in_zone,
    next_after,
    occurrences,
    parse_rule,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def at(*args: int, tz: ZoneInfo = BERLIN) -> datetime:
    return datetime(*args, tzinfo=tz)  # type: ignore[misc]


def test_both_spellings_read_the_same() -> None:
    plain = parse_rule("FREQ=WEEKLY;BYDAY=MO,WE,FR", at(2026, 3, 2, 7))
    prefixed = parse_rule(" rrule:freq=weekly;byday=MO,WE,FR; ", at(2026, 3, 2, 7))
    assert plain == prefixed
    assert plain.text == "FREQ=WEEKLY;BYDAY=MO,WE,FR"
    assert plain.zone == "Europe/Berlin"


def test_start_must_be_aware_and_in_a_named_zone() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_rule("FREQ=DAILY", datetime(2026, 1, 1, 7))
    with pytest.raises(ValueError, match="IANA"):
        parse_rule("FREQ=DAILY", datetime(2026, 1, 1, 7, tzinfo=timezone(timedelta(hours=1))))
    assert parse_rule("FREQ=DAILY", datetime(2026, 1, 1, 7, tzinfo=UTC)).zone == "UTC"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "not one RRULE line"),
        ("DTSTART:20260101T070000\nRRULE:FREQ=DAILY", "not one RRULE line"),
        ("BYDAY=MO", "no FREQ"),
        ("FREQ=FORTNIGHTLY", "FREQ must be one of"),
        ("FREQ=MINUTELY", "at most hourly"),
        ("FREQ=DAILY;FOO=1", "does not know: 'FOO'"),
        ("FREQ=DAILY;BYEASTER=0", "does not know"),
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL must be a whole number"),
        ("FREQ=DAILY;COUNT=-3", "COUNT must be a whole number"),
        ("FREQ=DAILY;BYHOUR=24", "BYHOUR takes numbers from 0 to 23"),
        ("FREQ=MONTHLY;BYMONTHDAY=0", "BYMONTHDAY takes numbers"),
        ("FREQ=WEEKLY;BYDAY=MO,XX", "'XX' in BYDAY"),
        ("FREQ=DAILY;FREQ=WEEKLY", "gives FREQ twice"),
        ("FREQ=DAILY;COUNT=3;UNTIL=20270101", "both COUNT and UNTIL"),
        ("FREQ=DAILY;UNTIL=tomorrow", "UNTIL=TOMORROW is not a date"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=31", "never fires"),
        ("FREQ=MONTHLY;BYMONTH=4,6;BYMONTHDAY=31", "never fires"),
        ("FREQ=WEEKLY;BYDAY=MO;BYSETPOS=2", "never fires"),
        ("FREQ=DAILY;INTERVAL=7;BYDAY=TU", "never fires"),  # the start is a Thursday
        ("FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30", "never fires"),
        ("FREQ=DAILY;UNTIL=20251231", "ends (UNTIL) before it first fires"),
        ("FREQ=DAILY;UNTIL=20260101T050000Z", "ends (UNTIL) before it first fires"),
    ],
)
def test_rules_psi_refuses_say_why_and_what_to_do(text: str, words: str) -> None:
    with pytest.raises(InvalidRule) as caught:
        parse_rule(text, at(2026, 1, 1, 7))
    assert words in str(caught.value)
    assert caught.value.hint
    assert isinstance(caught.value, UserError)


def test_rare_rules_that_do_fire_are_accepted() -> None:
    leap_day = parse_rule("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", at(2026, 1, 1, 7))
    assert next_after(leap_day, at(2026, 1, 1)) == at(2028, 2, 29, 7)
    # Four-yearly from 2024 stays on leap years; from 2025 it would never fire.
    parse_rule("FREQ=YEARLY;INTERVAL=4;BYMONTH=2;BYMONTHDAY=29", at(2024, 1, 1, 7))
    with pytest.raises(InvalidRule, match="never fires"):
        parse_rule("FREQ=YEARLY;INTERVAL=4;BYMONTH=2;BYMONTHDAY=29", at(2025, 1, 1, 7))


def test_until_as_a_date_includes_that_local_day() -> None:
    rule = parse_rule("FREQ=DAILY;UNTIL=20260105", at(2026, 1, 1, 22))
    assert rule.text == "FREQ=DAILY;UNTIL=20260105T225959Z"
    days = occurrences(rule, at(2026, 1, 1), at(2027, 1, 1))
    assert [d.day for d in days] == [1, 2, 3, 4, 5]


def test_weekly_occurrences_by_hand() -> None:
    rule = parse_rule("FREQ=WEEKLY;BYDAY=MO,WE,FR", at(2026, 3, 2, 7))
    got = occurrences(rule, at(2026, 3, 4, 7), at(2026, 3, 13, 7))
    assert got == [at(2026, 3, 4, 7), at(2026, 3, 6, 7), at(2026, 3, 9, 7), at(2026, 3, 11, 7)]
    assert occurrences(rule, at(2026, 3, 13), at(2026, 3, 13)) == []
    assert occurrences(rule, at(2020, 1, 1), at(2026, 3, 3)) == [at(2026, 3, 2, 7)]


def test_a_daily_0700_stays_0700_across_both_changes() -> None:
    rule = parse_rule("FREQ=DAILY", at(2026, 1, 1, 7))
    spring = occurrences(rule, at(2026, 3, 28), at(2026, 3, 31))
    assert [d.astimezone(UTC).hour for d in spring] == [6, 5, 5]
    autumn = occurrences(rule, at(2026, 10, 24), at(2026, 10, 27))
    assert [d.astimezone(UTC).hour for d in autumn] == [5, 6, 6]
    assert {(d.hour, d.minute) for d in spring + autumn} == {(7, 0)}


def test_a_time_that_does_not_exist_moves_forward_by_the_gap() -> None:
    rule = parse_rule("FREQ=DAILY", at(2026, 1, 1, 2, 30))
    (moved,) = occurrences(rule, at(2026, 3, 29), at(2026, 3, 30))
    assert (moved.hour, moved.minute, moved.utcoffset()) == (3, 30, timedelta(hours=2))
    assert next_after(rule, at(2026, 3, 28, 3)) == moved


def test_a_time_that_happens_twice_is_the_first() -> None:
    rule = parse_rule("FREQ=DAILY", at(2026, 1, 1, 2, 30))
    (first,) = occurrences(rule, at(2026, 10, 25), at(2026, 10, 26))
    assert first.utcoffset() == timedelta(hours=2)
    assert first.astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_hourly_on_the_short_and_the_long_day() -> None:
    rule = parse_rule("FREQ=HOURLY", at(2026, 1, 1, 0))
    assert len(occurrences(rule, at(2026, 3, 29), at(2026, 3, 30))) == 23
    assert len(occurrences(rule, at(2026, 10, 25), at(2026, 10, 26))) == 24


def test_next_after_is_strict_and_ends_with_the_rule() -> None:
    rule = parse_rule("FREQ=DAILY;COUNT=3", at(2026, 1, 1, 7))
    assert next_after(rule, at(2025, 6, 1)) == at(2026, 1, 1, 7)
    assert next_after(rule, at(2026, 1, 1, 7)) == at(2026, 1, 2, 7)
    assert next_after(rule, at(2026, 1, 3, 7)) is None
    # Asked in another zone, answered in the rule's.
    answer = next_after(rule, datetime(2026, 1, 1, 7, tzinfo=UTC))
    assert answer == at(2026, 1, 2, 7)
    assert answer is not None and answer.tzinfo is BERLIN


def test_moving_zone_keeps_the_wall_time_and_the_until_date() -> None:
    rule = parse_rule("FREQ=WEEKLY;BYDAY=MO;UNTIL=20260630", at(2026, 1, 5, 7))
    moved = in_zone(rule, "America/New_York")
    assert moved.zone == "America/New_York"
    assert moved.start == at(2026, 1, 5, 7, tz=NEW_YORK)
    got = occurrences(moved, at(2026, 6, 1, tz=NEW_YORK), at(2026, 8, 1, tz=NEW_YORK))
    assert got == [at(2026, 6, d, 7, tz=NEW_YORK) for d in (1, 8, 15, 22, 29)]
    with pytest.raises(GoalError, match="Unknown time zone"):
        in_zone(rule, "Mars/Olympus_Mons")


@pytest.mark.parametrize(
    ("text", "description"),
    [
        ("FREQ=WEEKLY;BYDAY=MO,WE,FR", "every Mon, Wed, Fri at 07:00"),
        ("FREQ=DAILY", "every day at 07:00"),
        ("FREQ=DAILY;INTERVAL=3;BYHOUR=7,19;BYMINUTE=15", "every 3 days at 07:15 and 19:15"),
        ("FREQ=WEEKLY", "every Thu at 07:00"),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH", "every 2 weeks on Tue, Thu at 07:00"),
        ("FREQ=MONTHLY", "every month on the 1st at 07:00"),
        ("FREQ=MONTHLY;BYMONTHDAY=2,23", "every month on the 2nd and the 23rd at 07:00"),
        ("FREQ=MONTHLY;BYDAY=-1FR", "every month on the last Fri at 07:00"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=14", "every year on 14 Feb at 07:00"),
        ("FREQ=HOURLY;INTERVAL=2", "every 2 hours"),
        ("FREQ=DAILY;COUNT=10", "every day at 07:00, 10 times"),
        ("FREQ=DAILY;UNTIL=20260630", "every day at 07:00, until 2026-06-30"),
        (
            "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
            "every month on Mon, Tue, Wed, Thu, Fri at 07:00 "
            "(FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1)",
        ),
    ],
)
def test_describe(text: str, description: str) -> None:
    assert describe(parse_rule(text, at(2026, 1, 1, 7))) == description


ZONES = st.sampled_from([BERLIN, NEW_YORK])
RULES = st.sampled_from(
    [
        "FREQ=DAILY",
        "FREQ=DAILY;INTERVAL=3",
        "FREQ=WEEKLY;BYDAY=MO,WE,FR",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=SU",
        "FREQ=MONTHLY;BYMONTHDAY=31",
        "FREQ=MONTHLY;INTERVAL=2;BYDAY=-1FR",
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
        "FREQ=HOURLY;INTERVAL=5",
        "FREQ=DAILY;BYHOUR=1,2,3;BYMINUTE=30",
    ]
)
MOMENTS = st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2035, 1, 1))


@settings(max_examples=150, deadline=None)
@given(
    text=RULES,
    zone=ZONES,
    rule_start=MOMENTS,
    window_start=MOMENTS,
    hours=st.integers(min_value=0, max_value=24 * 120),
)
def test_occurrences_are_in_the_window_sorted_unique_and_match_dateutil(
    text: str, zone: ZoneInfo, rule_start: datetime, window_start: datetime, hours: int
) -> None:
    rule = parse_rule(text, rule_start.replace(tzinfo=zone))
    low = window_start.replace(tzinfo=zone)
    high = low + timedelta(hours=hours)
    got = occurrences(rule, low, high)
    assert all(low <= moment < high for moment in got)
    assert got == sorted(set(got))
    assert all(moment.tzinfo is zone for moment in got)
    # The same walls as dateutil from the real start, without moving DTSTART.
    walls = rule._expansion.rrule.between(
        low.replace(tzinfo=None) - timedelta(hours=25),
        high.replace(tzinfo=None) + timedelta(hours=25),
        inc=True,
    )
    expected = {w.replace(tzinfo=zone).astimezone(UTC).astimezone(zone) for w in walls}
    assert got == sorted(m for m in expected if low <= m < high)
    if got:
        assert next_after(rule, got[0] - timedelta(seconds=1)) == got[0]


@settings(max_examples=100, deadline=None)
@given(
    zone=ZONES,
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 1, 1)),
    hour=st.integers(min_value=0, max_value=23).filter(lambda h: h not in (1, 2, 3)),
    minute=st.integers(min_value=0, max_value=59),
    days=st.integers(min_value=1, max_value=800),
)
def test_a_daily_rule_keeps_its_wall_time(
    zone: ZoneInfo, day: date, hour: int, minute: int, days: int
) -> None:
    start = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
    rule = parse_rule("FREQ=DAILY", start)
    got = occurrences(rule, start, start + timedelta(days=days))
    assert len(got) == days
    assert {(moment.hour, moment.minute) for moment in got} == {(hour, minute)}


DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@settings(max_examples=30, deadline=None)
@given(month=st.sampled_from([2, 4, 6, 9, 11]), data=st.data())
def test_a_day_the_month_never_has_never_fires(month: int, data: st.DataObject) -> None:
    day = data.draw(st.integers(min_value=DAYS_IN_MONTH[month - 1] + 1, max_value=31))
    freq = data.draw(st.sampled_from(["YEARLY", "MONTHLY", "DAILY"]))
    with pytest.raises(InvalidRule, match="never fires"):
        parse_rule(f"FREQ={freq};BYMONTH={month};BYMONTHDAY={day}", at(2026, 1, 1, 7))


@settings(max_examples=30, deadline=None)
@given(start=MOMENTS, before=st.integers(min_value=1, max_value=10_000))
def test_an_until_before_the_start_never_fires(start: datetime, before: int) -> None:
    until = start.replace(tzinfo=BERLIN).astimezone(UTC) - timedelta(hours=before)
    with pytest.raises(InvalidRule, match="before it first fires"):
        parse_rule(f"FREQ=DAILY;UNTIL={until:%Y%m%dT%H%M%SZ}", start.replace(tzinfo=BERLIN))
