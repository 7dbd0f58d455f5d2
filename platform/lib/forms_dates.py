"""The opening and closing dates of something HR launches (a pulse, a service round), read
from a form with the same messages everywhere."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from servicechain.platform.i18n import gettext as _
from servicechain.platform.lib.dates import BadDate, parse_date


def date_range(data: Mapping[str, Any], errors: dict[str, list[str]], *, today: date, closes_before_opens: str,
               already_closed: str, names: tuple[str, str] = ("opens_on", "closes_on")) -> tuple[date | None, date | None]:
    """Both dates, required, as people write them; problems go into ``errors`` by field, with
    the caller's own words for a range that closes before it opens or before ``today``.
    Returns (opens, closes), either None when it could not be read."""
    dates: dict[str, date | None] = {}
    for name in names:
        try:
            dates[name] = parse_date(data.get(name))
        except BadDate:
            errors[name] = [_("Write the date as 31.12.2025 or 2025-12-31.")]
            continue
        if dates[name] is None:
            errors[name] = [_("This date is required.")]
    opens, closes = dates.get(names[0]), dates.get(names[1])
    if opens and closes:
        if closes < opens:
            errors[names[1]] = [closes_before_opens]
        elif closes < today:
            errors[names[1]] = [already_closed]
    return opens, closes
