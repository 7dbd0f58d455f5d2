"""Folding text for search: case-insensitive in Cyrillic, with ё equal to е, on both engines.

SQLite's LOWER() only folds ASCII, so we store a folded copy and search that.
"""

import re

_SPACES = re.compile(r"\s+")


def fold(text: str | None) -> str:
    if not text:
        return ""
    return _SPACES.sub(" ", text.casefold().replace("ё", "е")).strip()


def person_search_text(full_name: str, employee_number: str = "", email: str | None = "") -> str:
    return " " + " ".join(filter(None, [fold(full_name), fold(employee_number), fold(email)]))


def escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
