"""A goal said in one line, read into a title, a target date and maybe a metric.

    parse_goal_text("Run a marathon by October 2027", today=date(2026, 3, 2))
    # ParsedGoal(title="Run a marathon", target_date=2027-10-31,
    #            metric=ParsedMetric(unit="km", amount=42.2, ...), missing=("baseline",))
    parse_goal_text("Learn the piano someday", today=...)
    # Question(about="target_date", text="By when? e.g. 'by 1 June 2027' or 'in 6 months'")

psi never guesses what it was not told: no date, a vague one ("someday",
"eventually"), one that has passed or is today, or a number without a unit
gives a `Question` for the caller to ask. The baseline of a metric is never in
the text, so a `ParsedGoal` lists it in `missing` and `ParsedGoal.draft` takes
it as an argument.

Dates. dateutil's parser reads absolute phrases (found after "by", "before",
"in", "on" ..., or a month with its year anywhere); which parts were given is
found by parsing twice with different defaults. A month alone means its last
day, a year alone 31 December, and a date without a year its next occurrence
after today. What dateutil cannot read is handled here: "in 6 months" and
"within 2 weeks" (dateutil's relativedelta), "this/next week, month, year",
"(by the) end of the year", seasons ("by summer" is its first day, "by the end
of summer" its last; meteorological seasons of the northern hemisphere) and
Christmas. "next month" is the end of next month. When several phrases match,
the one that ends last wins.

Metrics. A number with a unit ("24 books", "€5,000", "10 km", "5k"); a number
after "under", "below", "less than" wins and is to decrease ("10 km in under 50
minutes" measures minutes). "lose 5 kg" and "gain 3 kg" are changes from the
baseline (`relative`); "reduce weight to 70 kg" is a level. Counted things
(books, pages, sessions), money to save or earn, and anything "this year" or
"in total" add up (aggregate "sum"); levels (weight, a distance, a time) and
rates ("10k steps a day") are "last". Without a verb that says which way, the
direction follows from the baseline. "a marathon" and "a half marathon" are
distances in km.

Left out: languages other than English, ranges ("between May and June"),
weekdays ("by Friday"), and the southern hemisphere's seasons.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from dateutil import parser as date_parser  # type: ignore[import-untyped]
from dateutil.relativedelta import relativedelta  # type: ignore[import-untyped]

from psi.errors import GoalError
from psi.goals.drafts import Area, GoalDraft, MetricDraft
from psi.goals.forecast import Aggregate, Direction
from psi.memory.dates import MONTHS

DATE_HINT = "e.g. 'by 1 June 2027' or 'in 6 months'"
ASK_DATE = f"By when? {DATE_HINT}"


@dataclass(frozen=True)
class Question:
    """What psi must ask before it can go on; `title` is what it understood so far."""

    about: Literal["goal", "target_date", "unit"]
    text: str
    title: str | None = None


@dataclass(frozen=True)
class ParsedMetric:
    """A metric read from the text, before its baseline is known.

    `amount` is the level to reach, or with `relative` the change from the
    baseline ("lose 5 kg": amount 5, direction decrease). `direction` is None
    when only the baseline can tell ("weigh 70 kg").
    """

    unit: str
    amount: float
    relative: bool
    direction: Direction | None
    aggregate: Aggregate

    def draft(self, baseline: float) -> MetricDraft:
        """The metric from `baseline`; GoalError when it cannot work from there."""
        target = self.amount
        if self.relative:
            target = baseline - self.amount if self.direction == "decrease" else baseline + target
        if target == baseline:
            raise GoalError(
                f"You are at {baseline:g} {self.unit} already.",
                hint="Give a baseline below or above the target, or a new target.",
            )
        direction: Direction = "increase" if target > baseline else "decrease"
        if self.direction is not None and self.direction != direction:
            raise GoalError(
                f"A goal to {self.direction} cannot go from {baseline:g} to {target:g} "
                f"{self.unit}.",
                hint="Check the baseline, or say which way you want to go.",
            )
        return MetricDraft(
            unit=self.unit,
            baseline=baseline,
            target=target,
            direction=direction,
            aggregate=self.aggregate,
        )


@dataclass(frozen=True)
class ParsedGoal:
    title: str
    target_date: date
    metric: ParsedMetric | None
    area: Area = "other"

    @property
    def missing(self) -> tuple[str, ...]:
        """What the text did not say and the caller must ask: the metric's baseline."""
        return ("baseline",) if self.metric is not None else ()

    def draft(
        self,
        *,
        starts_on: date,
        baseline: float | None = None,
        why: str | None = None,
        priority: int = 2,
    ) -> GoalDraft:
        """The goal as a draft; raises GoalError without the baseline its metric needs."""
        metric = None
        if self.metric is not None:
            if baseline is None:
                raise GoalError(
                    f"Where do you start, in {self.metric.unit}?",
                    hint="Give the current value as the baseline.",
                )
            metric = self.metric.draft(baseline)
        return GoalDraft(
            title=self.title,
            why=why,
            area=self.area,
            starts_on=starts_on,
            target_date=self.target_date,
            metric=metric,
            priority=priority,
        )


