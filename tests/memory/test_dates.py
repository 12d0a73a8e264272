"""Relative and absolute dates resolved against the moment they were said."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from psi.memory.dates import find_date, resolve_date

WEDNESDAY = datetime(2026, 5, 6, 9, 30, tzinfo=UTC)


def day(year: int, month: int, dom: int, tz: timezone = UTC) -> datetime:
    return datetime(year, month, dom, tzinfo=tz)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("today", day(2026, 5, 6)),
        ("tonight", day(2026, 5, 6)),
        ("this morning", day(2026, 5, 6)),
        ("yesterday", day(2026, 5, 5)),
        ("last night", day(2026, 5, 5)),
        ("tomorrow", day(2026, 5, 7)),
        ("the day before yesterday", day(2026, 5, 4)),
        ("the day after tomorrow", day(2026, 5, 8)),
        ("last Saturday", day(2026, 5, 2)),
        ("last Wednesday", day(2026, 4, 29)),  # never the reference day itself
        ("next Wednesday", day(2026, 5, 13)),
        ("next Saturday", day(2026, 5, 9)),
        ("this coming Friday", day(2026, 5, 8)),
        ("this Monday", day(2026, 5, 4)),
        ("this Sunday", day(2026, 5, 10)),
        ("last week", day(2026, 4, 27)),
        ("this week", day(2026, 5, 4)),
        ("next week", day(2026, 5, 11)),
        ("last weekend", day(2026, 5, 2)),
        ("next weekend", day(2026, 5, 16)),
        ("last month", day(2026, 4, 1)),
        ("next month", day(2026, 6, 1)),
        ("last year", day(2025, 1, 1)),
        ("next year", day(2027, 1, 1)),
        ("in 3 days", day(2026, 5, 9)),
        ("in two weeks", day(2026, 5, 20)),
        ("in a fortnight", day(2026, 5, 20)),
        ("within a month", day(2026, 6, 6)),
        ("3 months from now", day(2026, 8, 6)),
        ("2 days ago", day(2026, 5, 4)),
        ("a couple of days ago", day(2026, 5, 4)),
        ("a week ago", day(2026, 4, 29)),
        ("ten years ago", day(2016, 5, 6)),
        ("an hour ago", WEDNESDAY - timedelta(hours=1)),
        ("in 45 minutes", WEDNESDAY + timedelta(minutes=45)),
        ("Last SATURDAY morning", day(2026, 5, 2)),
    ],
)
def test_relative_expressions(expression: str, expected: datetime) -> None:
    assert resolve_date(expression, WEDNESDAY) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("2026-06-01", day(2026, 6, 1)),
        ("12 June 2027", day(2027, 6, 12)),
        ("June 12", day(2026, 6, 12)),
        ("June 12th, 2025", day(2025, 6, 12)),
        ("the 3rd of March", day(2026, 3, 3)),
        ("in June", day(2026, 6, 1)),
        ("June", day(2026, 6, 1)),
        ("May", day(2026, 5, 1)),
        ("Sept 2024", day(2024, 9, 1)),
        ("2019", day(2019, 1, 1)),
        ("in 2019", day(2019, 1, 1)),
    ],
)
def test_absolute_dates_take_missing_parts_from_the_reference(
    expression: str, expected: datetime
) -> None:
    assert resolve_date(expression, WEDNESDAY) == expected


@pytest.mark.parametrize(
    "expression", ["", "   ", None, "soon", "someday", "on Saturday", "Saturday", "marathon"]
)
def test_vague_or_ambiguous_expressions_resolve_to_nothing(expression: str | None) -> None:
    assert resolve_date(expression, WEDNESDAY) is None


def test_month_ends_clamp() -> None:
    end_of_january = datetime(2026, 1, 31, 12, tzinfo=UTC)
    assert resolve_date("in 1 month", end_of_january) == day(2026, 2, 28)
    assert resolve_date("a month ago", datetime(2026, 3, 31, tzinfo=UTC)) == day(2026, 2, 28)
    assert resolve_date("in a month", datetime(2028, 1, 31, tzinfo=UTC)) == day(2028, 2, 29)
    assert resolve_date("a year ago", datetime(2028, 2, 29, tzinfo=UTC)) == day(2027, 2, 28)
    assert resolve_date("next month", end_of_january) == day(2026, 2, 1)


def test_year_boundaries() -> None:
    new_years_eve = datetime(2026, 12, 31, 23, 0, tzinfo=UTC)  # a Thursday
    assert resolve_date("tomorrow", new_years_eve) == day(2027, 1, 1)
    assert resolve_date("next month", new_years_eve) == day(2027, 1, 1)
    assert resolve_date("next week", new_years_eve) == day(2027, 1, 4)
    assert resolve_date("next Monday", new_years_eve) == day(2027, 1, 4)
    new_year = datetime(2027, 1, 1, 8, 0, tzinfo=UTC)  # a Friday
    assert resolve_date("yesterday", new_year) == day(2026, 12, 31)
    assert resolve_date("last month", new_year) == day(2026, 12, 1)
    assert resolve_date("last Saturday", new_year) == day(2026, 12, 26)
    assert resolve_date("last week", new_year) == day(2026, 12, 21)
    assert resolve_date("in 2 days", new_years_eve) == day(2027, 1, 2)


def test_days_are_midnight_in_the_reference_timezone() -> None:
    lisbon_summer = timezone(timedelta(hours=1))
    said = datetime(2026, 5, 6, 0, 30, tzinfo=lisbon_summer)  # 23:30 UTC the day before
    resolved = resolve_date("yesterday", said)
    assert resolved == day(2026, 5, 5, lisbon_summer)
    assert resolved is not None and resolved.tzinfo == lisbon_summer


def test_find_date_in_a_sentence() -> None:
    assert find_date("I ran my first marathon last Saturday!", WEDNESDAY) == (
        day(2026, 5, 2),
        "last saturday",
    )
    assert find_date("My dentist is next Tuesday at noon", WEDNESDAY) == (
        day(2026, 5, 12),
        "next tuesday",
    )
    assert find_date("We moved here in March 2020.", WEDNESDAY) == (
        day(2020, 3, 1),
        "in march 2020",
    )
    # The first one said wins.
    found = find_date("On 2 June, not tomorrow", WEDNESDAY)
    assert found is not None and found[0] == day(2026, 6, 2)


@pytest.mark.parametrize(
    "sentence",
    [
        "I have 3 dogs and 2 cats",
        "I may go running",
        "Marathon training is hard",
        "We march on",
        "I love Saturday mornings",
    ],
)
def test_find_date_ignores_numbers_and_words_that_are_not_dates(sentence: str) -> None:
    assert find_date(sentence, WEDNESDAY) is None
