"""Row ids typed by people (forms, query strings, paths).

Ids are 32-bit serials. ``str.isdigit`` also accepts digits such as "²" that ``int`` refuses,
and a number past the column's range is a database error on both engines, so both would be
a 500 rather than "choose from the list" or a 404.
"""

from __future__ import annotations

MAX_ID = 2**31 - 1


def parse_id(raw: str | None) -> int | None:
    """The id written in `raw`, or None when it is empty, not ASCII digits, or out of range."""
    if not raw or not (raw.isascii() and raw.isdigit()):
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ID else None


def is_id(raw: str) -> bool:
    return parse_id(raw) is not None
