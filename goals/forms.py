"""Typed input for goals and check-ins, validated into messages in the user's language.

SMART is checked letter by letter and each message names its letter, so a refused goal says
what is missing: S (specific), M (measurable), R (relevant) and T (time-bound) here, from the
form alone; A (achievable: proposed by the owner, agreed by the manager) is the status
workflow in the service. Checks that need the database (the parent's level, the cycle's
dates) run in the service and add to the same dict.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from servicechain.goals.tables import CONFIDENCES, DIRECTIONS, LEVELS
from servicechain.platform.i18n import gettext as _
from servicechain.platform.lib.dates import BadDate, parse_date

NUMBER_RE = re.compile(r"^[+-]?\d+(?:[.,]\d+)?$")
MAX_NUMBER = 1e15


class BadNumber(ValueError):
    pass


def parse_number(value: object) -> float | None:
    """None for empty input. Accepts "1 234,5" and "1234.5"; refuses anything else."""
    text = str(value or "").strip().replace("\u00a0", "").replace(" ", "")
    if not text:
        return None
    if not NUMBER_RE.match(text):
        raise BadNumber(text)
    number = float(text.replace(",", "."))
    if not math.isfinite(number) or abs(number) > MAX_NUMBER:
        raise BadNumber(text)
    return number


def _fields(cls) -> list[str]:
    return [f for f in cls.__dataclass_fields__ if f != "parsed"]


@dataclass
class GoalForm:
    level: str = "person"
    cycle: str = ""
    owner_person_id: str = ""
    owner_department_id: str = ""
    parent_id: str = ""
    standalone_reason: str = ""
    title: str = ""
    description: str = ""
    metric: str = ""
    unit: str = ""
    baseline: str = ""
    target: str = ""
    direction: str = "up"
    weight: str = "1"
    starts_on: str = ""
    deadline: str = ""
    parsed: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "GoalForm":
        return cls(**{k: str(data.get(k, getattr(cls, k)) or "").strip() for k in _fields(cls)})

    def validate(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}

        def add(name: str, message: str) -> None:
            errors.setdefault(name, []).append(message)

        if self.level not in LEVELS:
            add("level", _("Choose company, department or person."))
        # S: specific
        if len(self.title) < 5:
            add("title", _("S — specific: name the goal in a few words (at least 5 characters)."))
        elif len(self.title) > 200:
            add("title", _("The title is too long (at most 200 characters)."))
        if len(self.description) < 20:
            add("description", _("S — specific: describe what will be different and for whom (at least 20 characters)."))
        elif len(self.description) > 5000:
            add("description", _("The description is too long (at most 5000 characters)."))
        # M: measurable
        if not self.metric:
            add("metric", _("M — measurable: say what is measured, e.g. “first-reply time”."))
        elif len(self.metric) > 200:
            add("metric", _("The metric is too long (at most 200 characters)."))
        if not self.unit:
            add("unit", _("M — measurable: give the unit, e.g. “%”, “minutes” or “orders”."))
        elif len(self.unit) > 32:
            add("unit", _("The unit is too long (at most 32 characters)."))
        numbers: dict[str, float | None] = {}
        for name, missing in (
            ("baseline", _("M — measurable: enter the value the goal starts from.")),
            ("target", _("M — measurable: enter the target value.")),
        ):
            try:
                numbers[name] = parse_number(getattr(self, name))
            except BadNumber:
                add(name, _("Enter a number, e.g. 12 or 12,5."))
                continue
            if numbers[name] is None:
                add(name, missing)
        if self.direction not in DIRECTIONS:
            add("direction", _("M — measurable: choose whether the value should go up or down."))
        baseline, target = numbers.get("baseline"), numbers.get("target")
        if baseline is not None and target is not None and "direction" not in errors:
            if target == baseline:
                add("target", _("M — measurable: the target equals the baseline, so there is nothing to achieve."))
            elif self.direction == "up" and target < baseline:
                add("target", _("M — measurable: the value should go up, but the target is below the baseline."))
            elif self.direction == "down" and target > baseline:
                add("target", _("M — measurable: the value should go down, but the target is above the baseline."))
        weight = None
        if not self.weight.isdigit() or not 1 <= int(self.weight) <= 100:
            add("weight", _("Enter a whole weight from 1 to 100."))
        else:
            weight = int(self.weight)
        # R: relevant (that the parent exists and sits one level up is checked in the service)
        parent_id = int(self.parent_id) if self.parent_id.isdigit() else None
        if self.parent_id and parent_id is None:
            add("parent_id", _("Choose from the list."))
        if self.level == "company":
            parent_id = None
        elif parent_id is None and len(self.standalone_reason) < 10:
            add("parent_id", _("R — relevant: align the goal to a goal one level up, or explain below why it stands alone."))
            add("standalone_reason", _("R — relevant: a goal without a parent needs a reason of at least 10 characters."))
        # T: time-bound (that the dates lie inside the cycle is checked in the service)
        dates: dict[str, date | None] = {}
        for name in ("starts_on", "deadline"):
            try:
                dates[name] = parse_date(getattr(self, name))
            except BadDate:
                add(name, _("Write the date as 31.12.2025 or 2025-12-31."))
                continue
            if dates[name] is None:
                add(name, _("T — time-bound: enter the start date.") if name == "starts_on"
                    else _("T — time-bound: enter the deadline."))
        if dates.get("starts_on") and dates.get("deadline") and dates["deadline"] <= dates["starts_on"]:
            add("deadline", _("T — time-bound: the deadline must come after the start."))
        ids = {}
        for name in ("owner_person_id", "owner_department_id"):
            raw = getattr(self, name)
            if raw and not raw.isdigit():
                add(name, _("Choose from the list."))
            ids[name] = int(raw) if raw.isdigit() else None
        if self.level == "department" and not ids["owner_department_id"] and "owner_department_id" not in errors:
            add("owner_department_id", _("Choose the department that owns the goal."))
        self.parsed = {
            "level": self.level,
            "owner_person": ids["owner_person_id"] if self.level == "person" else None,
            "owner_department": ids["owner_department_id"] if self.level == "department" else None,
            "parent": parent_id,
            "standalone_reason": "" if parent_id else self.standalone_reason[:2000],
            "title": self.title,
            "description": self.description,
            "metric": self.metric,
            "unit": self.unit,
            "baseline": baseline,
            "target": target,
            "direction": self.direction,
            "weight": weight or 1,
            "starts_on": dates.get("starts_on"),
            "deadline": dates.get("deadline"),
        }
        return errors


@dataclass
class CheckInForm:
    value: str = ""
    confidence: str = ""
    comment: str = ""
    taken_on: str = ""
    parsed: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "CheckInForm":
        return cls(**{k: str(data.get(k, getattr(cls, k)) or "").strip() for k in _fields(cls)})

    def validate(self, today: date) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        value = None
        try:
            value = parse_number(self.value)
            if value is None:
                errors["value"] = [_("Enter the current value.")]
        except BadNumber:
            errors["value"] = [_("Enter a number, e.g. 12 or 12,5.")]
        if self.confidence not in CONFIDENCES:
            errors["confidence"] = [_("Choose on track, at risk or off track.")]
        if len(self.comment) > 2000:
            errors["comment"] = [_("The comment is too long (at most 2000 characters).")]
        taken_on = today
        try:
            taken_on = parse_date(self.taken_on) or today
        except BadDate:
            errors["taken_on"] = [_("Write the date as 31.12.2025 or 2025-12-31.")]
        if taken_on > today:
            errors["taken_on"] = [_("A check-in cannot be dated in the future.")]
        self.parsed = {"value": value, "confidence": self.confidence, "comment": self.comment, "taken_on": taken_on}
        return errors
