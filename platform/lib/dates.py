"""Dates as people and HR systems write them: 31.12.2025, 2025-12-31, 31/12/2025."""

from __future__ import annotations

from datetime import date, datetime

FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%d.%m.%y", "%Y.%m.%d")


class BadDate(ValueError):
    pass


def parse_date(value: object) -> date | None:
    """None for empty input; BadDate for text that is not a real date in a known format."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if not text:
        return None
    if len(text) > 10 and text[10] in "T ":  # "2025-12-31 00:00:00" from spreadsheets
        text = text[:10]
    for fmt in FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise BadDate(text)


# Months: reports, scorecards and demos all count in calendar months, keyed "YYYY-MM".


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def first_of_month(key: str) -> date:
    """The first day of the month keyed "YYYY-MM"."""
    return date(int(key[:4]), int(key[5:7]), 1)


def months_back(until: date, count: int) -> list[str]:
    """The keys of the ``count`` months ending with the month of ``until``, oldest first."""
    last = until.year * 12 + until.month - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(last - count + 1, last + 1)]


def month_starts(first: date, last: date) -> list[date]:
    """The first day of every month from ``first``'s to ``last``'s, inclusive."""
    start, end = first.year * 12 + first.month - 1, last.year * 12 + last.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(start, end + 1)]
