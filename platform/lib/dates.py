"""Dates as people and HR systems write them: 31.12.2025, 2025-12-31, 31/12/2025."""

from __future__ import annotations

from datetime import date, datetime, timedelta

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


# Months a company's figures can be about. Beyond them the month arithmetic of a report (the 24
# months before, the month after) leaves the calendar Python knows: year 0 or 10000.
FIRST_YEAR, LAST_YEAR = 1900, 2999


class BadMonth(ValueError):
    """Text that is not a month written "YYYY-MM". ``str()`` is the message for people, in the
    language current when it is shown (the web page's, or the command line's English)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        from servicechain.platform.i18n import gettext as _

        if not self.text:
            return _("No month given: write it as YYYY-MM, such as 2026-10.")
        shown = self.text if len(self.text) <= 20 else self.text[:20] + "…"  # a pasted essay is not repeated
        return _("“%(value)s” is not a month: write it as YYYY-MM, such as 2026-10.", value=shown)


def parse_month(value: object) -> date:
    """The first day of the month written "YYYY-MM" (four-digit year, two-digit month): the one
    reading of a month for the dashboards' picker, the report form and the command line, so each
    refuses the same input with the same words. BadMonth for anything else, empty text included."""
    text = "" if value is None else str(value).strip()
    year, dash, month = text[:4], text[4:5], text[5:]
    if dash != "-" or len(month) != 2 or not (year.isascii() and year.isdigit() and month.isascii()
                                               and month.isdigit()):
        raise BadMonth(text)
    if not FIRST_YEAR <= int(year) <= LAST_YEAR:
        raise BadMonth(text)
    try:
        return date(int(year), int(month), 1)
    except ValueError:  # month 00 or 13+
        raise BadMonth(text) from None


def first_of_month(key: str) -> date:
    """The first day of the month keyed "YYYY-MM"."""
    return date(int(key[:4]), int(key[5:7]), 1)


def month_start(day: date) -> date:
    return date(day.year, day.month, 1)


def month_end(day: date) -> date:
    return shift_month(day, 1) - timedelta(days=1)


def shift_month(day: date, months: int) -> date:
    """The first day of the month ``months`` after ``day``'s (before it, when negative)."""
    i = day.year * 12 + day.month - 1 + months
    return date(i // 12, i % 12 + 1, 1)


def last_complete_month(today: date) -> date:
    """The first day of the month before ``today``'s: what the monthly report and the analytics
    refresh cover when no month is named."""
    return shift_month(today, -1)


def months_back(until: date, count: int) -> list[str]:
    """The keys of the ``count`` months ending with the month of ``until``, oldest first."""
    last = until.year * 12 + until.month - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(last - count + 1, last + 1)]


def month_starts(first: date, last: date) -> list[date]:
    """The first day of every month from ``first``'s to ``last``'s, inclusive."""
    start, end = first.year * 12 + first.month - 1, last.year * 12 + last.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(start, end + 1)]