def parse_goal_text(text: str, *, today: date) -> ParsedGoal | Question:
    """Title, target date and metric of a goal in one line; a Question for what is missing."""
    cleaned = " ".join(text.replace("’", "'").split()).strip(" .!")
    if not cleaned:
        return Question("goal", "What do you want to reach? e.g. 'Run a marathon by October 2027'")
    found = find_target_date(cleaned, today=today)
    if found is None:
        title = _tidy(_VAGUE.sub(" ", cleaned)) or None
        return Question("target_date", ASK_DATE, title)
    target, start, end = found
    title = _tidy(cleaned[:start] + " " + cleaned[end:])
    if target <= today:
        when = "That is today" if target == today else f"{target:%-d %B %Y} has passed"
        return Question("target_date", f"{when}. {ASK_DATE}", title or None)
    if not title:
        return Question(
            "goal", f"What do you want to reach by {target:%-d %B %Y}? e.g. 'Run a marathon'"
        )
    metric = _metric(title, cumulative=bool(_CUMULATIVE.search(cleaned[start:end])))
    if isinstance(metric, Question):
        return Question(metric.about, metric.text, title)
    return ParsedGoal(title=title, target_date=target, metric=metric, area=_area(title))


def parse_target_date(text: str, *, today: date) -> date | Question:
    """Only a date phrase ("in 6 months", "by June"): the answer to "By when?"."""
    found = find_target_date(" ".join(text.split()), today=today)
    if found is None:
        return Question("target_date", ASK_DATE)
    target = found[0]
    if target <= today:
        when = "That is today" if target == today else f"{target:%-d %B %Y} has passed"
        return Question("target_date", f"{when}. {ASK_DATE}")
    return target


# -- dates ---------------------------------------------------------------------------

_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "eighteen": 18, "twenty-four": 24,
}  # fmt: skip
_MONTH_WORDS = (*MONTHS, "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sept", "sep", "oct",
                "nov", "dec")  # fmt: skip
_MONTH = r"(?:" + "|".join(_MONTH_WORDS) + r")\.?(?![a-z])"
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?(?!\d)"
_YEAR = r"(?:19|20)\d{2}(?!\d)"
_BY = r"(?:(?:by|before|until|till|in|on|for|during|due|no later than|not later than)\s+)"
_EDGE = r"(?:(?P<edge>end|start|beginning|middle|mid)(?:\s+of)?\s+)"

