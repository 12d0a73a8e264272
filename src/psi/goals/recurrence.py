"""When a habit or reminder is due: RFC 5545 RRULE lines, expanded by dateutil.

A `Rule` is one RRULE line (``FREQ=WEEKLY;BYDAY=MO,WE,FR``) anchored at a start
in the user's IANA time zone. The start gives the zone, the first moment the
rule may fire and, unless the rule says otherwise (BYHOUR, BYMINUTE), the time
of day. `parse_rule` checks the text and refuses a rule that never fires;
`occurrences`, `next_after` and `describe` read it; `in_zone` moves it to
another zone.

Wall time. A rule is expanded on naive local wall time and each occurrence then
gets its zone, so "every day at 07:00" in Europe/Berlin is 07:00 in winter and
in summer (06:00 UTC, then 05:00 UTC). Two kinds of local time need a decision:

- A time that does not exist (clocks spring forward: 02:30 on the last Sunday
  of March in Berlin) is read with the offset from before the change, which
  moves it forward by the gap: 02:30 becomes 03:30 CEST. If that lands on
  another occurrence the two are one.
- A time that happens twice (clocks fall back) is the first of the two
  (fold=0, still summer time).

So an hourly rule fires 23 times on the spring day and 24 times, not 25, on
the autumn day.

Changing zone: `in_zone(rule, "America/New_York")` keeps the wall time (a 07:00
habit stays at 07:00 where the user now lives); an UNTIL keeps its local wall
time too.

What this leaves out: RDATE, EXDATE, EXRULE, several RRULE lines, a DTSTART
inside the text (the start comes from the caller), MINUTELY and SECONDLY (psi
schedules at most hourly) and dateutil's BYEASTER. A rule whose first
occurrence is more than `HORIZON_YEARS` after its start counts as never firing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import rrule as du  # type: ignore[import-untyped]
from dateutil.relativedelta import relativedelta  # type: ignore[import-untyped]

from psi.errors import GoalError, InvalidRule

HORIZON_YEARS = 10
"""A rule must fire within this many years of its start to be accepted."""

_FREQS = {
    "YEARLY": du.YEARLY,
    "MONTHLY": du.MONTHLY,
    "WEEKLY": du.WEEKLY,
    "DAILY": du.DAILY,
    "HOURLY": du.HOURLY,
}
# Periods of each FREQ in 400 Gregorian years, after which dates fall on the
# same weekdays again: 146,097 days, 20,871 weeks.
_PER_400_YEARS = {"YEARLY": 400, "MONTHLY": 4800, "WEEKLY": 20871, "DAILY": 146097}
_PER_400_YEARS["HOURLY"] = _PER_400_YEARS["DAILY"] * 24
# name: (lowest, highest, negative values allowed)
_RANGES = {
    "BYSECOND": (0, 59, False),
    "BYMINUTE": (0, 59, False),
    "BYHOUR": (0, 23, False),
    "BYMONTH": (1, 12, False),
    "BYMONTHDAY": (1, 31, True),
    "BYYEARDAY": (1, 366, True),
    "BYWEEKNO": (1, 53, True),
    "BYSETPOS": (1, 366, True),
}
_PARTS = ("FREQ", "UNTIL", "COUNT", "INTERVAL", "BYDAY", "WKST", *_RANGES)
_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DAY_NAMES = dict(zip(_DAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True))
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_WEEKDAY = re.compile(r"^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")
# Longer than any jump of local time (Samoa skipped a whole day in 2011).
_SLACK = timedelta(hours=25)
_EXAMPLE = "For example FREQ=DAILY, or FREQ=WEEKLY;BYDAY=MO,WE,FR."


@dataclass(frozen=True)
class _Expansion:
    """What `Rule` keeps for expanding itself, read once from its text."""

    rrule: Any  # dateutil's rrule over naive wall time, every date default explicit
    freq: str
    interval: int
    counted: bool
    # Copies of `rrule` started later (see `_expander_from`), by their DTSTART.
    moved: dict[datetime, Any] = field(default_factory=dict)
    # The last spans asked for and their occurrences: a long-running psi (daemon,
    # server) asks about the same day for every agenda, reminder and chat turn.
    spans: dict[tuple[datetime, datetime], tuple[datetime, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    """An RRULE anchored at `start`. Make one with `parse_rule`.

    `text` is the rule as psi stores it: upper case, no ``RRULE:`` prefix and
    UNTIL in UTC. `start` is whole seconds in the zone named by `zone`.
    """

    text: str
    start: datetime
    zone: str
    _expansion: _Expansion = field(repr=False, compare=False)

    @property
    def tz(self) -> ZoneInfo:
        return cast(ZoneInfo, self.start.tzinfo)


def parse_rule(text: str, start: datetime) -> Rule:
    """Read an RRULE line (with or without ``RRULE:``) anchored at `start`.

    `start` must be aware, in a `zoneinfo.ZoneInfo` zone (or `datetime.UTC`);
    microseconds are dropped. UNTIL may be a date (that whole local day
    counts), a local date-time or a UTC one ending in Z. Raises `InvalidRule`
    for text psi cannot read, a rule that never fires, or one that ends
    before it first fires; `ValueError` for a naive `start`.
    """
    zone = _zone_of(start, "start")
    start = start.replace(tzinfo=zone, microsecond=0)
    wall_start = start.replace(tzinfo=None)
    parts = _split(text)
    until = _read_until(parts["UNTIL"], zone) if "UNTIL" in parts else None
    if until is not None:
        parts["UNTIL"] = _attach(until, zone).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    stored = ";".join(f"{name}={value}" for name, value in parts.items())

    expander = _build(parts, wall_start, until, text)
    first = _first(expander, parts, wall_start)
    if first is None:
        raise InvalidRule(
            f"The rule {stored} never fires: no time matches it within "
            f"{HORIZON_YEARS} years of {start:%Y-%m-%d}.",
            hint="Check that its BY... parts can meet (February has at most 29 days, "
            "BYSETPOS cannot pick more dates than there are). " + _EXAMPLE,
        )
    if until is not None and first > until:
        raise InvalidRule(
            f"The rule {stored} ends (UNTIL) before it first fires on {first:%Y-%m-%d %H:%M}.",
            hint="Move UNTIL after the start, or leave it out.",
        )
    expansion = _Expansion(
        rrule=expander,
        freq=parts["FREQ"],
        interval=int(parts.get("INTERVAL", "1")),
        counted="COUNT" in parts,
    )
    return Rule(text=stored, start=start, zone=zone.key, _expansion=expansion)


def occurrences(rule: Rule, start: datetime, end: datetime) -> list[datetime]:
    """Every occurrence in [start, end), sorted, each in the rule's zone."""
    _require_aware(start, "start")
    _require_aware(end, "end")
    if end <= start:
        return []
    spans = rule._expansion.spans
    known = spans.get((start, end))
    if known is not None:
        return list(known)
    zone = rule.tz
    low = start.astimezone(zone).replace(tzinfo=None) - _SLACK
    high = end.astimezone(zone).replace(tzinfo=None) + _SLACK
    found = set()
    for wall in _expander_from(rule, low).between(low, high, inc=True):
        moment = _attach(wall, zone)
        if start <= moment < end:
            found.add(moment)
    if len(spans) >= 4:
        spans.clear()
    spans[(start, end)] = tuple(sorted(found))
    return list(spans[(start, end)])


