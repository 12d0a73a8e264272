"""Dates said in words, resolved against the moment they were said (pure functions).

    said = datetime(2026, 5, 6, 9, 30, tzinfo=UTC)          # a Wednesday
    resolve_date("last Saturday", said)                        # 2026-05-02 00:00 UTC
    resolve_date("in 2 weeks", said)                           # 2026-05-20 00:00 UTC
    find_date("my dentist is next Tuesday at noon", said)      # (2026-05-12 00:00, "next tuesday")

`resolve_date` reads a whole time expression (what an extractor writes in a
fact's "when"); `find_date` looks for one inside a sentence and is warier,
since a sentence has numbers that are not dates. One reading per phrase, so
the answer is predictable:

- today, tonight, this morning/afternoon/evening; yesterday, tomorrow; the day
  before yesterday, the day after tomorrow.
- last <weekday>: the nearest one strictly before the reference day; next (or
  coming) <weekday>: the nearest one strictly after; this <weekday>: that day
  of the reference's Monday-to-Sunday week. A bare weekday ("on Saturday")
  could be either side, so it resolves to nothing.
- last/this/next week, month, year: the first day of that period (a Monday,
  the 1st, 1 January).
- in N units / N units from now / N units ago, N a number or a word up to
  twelve ("a", "an", "a couple of"); units minutes and hours keep the clock
  time, longer ones land on a day. Months and years stop at the month's end
  (31 January + 1 month = 28 February).
- absolute dates through dateutil's parser: parts not given come from the
  reference (the year) or are the first (day of the month); "in 2019" is
  1 January 2019.

A day is returned as midnight in the reference's timezone, so pass a
timezone-aware reference. Left out: ranges ("between May and June"), times of
day ("at 3 pm"), holidays, and languages other than English.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from dateutil import parser as date_parser  # type: ignore[import-untyped]
from dateutil.relativedelta import relativedelta  # type: ignore[import-untyped]

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_ABBREVIATIONS = (
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sept",
    "sep",
    "oct",
    "nov",
    "dec",
)
_MONTH_NAMES = (*MONTHS, *_ABBREVIATIONS)
# Full names first, so "march" is read whole before "mar"; never the start of a longer word.
_MONTH = "(?:" + "|".join(_MONTH_NAMES) + r")\.?(?![a-z])"
_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "a couple of": 2,
    "couple of": 2,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
_COUNT = "(" + "|".join([r"\d{1,4}", *_NUMBER_WORDS]) + ")"
_UNIT = r"(minute|hour|day|week|fortnight|month|year)s?"
_WEEKDAY = "(" + "|".join(WEEKDAYS) + ")"

Rule = Callable[[re.Match[str], datetime], datetime | None]


def _midnight(day: date, reference: datetime) -> datetime:
    return datetime.combine(day, time(), tzinfo=reference.tzinfo)


def _days(offset: int) -> Rule:
    return lambda _m, ref: _midnight(ref.date() + timedelta(days=offset), ref)


def _weekday(match: re.Match[str], reference: datetime) -> datetime:
    which, name = match.group(1), match.group(2)
    today = reference.date()
    target = WEEKDAYS.index(name)
    if which in ("last", "past"):
        back = (today.weekday() - target) % 7 or 7
        return _midnight(today - timedelta(days=back), reference)
    if which in ("next", "coming"):
        ahead = (target - today.weekday()) % 7 or 7
        return _midnight(today + timedelta(days=ahead), reference)
    return _midnight(today + timedelta(days=target - today.weekday()), reference)


_STEP = {"last": -1, "past": -1, "this": 0, "next": 1, "coming": 1}


def _period_start(which: str, unit: str, reference: datetime) -> datetime:
    step = _STEP[which]
    today = reference.date()
    if unit == "week":
        monday = today - timedelta(days=today.weekday())
        return _midnight(monday + timedelta(weeks=step), reference)
    if unit == "month":
        return _midnight(today.replace(day=1) + relativedelta(months=step), reference)
    return _midnight(date(today.year + step, 1, 1), reference)


def _period(match: re.Match[str], reference: datetime) -> datetime:
    return _period_start(match.group(1), match.group(2), reference)


def _weekend(match: re.Match[str], reference: datetime) -> datetime:
    """The Saturday of the week meant."""
    return _period_start(match.group(1), "week", reference) + timedelta(days=5)


def _shift(sign: int) -> Rule:
    def rule(match: re.Match[str], reference: datetime) -> datetime | None:
        count = match.group(1)
        amount = int(count) if count.isdigit() else _NUMBER_WORDS[count]
        unit = match.group(2)
        if unit in ("minute", "hour"):
            return reference + sign * timedelta(**{unit + "s": amount})
        if unit == "fortnight":
            unit, amount = "week", amount * 2
        delta = relativedelta(**{unit + "s": sign * amount})
        try:
            return _midnight(reference.date() + delta, reference)
        except (OverflowError, ValueError):  # beyond year 9999 or before year 1
            return None

    return rule


# Longer phrases first: when two rules match at the same place, the earlier one wins.
_RULES: tuple[tuple[re.Pattern[str], Rule], ...] = tuple(
    (re.compile(rf"\b{pattern}\b"), rule)
    for pattern, rule in (
        (r"(?:the )?day before yesterday", _days(-2)),
        (r"(?:the )?day after tomorrow", _days(2)),
        (r"yesterday|last night", _days(-1)),
        (r"tomorrow", _days(1)),
        (r"today|tonight|this (?:morning|afternoon|evening)", _days(0)),
        (rf"(last|past|next|coming|this) {_WEEKDAY}", _weekday),
        (r"(last|past|next|coming|this) weekend", _weekend),
        (r"(last|past|next|coming|this) (week|month|year)", _period),
        (rf"(?:in|within|after) {_COUNT} {_UNIT}", _shift(1)),
        (rf"{_COUNT} {_UNIT} (?:from now|from today)", _shift(1)),
        (rf"{_COUNT} {_UNIT} ago", _shift(-1)),
    )
)

# Absolute dates that are safe to pick out of a sentence (no bare numbers).
_ABSOLUTE = tuple(
    re.compile(pattern)
    for pattern in (
        r"\b\d{4}-\d{1,2}-\d{1,2}\b",
        rf"\b\d{{1,2}}(?:st|nd|rd|th)?(?: of)? {_MONTH}(?:,? \d{{4}})?",
        rf"\b{_MONTH} \d{{1,2}}(?:st|nd|rd|th)?(?:,? \d{{4}})?\b",
        # A month alone, only after a preposition or before a year: "I may go" is not May.
        rf"\b(?:in|since|until|till|by|during|from|of|early|late|mid) {_MONTH}(?: \d{{4}})?",
        rf"\b{_MONTH} \d{{4}}\b",
    )
)
_YEAR_ALONE = re.compile(r"\b(?:in|since|until|during|from|of) ((?:19|20)\d{2})\b")


def _clean(text: str) -> str:
    return " ".join(text.lower().replace("’", "'").split())


def _relative(text: str, reference: datetime) -> tuple[datetime, str] | None:
    best: tuple[int, int, re.Match[str], Rule] | None = None
    for order, (pattern, rule) in enumerate(_RULES):
        match = pattern.search(text)
        if match is not None and (best is None or (match.start(), order) < best[:2]):
            best = (match.start(), order, match, rule)
    if best is None:
        return None
    _start, _order, match, rule = best
    moment = rule(match, reference)
    return (moment, match.group(0)) if moment is not None else None


def _parse_absolute(phrase: str, reference: datetime) -> datetime | None:
    """`phrase` through dateutil; missing parts from the reference year and the 1st."""
    default = _midnight(reference.date().replace(day=1), reference).replace(tzinfo=None)
    try:
        parsed: datetime = date_parser.parse(phrase, default=default, fuzzy=True)
    except (date_parser.ParserError, ValueError, OverflowError):
        return None
    moment = datetime.combine(parsed.date(), time())
    return moment.replace(tzinfo=reference.tzinfo)


def _absolute(text: str, reference: datetime) -> tuple[datetime, str] | None:
    found = [m for pattern in _ABSOLUTE if (m := pattern.search(text)) is not None]
    if found:
        # The earliest, and the longest there: "12 june 2027" over "june 2027".
        match = min(found, key=lambda m: (m.start(), -len(m.group(0))))
        moment = _parse_absolute(match.group(0), reference)
        return (moment, match.group(0)) if moment is not None else None
    year = _YEAR_ALONE.search(text)
    if year is not None:
        return _midnight(date(int(year.group(1)), 1, 1), reference), year.group(0)
    return None


def find_date(text: str, reference: datetime) -> tuple[datetime, str] | None:
    """The first date expression in a sentence, resolved, with the words that said it."""
    cleaned = _clean(text)
    relative = _relative(cleaned, reference)
    absolute = _absolute(cleaned, reference)
    if relative is None or absolute is None:
        return relative or absolute
    return relative if cleaned.find(relative[1]) <= cleaned.find(absolute[1]) else absolute


def resolve_date(expression: str | None, reference: datetime) -> datetime | None:
    """A time expression ("last Saturday", "in June", "2026-05-02") as a moment, or None."""
    if not expression or not expression.strip():
        return None
    cleaned = _clean(expression)
    found = find_date(cleaned, reference)
    if found is not None:
        return found[0]
    words = set(re.findall(r"[a-z]+", cleaned))
    has_month = bool(words & set(_MONTH_NAMES))
    if re.fullmatch(r"(?:19|20)\d{2}", cleaned):
        return _midnight(date(int(cleaned), 1, 1), reference)
    if words & set(WEEKDAYS) and not has_month and not re.search(r"\d", cleaned):
        return None  # "on Saturday": the one before or the one after?
    if not has_month and not re.search(r"\d", cleaned):
        return None
    return _parse_absolute(cleaned, reference)
