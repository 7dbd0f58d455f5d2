"""Typed input for values, recognitions, rewards, budgets and preferences, checked into
messages in the user's language. Checks that need the database live in the service."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from servicechain.platform.i18n import gettext as _
from servicechain.platform.lib.dates import BadDate, parse_date
from servicechain.platform.lib.money import BadAmount, to_kopecks
from servicechain.recognition.tables import MONEY_KINDS, REWARD_KINDS

CODE_RE = re.compile(r"^[a-z][a-z0-9_-]{1,39}$")
MESSAGE_MAX = 1000
STORY_MAX = 4000
CASE_REF_MAX = 100
REASON_MAX = 1000
NOTE_MAX = 1000
MAX_RECIPIENTS = 20
MAX_AMOUNT = 10_000_000_00  # ten million roubles, in kopecks: anything above is a typo
Errors = dict[str, list[str]]


def _add(errors: Errors, name: str, message: str) -> None:
    errors.setdefault(name, []).append(message)


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value or "").strip()


def _many(data: dict[str, Any], name: str) -> list[str]:
    """A field that may come as a list (checkboxes, JSON) or as one comma/space-separated string."""
    value = data.get(name, [])
    items = value if isinstance(value, (list, tuple)) else [value]
    out: list[str] = []
    for item in items:
        for part in re.split(r"[,;\s]+", str(item or "")):
            if part and part not in out:
                out.append(part)
    return out


@dataclass
class ValueForm:
    code: str = ""
    name_en: str = ""
    name_ru: str = ""
    description_en: str = ""
    description_ru: str = ""
    position: str = "0"
    parsed: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> ValueForm:
        return cls(**{f: _text(data, f) for f in cls.__dataclass_fields__ if f != "parsed" and f in data})

    def validate(self) -> Errors:
        errors: Errors = {}
        if not CODE_RE.match(self.code):
            _add(errors, "code", _("Use 2-40 lowercase Latin letters, digits, '-' or '_', starting with a letter."))
        for name in ("name_en", "name_ru"):
            value = getattr(self, name)
            if not value:
                _add(errors, name, _("This is required."))
            elif len(value) > 120:
                _add(errors, name, _("At most %(n)s characters.", n=120))
        for name in ("description_en", "description_ru"):
            if len(getattr(self, name)) > 500:
                _add(errors, name, _("At most %(n)s characters.", n=500))
        try:
            position = int(self.position or "0")
            if not 0 <= position <= 1000:
                raise ValueError
        except ValueError:
            _add(errors, "position", _("Enter a whole number from 0 to 1000."))
            position = 0
        self.parsed = {"code": self.code, "name_en": self.name_en, "name_ru": self.name_ru,
                       "description_en": self.description_en, "description_ru": self.description_ru, "position": position}
        return errors


@dataclass
class RecognitionForm:
    to: list[str] = field(default_factory=list)
    values: list[str] = field(default_factory=list)
    message: str = ""
    story: str = ""
    case_ref: str = ""
    visibility: str = "public"

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> RecognitionForm:
        return cls(to=_many(data, "to"), values=_many(data, "values"), message=_text(data, "message"),
                   story=_text(data, "story"), case_ref=_text(data, "case_ref"),
                   visibility=_text(data, "visibility") or "public")

    def validate(self) -> Errors:
        errors: Errors = {}
        if not self.to:
            _add(errors, "to", _("Name at least one colleague to thank."))
        elif len(self.to) > MAX_RECIPIENTS:
            _add(errors, "to", _("Thank at most %(n)s colleagues at once.", n=MAX_RECIPIENTS))
        if not self.values:
            _add(errors, "values", _("Choose at least one company value."))
        if not self.message:
            _add(errors, "message", _("Write a message."))
        elif len(self.message) > MESSAGE_MAX:
            _add(errors, "message", _("The message is too long: at most %(n)s characters.", n=MESSAGE_MAX))
        if len(self.story) > STORY_MAX:
            _add(errors, "story", _("At most %(n)s characters.", n=STORY_MAX))
        if len(self.case_ref) > CASE_REF_MAX:
            _add(errors, "case_ref", _("At most %(n)s characters.", n=CASE_REF_MAX))
        if self.visibility not in ("public", "private"):
            _add(errors, "visibility", _("Choose who may see it."))
        return errors


@dataclass
class RewardForm:
    to: str = ""
    kind: str = ""
    amount: str = ""
    reason: str = ""
    value: str = ""
    recognition_id: str = ""
    goal_id: str = ""
    parsed: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> RewardForm:
        return cls(**{f: _text(data, f) for f in cls.__dataclass_fields__ if f != "parsed"})

    def validate(self) -> Errors:
        errors: Errors = {}
        if not self.to:
            _add(errors, "to", _("Choose whom to reward."))
        if self.kind not in REWARD_KINDS:
            _add(errors, "kind", _("Choose a kind of reward."))
        amount = None
        if self.kind in MONEY_KINDS:
            try:
                amount = to_kopecks(self.amount)
                if amount <= 0 or amount > MAX_AMOUNT:
                    raise BadAmount(self.amount)
            except BadAmount:
                _add(errors, "amount", _("Enter an amount in roubles greater than zero, such as 5000 or 1 500,50."))
        elif self.amount and self.kind in REWARD_KINDS:
            _add(errors, "amount", _("This kind of reward has no amount; leave it empty."))
        if not self.reason:
            _add(errors, "reason", _("Say what the reward is for."))
        elif len(self.reason) > REASON_MAX:
            _add(errors, "reason", _("At most %(n)s characters.", n=REASON_MAX))
        ids = {}
        for name in ("recognition_id", "goal_id"):
            raw = getattr(self, name)
            if raw and not (raw.isdigit() and int(raw) < 2**31):
                _add(errors, name, _("This value is not valid."))
            ids[name] = int(raw) if raw.isdigit() and int(raw) < 2**31 else None
        if not self.value and not ids["recognition_id"] and not ids["goal_id"]:
            _add(errors, "value", _("Link the reward to a company value, a recognition or a goal."))
        self.parsed = {"kind": self.kind, "amount": amount, "reason": self.reason, "value": self.value, **ids}
        return errors


@dataclass
class BudgetForm:
    manager: str = ""
    starts_on: str = ""
    ends_on: str = ""
    amount: str = ""
    parsed: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> BudgetForm:
        return cls(**{f: _text(data, f) for f in cls.__dataclass_fields__ if f != "parsed"})

    def validate(self) -> Errors:
        errors: Errors = {}
        if not self.manager:
            _add(errors, "manager", _("Name the manager by email or employee number."))
        dates: dict[str, date | None] = {}
        for name in ("starts_on", "ends_on"):
            try:
                dates[name] = parse_date(getattr(self, name))
                if dates[name] is None:
                    _add(errors, name, _("This is required."))
            except BadDate:
                dates[name] = None
                _add(errors, name, _("Enter a date such as 2026-01-31."))
        if dates.get("starts_on") and dates.get("ends_on") and dates["ends_on"] < dates["starts_on"]:  # type: ignore[operator]
            _add(errors, "ends_on", _("The period must end on or after its first day."))
        amount = None
        try:
            amount = to_kopecks(self.amount)
            if amount < 0 or amount > MAX_AMOUNT:
                raise BadAmount(self.amount)
        except BadAmount:
            _add(errors, "amount", _("Enter an amount in roubles, such as 50000 or 12 500,50."))
        self.parsed = {**dates, "amount": amount}
        return errors


@dataclass
class PreferencesForm:
    ranking: list[str] = field(default_factory=list)
    note: str = ""

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> PreferencesForm:
        """Ranks come as `rank_<kind>` = 1..n (blank: not wanted), ordered by rank."""
        ranked: list[tuple[int, str]] = []
        bad: list[str] = []
        for kind in REWARD_KINDS:
            raw = _text(data, f"rank_{kind}")
            if not raw:
                continue
            if raw.isdigit() and 1 <= int(raw) <= len(REWARD_KINDS):
                ranked.append((int(raw), kind))
            else:
                bad.append(kind)
        form = cls(ranking=[k for _, k in sorted(ranked)], note=_text(data, "note"))
        form._bad = bad  # type: ignore[attr-defined]
        form._ranks = [r for r, _ in ranked]  # type: ignore[attr-defined]
        return form

    def validate(self) -> Errors:
        errors: Errors = {}
        if getattr(self, "_bad", []):
            _add(errors, "ranking", _("Ranks are whole numbers from 1 to %(n)s.", n=len(REWARD_KINDS)))
        ranks = getattr(self, "_ranks", [])
        if len(set(ranks)) != len(ranks):
            _add(errors, "ranking", _("Give each kind of reward a different rank."))
        if len(self.note) > NOTE_MAX:
            _add(errors, "note", _("At most %(n)s characters.", n=NOTE_MAX))
        return errors


@dataclass
class PeriodForm:
    """A report's period: both days inclusive; by default the last twelve months up to today."""

    since: str = ""
    until: str = ""
    parsed: dict[str, Any] = field(default_factory=dict)

    def validate(self, today: date) -> Errors:
        errors: Errors = {}
        dates: dict[str, date | None] = {}
        for name in ("since", "until"):
            try:
                dates[name] = parse_date(getattr(self, name))
            except BadDate:
                dates[name] = None
                _add(errors, name, _("Enter a date such as 2026-01-31."))
        until = dates["until"] or today
        since = dates["since"] or until - timedelta(days=364)
        if since > until:
            _add(errors, "until", _("The period must end on or after its first day."))
        self.parsed = {"since": since, "until": until}
        return errors
