"""Typed input for authority: amounts people type in roubles (or counts), dates in either
format, ids chosen from lists. Each parser returns (values, errors) with messages in the
user's language; the service then checks the rules of the chain."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from servicechain.goals.authority.tables import KINDS, PERIODS
from servicechain.platform.i18n import gettext as _
from servicechain.platform.lib.dates import BadDate, parse_date
from servicechain.platform.lib.ids import parse_id
from servicechain.platform.lib.money import BadAmount, to_kopecks

MAX_AMOUNT = 2**31 - 1
CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
Errors = dict[str, list[str]]


def _text(data: dict[str, Any], name: str, limit: int) -> str:
    return str(data.get(name, "") or "").strip()[:limit]


def amount_in_range(value: int) -> bool:
    """Above zero and within the database's integer: the one range for an amount, typed in a
    form or sent to the API."""
    return 0 < value <= MAX_AMOUNT


def parse_amount(raw: str, kind: str = "money") -> int:
    """Roubles with at most two decimals (kopecks back), or a whole count. Raises ValueError."""
    raw = raw.strip()
    if kind == "count":
        if not (raw.isascii() and raw.isdigit()):
            raise ValueError(raw)
        value = int(raw)
    else:
        value = to_kopecks(raw)
    if not amount_in_range(value):
        raise ValueError(raw)
    return value


def amount_error(kind: str) -> str:
    if kind == "count":
        return _("Enter a whole number above zero.")
    return _("Enter an amount in roubles above zero, with at most two decimals: 1500 or 1 500,50.")


def _amount(data: dict[str, Any], name: str, kind: str, errors: Errors) -> int:
    raw = str(data.get(name, "") or "")
    if not raw.strip():
        errors[name] = [_("This is required.")]
        return 0
    try:
        return parse_amount(raw, kind)
    except (ValueError, BadAmount):
        errors[name] = [amount_error(kind)]
        return 0


def _date(data: dict[str, Any], name: str, errors: Errors, required: bool = True) -> date | None:
    try:
        value = parse_date(data.get(name))
    except BadDate:
        errors[name] = [_("Write the date as 31.12.2025 or 2025-12-31.")]
        return None
    if value is None and required:
        errors[name] = [_("This is required.")]
    return value


def parse_use(data: dict[str, Any], kind: str, default_day: date) -> tuple[dict[str, Any], Errors]:
    errors: Errors = {}
    values = {
        "amount": _amount(data, "amount", kind, errors),
        "case_ref": _text(data, "case_ref", 200),
        "customer": _text(data, "customer", 300),
        "action": _text(data, "action", 2000),
        "used_on": _date(data, "used_on", errors, required=False) or default_day,
    }
    if not values["case_ref"]:
        errors["case_ref"] = [_("Enter the case reference, as in the helpdesk.")]
    return values, errors


def parse_grant(data: dict[str, Any], kind: str, *, root: bool) -> tuple[dict[str, Any], Errors]:
    errors: Errors = {}
    grantee = parse_id(str(data.get("grantee_id", "") or ""))
    if grantee is None:
        errors["grantee_id"] = [_("Choose from the list.")]
    period = str(data.get("period", "") or "")
    if period not in PERIODS:
        errors["period"] = [_("Choose a month or a quarter.")]
    goal = str(data.get("goal_id", "") or "").strip()
    goal_id = parse_id(goal)
    if goal and goal_id is None:
        errors["goal_id"] = [_("Choose from the list.")]
    values = {
        "grantee_id": grantee,
        "parent_id": None if root else parse_id(str(data.get("parent_id", "") or "")),
        "scope_id": parse_id(str(data.get("scope_id", "") or "")) if root else None,
        "per_case_limit": _amount(data, "per_case_limit", kind, errors),
        "budget": _amount(data, "budget", kind, errors),
        "period": period,
        "valid_from": _date(data, "valid_from", errors),
        "valid_until": _date(data, "valid_until", errors, required=not root),
        "may_redelegate": str(data.get("may_redelegate", "")) in ("1", "on", "true"),
        "goal_id": goal_id,
        "note": _text(data, "note", 2000),
    }
    if not root and values["parent_id"] is None:
        errors["parent_id"] = [_("Choose from the list.")]
    if root and values["scope_id"] is None:
        errors["scope_id"] = [_("Choose from the list.")]
    return values, errors


def parse_scope(data: dict[str, Any]) -> tuple[dict[str, Any], Errors]:
    errors: Errors = {}
    values = {
        "code": _text(data, "code", 64).lower(),
        "name_en": _text(data, "name_en", 200),
        "name_ru": _text(data, "name_ru", 200),
        "kind": str(data.get("kind", "money")),
        "unit": "|".join(f.strip() for f in _text(data, "unit", 32).split("|")) if _text(data, "unit", 32) else "",
        "unit_ru": "|".join(f.strip() for f in _text(data, "unit_ru", 100).split("|")) if _text(data, "unit_ru", 100) else "",
    }
    if not CODE_RE.match(values["code"]):
        errors["code"] = [_("Use lower-case Latin letters, digits, dots, dashes or underscores.")]
    for name in ("name_en", "name_ru"):
        if not values[name]:
            errors[name] = [_("Name the scope in both languages.")]
    if values["kind"] not in KINDS:
        errors["kind"] = [_("Choose money or a count.")]
    if values["kind"] == "count":
        # Each language's plural forms, so "2 deliveries" and "5 доставок" read right.
        english, russian = values["unit"].split("|"), values["unit_ru"].split("|")
        if not values["unit"] or len(english) != 2 or not all(english):
            errors["unit"] = [_("Say what is counted in English, one and many: delivery|deliveries.")]
        if not values["unit_ru"] or len(russian) != 3 or not all(russian):
            errors["unit_ru"] = [_("Say what is counted in Russian, in three forms: доставка|доставки|доставок.")]
    else:
        values["unit"] = values["unit_ru"] = ""
    return values, errors


def parse_grant_change(data: dict[str, Any], kind: str, *, root: bool) -> tuple[dict[str, Any], Errors]:
    """What may change on a grant: its limit, budget, dates, purpose and note."""
    errors: Errors = {}
    goal = str(data.get("goal_id", "") or "").strip()
    goal_id = parse_id(goal)
    if goal and goal_id is None:
        errors["goal_id"] = [_("Choose from the list.")]
    values = {
        "per_case_limit": _amount(data, "per_case_limit", kind, errors),
        "budget": _amount(data, "budget", kind, errors),
        "valid_from": _date(data, "valid_from", errors),
        "valid_until": _date(data, "valid_until", errors, required=not root),
        "goal_id": goal_id,
        "note": _text(data, "note", 2000),
    }
    return values, errors


def amount_for_input(kind: str, amount: int) -> str:
    """An amount as the form reads it back in either language: 5000 or 5000.50."""
    if kind == "count":
        return str(amount)
    roubles, kopecks = divmod(amount, 100)
    return f"{roubles}.{kopecks:02d}" if kopecks else str(roubles)
