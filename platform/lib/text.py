"""Text that behaves the same on both engines: folding for search (case-insensitive in Cyrillic,
with ё equal to е; SQLite's LOWER() only folds ASCII, so we store a folded copy and search
that), and finding the control characters that PostgreSQL would refuse and SQLite would keep.
"""

import re
from typing import Any

from servicechain.platform.i18n import gettext as _

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


# C0 control characters but tab, line feed and carriage return, which typed text holds. SQLite
# would store them and PostgreSQL refuses a NUL in any text, so the same input must not be
# saved on one engine and fail on the other: they are refused wherever text comes in.
_C0_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def control_character(value: Any, path: str = "") -> tuple[str, str] | None:
    """(where, the character) of the first control character in a text, or in any text or key
    of a decoded JSON value; ``where`` is the field's name, its items by index ("to.1"), for
    whoever needs to say which."""
    if isinstance(value, str):
        found = _C0_CONTROL.search(value)
        return (path, found.group()) if found else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            found = control_character(key, where) or control_character(item, where)
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = control_character(item, f"{path}.{index}" if path else str(index))
            if found:
                return found
    return None


def control_character_message(character: str) -> str:
    if character == "\x00":
        return _("The text contains an invisible NUL character, which cannot be saved. Remove it and try again.")
    return _("The text contains an invisible control character (code %(code)s), which cannot be saved. Remove it "
             "and try again.", code=ord(character))
