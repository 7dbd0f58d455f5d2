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