_RELATIVE = re.compile(
    r"\b(?:in|within)\s+(?:the\s+next\s+)?"
    rf"(?P<count>\d{{1,3}}|{'|'.join(_NUMBER_WORDS)})\s+"
    r"(?P<unit>day|week|fortnight|month|year)s?(?:'?s?\s+time)?\b"
    r"|\b(?P<count2>\d{1,3})\s+(?P<unit2>day|week|month|year)s?\s+from\s+(?:now|today)\b",
    re.IGNORECASE,
)
_PERIOD = re.compile(
    rf"\b{_BY}?(?:the\s+)?(?:(?P<end>end)\s+of\s+)?(?:the\s+)?(?P<which>this|next)?\s*"
    r"(?P<unit>week|month|year)\b|\b(?:by\s+)?year[-\s]end\b",
    re.IGNORECASE,
)
_SEASON = re.compile(
    rf"\b{_BY}?(?:the\s+)?{_EDGE}?(?:(?:this|next)\s+)?"
    rf"(?P<season>spring|summer|autumn|fall|winter)(?:\s+(?P<year>{_YEAR}))?\b",
    re.IGNORECASE,
)
_CHRISTMAS = re.compile(rf"\b{_BY}?christmas(?:\s+(?P<year>{_YEAR}))?\b", re.IGNORECASE)
_ABSOLUTE_BODY = (
    rf"(?:\d{{4}}-\d{{1,2}}-\d{{1,2}}|\d{{1,2}}[/.]\d{{1,2}}[/.]\d{{2,4}}"
    rf"|(?:the\s+)?{_DAY}(?:\s+of)?\s+{_MONTH}(?:,?\s+{_YEAR})?"
    rf"|{_MONTH}\s+{_DAY}(?:,?\s+{_YEAR})?"
    rf"|{_MONTH}(?:,?\s+{_YEAR})?"
    rf"|{_YEAR})"
)
# After a preposition any absolute date; without one only a month with its year or a
# full date, since "may" and a bare number mean other things in a sentence.
_ABSOLUTE = re.compile(
    rf"\b(?:{_BY}(?:the\s+)?{_EDGE}?(?P<after>{_ABSOLUTE_BODY})"
    rf"|(?P<bare>\d{{4}}-\d{{1,2}}-\d{{1,2}}|{_MONTH}\s+{_YEAR}|{_DAY}\s+{_MONTH}\s+{_YEAR}))",
    re.IGNORECASE,
)
_VAGUE = re.compile(
    r"\b(?:(?:by|in|at)\s+)?(?:someday|some day|one day|sometime|some time|eventually|soon"
    r"|asap|as soon as possible|later|in the future|in future|at some point)\b",
    re.IGNORECASE,
)
_CUMULATIVE = re.compile(r"\b(?:this|next)\s+(?:year|month|week)\b|year[-\s]end", re.IGNORECASE)
# First and last (month, day) of each meteorological season; winter ends the next year.
_SEASONS = {
    "spring": ((3, 1), (5, 31)),
    "summer": ((6, 1), (8, 31)),
    "autumn": ((9, 1), (11, 30)),
    "fall": ((9, 1), (11, 30)),
    "winter": ((12, 1), (2, 28)),
}

Found = tuple[date, int, int]  # the date, and where its phrase starts and ends in the text


def find_target_date(text: str, *, today: date) -> Found | None:
    """The target date said in `text` and the span of its phrase, or None.

    A date in the past is returned as it is: the caller says it has passed.
    """
    candidates: list[Found] = []
    for pattern, read in (
        (_RELATIVE, _relative),
        (_PERIOD, _period),
        (_SEASON, _season),
        (_CHRISTMAS, _christmas),
        (_ABSOLUTE, _absolute),
    ):
        for match in pattern.finditer(text):
            day = read(match, today)
            if day is not None:
                candidates.append((day, match.start(), match.end()))
    if not candidates:
        return None
    return max(candidates, key=lambda c: (c[2], c[2] - c[1]))


def _relative(match: re.Match[str], today: date) -> date | None:
    count = (match["count"] or match["count2"]).lower()
    unit = (match["unit"] or match["unit2"]).lower()
    amount = int(count) if count.isdigit() else _NUMBER_WORDS[count]
    if unit == "fortnight":
        unit, amount = "week", 2 * amount
    if amount < 1:
        return None
    result: date = today + relativedelta(**{unit + "s": amount})
    return result


def _period(match: re.Match[str], today: date) -> date | None:
    if match["unit"] is None:  # year-end
        return date(today.year, 12, 31)
    if match["which"] is None and match["end"] is None:
        return None  # "a year", "per month": not a date
    step = 1 if (match["which"] or "").lower() == "next" else 0
    unit = match["unit"].lower()
    if unit == "week":
        sunday: date = today + relativedelta(days=6 - today.weekday(), weeks=step)
        return sunday
    if unit == "month":
        month: date = today + relativedelta(months=step)
        return _month_end(month.year, month.month)
    return date(today.year + step, 12, 31)


def _season(match: re.Match[str], today: date) -> date:
    first, last = _SEASONS[match["season"].lower()]
    edge = (match["edge"] or "").lower()
    month, day = last if edge == "end" else first
    if match["year"]:
        year = int(match["year"])
        if edge == "end" and month < first[0]:
            year += 1
        return _clamp(year, month, day)
    year = today.year
    while _clamp(year, month, day) <= today:
        year += 1
    return _clamp(year, month, day)


def _christmas(match: re.Match[str], today: date) -> date:
    if match["year"]:
        return date(int(match["year"]), 12, 25)
    this_year = date(today.year, 12, 25)
    return this_year if this_year > today else date(today.year + 1, 12, 25)


