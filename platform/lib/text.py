"""Folding text for search: case-insensitive in Cyrillic, with ё equal to е, on both engines.

SQLite's LOWER() only folds ASCII, so we store a folded copy and search that.
"""

import re

_SPACES = re.compile(r"\s+")


_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def fold(text: str | None) -> str:
    """Control characters (a NUL pasted into a search box) are dropped: no name holds one, and
    PostgreSQL refuses a NUL in any text."""
    if not text:
        return ""
    return _SPACES.sub(" ", _CONTROL.sub("", text.casefold().replace("ё", "е"))).strip()


def person_search_text(full_name: str, employee_number: str = "", email: str | None = "") -> str:
    return " " + " ".join(filter(None, [fold(full_name), fold(employee_number), fold(email)]))


def escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
