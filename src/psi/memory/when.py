"""Which days or months a question asks about, resolved against now (pure functions).

    question_periods("what did I do last May?", now=2026-11-28)   # [May 2026]
    question_periods("where was I yesterday?", now=2026-11-28)    # [27 November 2026]

Recall boosts turns said in those periods (psi.memory.rank's date prior);
dates written out with a year ("7 July 2023") the ranker finds itself. Weeks
and years are left out: the prior works on days and months.
"""

from __future__ import annotations

import re
from datetime import datetime

from psi.memory.dates import MONTHS, find_date
from psi.memory.rank import DateMention

_MONTH = re.compile(
    r"\b(last|this|in|during)\s+(" + "|".join(MONTHS) + r")\b(?!\s*,?\s*\d{4})", re.IGNORECASE
)


def question_periods(question: str, now: datetime) -> list[DateMention]:
    """Days and months named by relative words in `question` ("last May", "yesterday")."""
    found = _MONTH.search(question)
    if found:
        month = MONTHS.index(found.group(2).lower()) + 1
        which = found.group(1).lower()
        # "last May" in May means a year ago; "in May" means the latest May so far.
        year = (
            now.year
            if month < now.month or (month == now.month and which != "last")
            else (now.year - 1)
        )
        return [DateMention(year, month)]
    resolved = find_date(question, now)
    if resolved is None:
        return []
    moment, phrase = resolved
    words = set(phrase.lower().split())
    if words & set(MONTHS) or "week" in phrase or "year" in phrase:
        # Written-out dates are the ranker's own; weeks and years are too coarse.
        return []
    if "month" in phrase:
        return [DateMention(moment.year, moment.month)]
    return [DateMention(moment.year, moment.month, moment.day)]
