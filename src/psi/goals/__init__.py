"""Goals: when habits are due and how progress is going; pure functions over plain data.

`recurrence` reads RFC 5545 rules and lists their occurrences in the user's
zone; `forecast` turns check-ins into a current value, a trend, a forecast
against the target date, habit adherence and a sparkline. Neither touches the
database or the clock: callers pass `now`.
"""