def next_after(rule: Rule, moment: datetime) -> datetime | None:
    """The first occurrence strictly after `moment`, or None once the rule has ended."""
    _require_aware(moment, "moment")
    zone = rule.tz
    low = moment.astimezone(zone).replace(tzinfo=None) - _SLACK
    best: datetime | None = None
    best_wall = low
    for wall in _expander_from(rule, low).xafter(low, inc=True):
        # Wall order and real order differ only around a gap, never by more than _SLACK.
        if best is not None and wall > best_wall + _SLACK:
            break
        candidate = _attach(wall, zone)
        if candidate > moment and (best is None or candidate < best):
            best, best_wall = candidate, wall
    return best


def in_zone(rule: Rule, zone: str) -> Rule:
    """The same rule at the same wall time in another zone (the user moved).

    The start keeps its wall time and date, and so does UNTIL: "07:00 in
    Berlin until 30 June" becomes "07:00 in New York until 30 June".
    """
    try:
        new_zone = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise GoalError(
            f"Unknown time zone {zone!r}.",
            hint="Use an IANA name such as Europe/Berlin or America/New_York.",
        ) from exc
    parts = _split(rule.text)
    if "UNTIL" in parts:
        utc = datetime.strptime(parts["UNTIL"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        parts["UNTIL"] = utc.astimezone(rule.tz).strftime("%Y%m%dT%H%M%S")
    text = ";".join(f"{name}={value}" for name, value in parts.items())
    return parse_rule(text, rule.start.replace(tzinfo=new_zone))


def describe(rule: Rule) -> str:
    """A short English description: "every Mon, Wed, Fri at 07:00".

    Parts it has no words for (BYSETPOS, BYWEEKNO, BYYEARDAY, BYSECOND) are
    given as the rule text in brackets after the description.
    """
    parts = _split(rule.text)
    freq = parts["FREQ"]
    interval = int(parts.get("INTERVAL", "1"))
    unit = {"YEARLY": "year", "MONTHLY": "month", "WEEKLY": "week", "DAILY": "day"}.get(
        freq, "hour"
    )
    every = f"every {unit}" if interval == 1 else f"every {interval} {unit}s"
    by_day = parts.get("BYDAY", "")
    if freq == "WEEKLY" and not by_day:
        by_day = _DAYS[rule.start.weekday()]
    days = [_WEEKDAY.match(day) for day in by_day.split(",") if day]
    plain_days = ", ".join(_DAY_NAMES[m[2]] for m in days if m and not m[1])
    on_days = ", ".join(
        f"the {_ordinal_word(int(m[1]))} {_DAY_NAMES[m[2]]}" if m[1] else _DAY_NAMES[m[2]]
        for m in days
        if m
    )
    month_days = [int(day) for day in parts.get("BYMONTHDAY", "").split(",") if day]
    months = [_MONTH_NAMES[int(m) - 1] for m in parts.get("BYMONTH", "").split(",") if m]

    if freq in ("DAILY", "WEEKLY") and interval == 1 and plain_days and plain_days == on_days:
        phrase = f"every {plain_days}"
    elif freq == "WEEKLY":
        phrase = f"{every} on {on_days}"
    elif freq == "YEARLY" and len(months) == 1 and len(month_days) == 1 and not on_days:
        phrase = f"{every} on {month_days[0]} {months.pop()}"
    elif freq in ("MONTHLY", "YEARLY") and (on_days or month_days):
        dates = [f"the {_day_of_month(day)}" for day in month_days]
        phrase = f"{every} on {_join([*dates, *([on_days] if on_days else [])])}"
    elif freq == "MONTHLY":
        phrase = f"{every} on the {_day_of_month(rule.start.day)}"
    elif freq == "YEARLY":
        phrase = f"{every} on {rule.start.day} {_MONTH_NAMES[rule.start.month - 1]}"
        months = [m for m in months if m != _MONTH_NAMES[rule.start.month - 1]]
    else:
        phrase = every
        if on_days:
            phrase += f" on {on_days}"
    if months:
        phrase += f" in {', '.join(months)}"
    if freq != "HOURLY" or "BYHOUR" in parts:
        phrase += " at " + _join(_times_of_day(parts, rule.start))
    if "COUNT" in parts:
        count = int(parts["COUNT"])
        phrase += ", once" if count == 1 else f", {count} times"
    if "UNTIL" in parts:
        utc = datetime.strptime(parts["UNTIL"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        phrase += f", until {utc.astimezone(rule.tz):%Y-%m-%d}"
    unworded = [name for name in ("BYSETPOS", "BYWEEKNO", "BYYEARDAY", "BYSECOND") if name in parts]
    if unworded:
        phrase += f" ({rule.text})"
    return phrase


def _zone_of(moment: datetime, name: str) -> ZoneInfo:
    _require_aware(moment, name)
    zone: tzinfo | None = moment.tzinfo
    if zone is UTC:
        return ZoneInfo("UTC")
    if not isinstance(zone, ZoneInfo) or zone.key is None:
        raise ValueError(
            f"{name} must be in an IANA zone (zoneinfo.ZoneInfo or datetime.UTC), not {zone!r}"
        )
    return zone


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got the naive {moment!r}")


def _attach(wall: datetime, zone: ZoneInfo) -> datetime:
    """`wall` in `zone`: a time in a gap moves forward by the gap, an ambiguous one is fold=0."""
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC).astimezone(zone)


def _split(text: str) -> dict[str, str]:
    """The rule's parts by name, upper case, in the order written; checks names and values."""
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[len("RRULE:") :]
    if not body or "\n" in body or ":" in body:
        raise InvalidRule(
            f"{text!r} is not one RRULE line.",
            hint="Give only the rule itself, without DTSTART or EXDATE lines. " + _EXAMPLE,
        )
    parts: dict[str, str] = {}
    for piece in body.split(";"):
        if not piece.strip():
            continue
        name, _, value = (s.strip().upper() for s in piece.partition("="))
        if name not in _PARTS:
            raise InvalidRule(
                f"The rule {body!r} has a part psi does not know: {name!r}.",
                hint=f"Use only {', '.join(_PARTS)}. " + _EXAMPLE,
            )
        if name in parts or not value:
            what = "twice" if name in parts else "without a value"
            raise InvalidRule(f"The rule {body!r} gives {name} {what}.", hint=_EXAMPLE)
        _check_value(body, name, value)
        parts[name] = value
    if "FREQ" not in parts:
        raise InvalidRule(f"The rule {body!r} has no FREQ.", hint=_EXAMPLE)
    if "COUNT" in parts and "UNTIL" in parts:
        raise InvalidRule(
            f"The rule {body!r} gives both COUNT and UNTIL.", hint="Keep one of the two."
        )
    return parts


def _check_value(body: str, name: str, value: str) -> None:
    problem = None
    if name == "FREQ" and value not in _FREQS:
        problem = f"FREQ must be one of {', '.join(_FREQS)} (psi schedules at most hourly)"
    elif name in ("COUNT", "INTERVAL") and not (value.isdigit() and int(value) >= 1):
        problem = f"{name} must be a whole number from 1"
    elif name == "WKST" and value not in _DAYS:
        problem = f"WKST must be one of {', '.join(_DAYS)}"
    elif name == "BYDAY":
        for day in value.split(","):
            match = _WEEKDAY.match(day)
            if not match or (match[1] and not 1 <= abs(int(match[1])) <= 53):
                problem = f"{day!r} in BYDAY is not a day such as MO, 1MO or -1FR"
                break
    elif name in _RANGES:
        low, high, signed = _RANGES[name]
        for item in value.split(","):
            number = int(item) if re.fullmatch(r"[+-]?\d+", item) else None
            if number is None or not (
                low <= number <= high or (signed and -high <= number <= -low)
            ):
                sign = f" (or -{high} to -{low})" if signed else ""
                problem = f"{name} takes numbers from {low} to {high}{sign}, not {item!r}"
                break
    if problem:
        raise InvalidRule(f"The rule {body!r} cannot be read: {problem}.", hint=_EXAMPLE)


def _read_until(value: str, zone: ZoneInfo) -> datetime:
    """UNTIL as naive wall time in `zone`."""
    try:
        if len(value) == 8:
            return datetime.strptime(value, "%Y%m%d").replace(hour=23, minute=59, second=59)
        if value.endswith("Z"):
            utc = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            return utc.astimezone(zone).replace(tzinfo=None)
        return datetime.strptime(value, "%Y%m%dT%H%M%S")
    except ValueError as exc:
        raise InvalidRule(
            f"UNTIL={value} is not a date (20261231) or a date-time (20261231T235959Z).",
            hint="Write UNTIL as YYYYMMDD, or YYYYMMDDTHHMMSS with a Z for UTC.",
        ) from exc


def _build(parts: dict[str, str], wall_start: datetime, until: datetime | None, text: str) -> Any:
    """dateutil's rrule with the date defaults it would take from the start made explicit.

    dateutil fills a missing BYDAY (weekly), BYMONTHDAY (monthly) or BYMONTH and
    BYMONTHDAY (yearly) from DTSTART; written out, they survive `_expander_from`
    moving DTSTART. WKST defaults to Monday as in RFC 5545, not to the locale's.
    """
    full = {name: value for name, value in parts.items() if name != "UNTIL"}
    full.setdefault("WKST", "MO")
    if not any(name in full for name in ("BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY")):
        if full["FREQ"] == "WEEKLY":
            full["BYDAY"] = _DAYS[wall_start.weekday()]
        elif full["FREQ"] in ("MONTHLY", "YEARLY"):
            full["BYMONTHDAY"] = str(wall_start.day)
        if full["FREQ"] == "YEARLY":
            full.setdefault("BYMONTH", str(wall_start.month))
    if until is not None:
        full["UNTIL"] = until.strftime("%Y%m%dT%H%M%S")
    try:
        return du.rrulestr(";".join(f"{k}={v}" for k, v in full.items()), dtstart=wall_start)
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidRule(f"The rule {text!r} cannot be read: {exc}.", hint=_EXAMPLE) from exc


def _first(expander: Any, parts: dict[str, str], wall_start: datetime) -> datetime | None:
    """The first naive occurrence, if there is one within HORIZON_YEARS of the start.

    dateutil looks for a match up to the year 9999, seconds of work for a rule
    that never fires. Moving the start by whole 400-year cycles, and by a whole
    number of INTERVALs, keeps every date on its weekday and the rule in phase,
    so the search runs on a copy started close to 9999 and is moved back.
    """
    freq = parts["FREQ"]
    interval = int(parts.get("INTERVAL", "1"))
    cycles = interval // math.gcd(interval, _PER_400_YEARS[freq])
    span = 400 * cycles
    latest = datetime.max.year - HORIZON_YEARS - 1
    shift = (latest - wall_start.year) // span * span
    if not 1 <= wall_start.year + shift <= latest:
        shift = 0
    probe_start = wall_start.replace(year=wall_start.year + shift)
    probe = expander.replace(dtstart=probe_start, until=None, count=None)
    first: datetime | None = probe.after(probe_start, inc=True)
    if first is None or first > probe_start + relativedelta(years=HORIZON_YEARS):
        return None
    return first.replace(year=first.year - shift)


def _expander_from(rule: Rule, low: datetime) -> Any:
    """The rule's expander with DTSTART moved forward, in phase, to at most `low`.

    dateutil walks every period from DTSTART; for a habit started years ago
    that is thousands of steps per query. Moving DTSTART by whole INTERVALs
    leaves the occurrences after it unchanged. A COUNT rule counts from its
    real start, so it is not moved. The last few copies are kept, as an agenda
    asks about the same day again and again.
    """
    expander = rule._expansion.rrule
    wall_start = rule.start.replace(tzinfo=None)
    if low <= wall_start or rule._expansion.counted:
        return expander
    freq, interval = rule._expansion.freq, rule._expansion.interval
    gap = low - wall_start
    shift: timedelta | relativedelta
    if freq == "HOURLY":
        shift = timedelta(hours=gap // timedelta(hours=interval) * interval)
    elif freq == "DAILY":
        shift = timedelta(days=gap.days // interval * interval)
    elif freq == "WEEKLY":
        shift = timedelta(weeks=gap.days // 7 // interval * interval)
    else:
        months = (low.year - wall_start.year) * 12 + low.month - wall_start.month - 1
        step = interval * (12 if freq == "YEARLY" else 1)
        shift = relativedelta(months=max(months, 0) // step * step)
    moved = wall_start + shift
    if moved == wall_start or moved > low:
        return expander
    cache = rule._expansion.moved
    if moved not in cache:
        if len(cache) >= 4:
            cache.clear()
        cache[moved] = expander.replace(dtstart=moved)
    return cache[moved]


def _ordinal_word(n: int) -> str:
    words = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last"}
    if n in words:
        return words[n]
    if n == -2:
        return "second-to-last"
    return f"{_day_of_month(abs(n))}{' from last' if n < 0 else ''}"


def _day_of_month(n: int) -> str:
    if n < 0:
        return "last day" if n == -1 else f"{_day_of_month(-n)}-to-last day"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _times_of_day(parts: dict[str, str], start: datetime) -> list[str]:
    hours = [int(h) for h in parts["BYHOUR"].split(",")] if "BYHOUR" in parts else [start.hour]
    minutes = (
        [int(m) for m in parts["BYMINUTE"].split(",")] if "BYMINUTE" in parts else [start.minute]
    )
    return [f"{h:02d}:{m:02d}" for h in sorted(hours) for m in sorted(minutes)]


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