def _absolute(match: re.Match[str], today: date) -> date | None:
    phrase = match["after"] or match["bare"]
    try:
        one = date_parser.parse(phrase, default=datetime(2000, 1, 1), fuzzy=True)
        two = date_parser.parse(phrase, default=datetime(2004, 2, 2), fuzzy=True)
    except (date_parser.ParserError, ValueError, OverflowError):
        return None
    has_year, has_month, has_day = one.year == two.year, one.month == two.month, one.day == two.day
    edge = (match["edge"] or "").lower()
    if has_day and has_month:
        if has_year:
            return date(one.year, one.month, one.day)
        return _next(today, lambda year: _exact(year, one.month, one.day))
    if has_day:  # "by the 15th": of this month, or the next month that has it
        start = today.replace(day=1)
        for ahead in range(13):
            month: date = start + relativedelta(months=ahead)
            if one.day <= calendar.monthrange(month.year, month.month)[1]:
                candidate = month.replace(day=one.day)
                if candidate > today:
                    return candidate
        return None
    if has_month:
        if has_year:
            return _edge_of_month(one.year, one.month, edge)
        return _next(today, lambda year: _edge_of_month(year, one.month, edge))
    if has_year:
        if edge in ("start", "beginning"):
            return date(one.year, 1, 1)
        if edge in ("middle", "mid"):
            return date(one.year, 6, 30)
        return date(one.year, 12, 31)
    return None


def _next(today: date, on: Callable[[int], date | None]) -> date | None:
    """The first date `on(year)` after today, trying this year and the eight after it."""
    for year in range(today.year, today.year + 9):
        candidate = on(year)
        if candidate is not None and candidate > today:
            return candidate
    return None


def _exact(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:  # 29 February in a common year
        return None


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _edge_of_month(year: int, month: int, edge: str) -> date:
    if edge in ("start", "beginning"):
        return date(year, month, 1)
    if edge in ("middle", "mid"):
        return date(year, month, 15)
    return _month_end(year, month)


def _clamp(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _tidy(text: str) -> str:
    """A title: single spaces, no dangling punctuation or prepositions, capitalised."""
    title = " ".join(text.split()).strip(" ,.;:-–—!")
    title = re.sub(r"\s+(?:by|before|until|in|on|for|and|to)$", "", title, flags=re.IGNORECASE)
    title = re.sub(r"^(?:by|before|until|in|on|for|and)\s+", "", title, flags=re.IGNORECASE)
    title = re.sub(r"\s+([,.;:!?])", r"\1", title).strip(" ,.;:-–—")
    return title[:1].upper() + title[1:]


# -- metrics -------------------------------------------------------------------------

_UNITS = {
    **dict.fromkeys(("km", "kms", "kilometre", "kilometres", "kilometer", "kilometers"), "km"),
    **dict.fromkeys(("mile", "miles", "mi"), "miles"),
    **dict.fromkeys(("kg", "kgs", "kilo", "kilos", "kilogram", "kilograms"), "kg"),
    **dict.fromkeys(("lb", "lbs", "pound", "pounds"), "lb"),
    **dict.fromkeys(("min", "mins", "minute", "minutes"), "minutes"),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), "hours"),
    **dict.fromkeys(("€", "eur", "euro", "euros"), "€"),
    **dict.fromkeys(("$", "usd", "dollar", "dollars"), "$"),
    **dict.fromkeys(("£", "gbp"), "£"),
    **dict.fromkeys(("%", "percent", "per cent"), "%"),
}
_CURRENCIES = {"€", "$", "£"}
# Things one counts: each check-in adds some.
_COUNTED = {
    "book", "page", "chapter", "article", "paper", "course", "lesson", "class", "session",
    "workout", "run", "time", "episode", "post", "country", "city", "word", "step", "visit",
    "recipe", "painting", "song", "story", "poem", "video",
}  # fmt: skip
_NOT_UNITS = {
    "by", "in", "to", "and", "or", "of", "a", "an", "the", "per", "more", "less", "than", "for",
    "on", "at", "before", "until", "with", "from", "this", "next", "every", "each", "is", "are",
}  # fmt: skip
_NUMBER = re.compile(
    r"(?<![\w.,])(?P<currency>[€$£])?\s?"
    r"(?P<number>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?P<thousands>k\b)?"
    r"(?:\s*(?P<unit>%|[€$£]|[^\W\d_][\w'-]*))?",
    re.IGNORECASE,
)
_LESS = re.compile(
    r"\b(?:under|below|less than|fewer than|at most|no more than|within|sub)[\s-]*$", re.I
)
_MORE = re.compile(r"\b(?:over|above|more than|at least|no less than)\s*$", re.IGNORECASE)
_DOWN = re.compile(r"\b(?:lose|losing|cut|reduce|drop|shed|lower|decrease|trim)\b", re.I)
_UP = re.compile(r"\b(?:gain|gaining|increase|add|grow|boost|improve|put on)\b", re.I)
_SUMMING = re.compile(
    r"\b(?:read|write|finish|complete|publish|visit|attend|save|earn|raise|donate|invest"
    r"|put aside|set aside|in total|a total of|altogether)\b",
    re.IGNORECASE,
)
_RATE = re.compile(r"^\s*(?:(?:a|per|each|every)\s+(?:day|week|month)|daily|weekly)\b", re.I)
_LEVEL_TO = re.compile(r"\bto\s*$", re.IGNORECASE)
_MARATHON = re.compile(r"\b(half[\s-]?)?marathon\b", re.IGNORECASE)


