"""Money is stored as whole kopecks (Piccolo's SQLite engine turns Decimal into float, which
loses kopecks); these convert between what people type and what we store. Showing money is
``i18n.format_money``."""

from __future__ import annotations

import re
from decimal import Decimal

# "1 234,56", "1234.56", "1 234", "-15,5" (spaces, no-break spaces or thin spaces as groups)
_AMOUNT = re.compile(r"^(-)?(\d{1,3}(?:[ \u00a0\u202f]\d{3})+|\d+)(?:[.,](\d{1,2}))?$")


class BadAmount(ValueError):
    """Text that is not an amount in roubles with at most two decimal places."""


def to_kopecks(text: str) -> int:
    """Roubles as people type them in either language -> whole kopecks."""
    match = _AMOUNT.match(text.strip().removesuffix("₽").strip())
    if not match:
        raise BadAmount(text)
    sign, whole, fraction = match.groups()
    kopecks = int(re.sub(r"\D", "", whole)) * 100 + int((fraction or "0").ljust(2, "0"))
    return -kopecks if sign else kopecks


def to_roubles(kopecks: int) -> Decimal:
    """Whole kopecks -> an exact Decimal amount of roubles (for sums and exports)."""
    return Decimal(kopecks) / 100