def _metric(title: str, *, cumulative: bool) -> ParsedMetric | Question | None:
    """The metric in a title (date phrase taken out), a Question for a unit, or None."""
    numbers = list(_NUMBER.finditer(title))
    if not numbers:
        marathon = _MARATHON.search(title)
        if marathon is None:
            return None
        distance = 21.1 if marathon[1] else 42.2
        return ParsedMetric("km", distance, False, "increase", "last")
    compared = [m for m in numbers if _LESS.search(title[: m.start()])]
    direction: Direction | None = "decrease" if compared else None
    if not compared:
        compared = [m for m in numbers if _MORE.search(title[: m.start()])]
        direction = "increase" if compared else None
    with_unit = [m for m in compared or numbers if _unit(m, title) is not None]
    if not with_unit:
        number = numbers[0]["number"]
        return Question(
            "unit", f"{number} what? Give the unit, e.g. '{number} kg' or '{number} books'."
        )
    match = with_unit[0]
    unit = _unit(match, title)
    assert unit is not None
    amount = float(match["number"].replace(",", ""))
    if match["thousands"] and not (unit == "km" and not match["unit"]):
        amount *= 1000
    before = title[: match.start()]
    relative = False
    if direction is None:
        if _DOWN.search(before):
            direction, relative = "decrease", not _LEVEL_TO.search(before)
        elif _UP.search(before):
            direction, relative = "increase", not _LEVEL_TO.search(before)
    singular = unit.lower().removesuffix("s").removesuffix("ie") if unit != "%" else unit
    summing = (
        not relative
        and not _RATE.search(title[match.end() :])
        and direction != "decrease"
        and (
            cumulative
            or singular in _COUNTED
            or unit.lower().removesuffix("es") in _COUNTED
            or (_SUMMING.search(title) is not None and unit not in ("kg", "lb", "%", "minutes"))
        )
    )
    if summing:
        return ParsedMetric(unit, amount, False, "increase", "sum")
    return ParsedMetric(unit, amount, relative, direction, "last")


def _unit(match: re.Match[str], title: str) -> str | None:
    """The unit of a number: a currency before it or the word after it ("10k" alone is km)."""
    if match["currency"]:
        return match["currency"]
    word = (match["unit"] or "").lower()
    if not word or word in _NOT_UNITS:
        return "km" if match["thousands"] else None
    unit = _UNITS.get(word, word)
    if unit == "lb" and _SUMMING.search(title):
        return "£"  # "save 500 pounds" is money
    return unit


_AREA_WORDS: dict[Area, str] = {
    "fitness": r"\b(?:run|marathon|km|miles|gym|swim|cycl|bike|push-?ups|workout|steps)",
    "health": r"\b(?:weigh|kg|lb|lose|sleep|meditat|smok|drink|eat|diet)",
    "finance": r"[€$£]|\b(?:save|debt|invest|money|earn|budget)",
    "learning": r"\b(?:learn|read|books?|pages|study|course|exam|language)",
    "career": r"\b(?:job|promotion|career|clients?|business|salary)",
    "creativity": r"\b(?:write|novel|paint|draw|guitar|piano|music|song)",
    "home": r"\b(?:house|garden|home|clean|renovat|declutter)",
    "relationships": r"\b(?:friends?|family|partner|date|call mum|call mom)",
}
_AREAS = tuple((area, re.compile(words, re.IGNORECASE)) for area, words in _AREA_WORDS.items())


def _area(title: str) -> Area:
    return next((area for area, pattern in _AREAS if pattern.search(title)), "other")


__all__ = [
    "ASK_DATE",
    "ParsedGoal",
    "ParsedMetric",
    "Question",
    "find_target_date",
    "parse_goal_text",
    "parse_target_date",
]
