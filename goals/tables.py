"""Cycles, goals and their check-ins.

A goal's ``progress`` is stored: for a goal with children it is their weighted average, for a
leaf the distance its last check-in covered from baseline to target. Each check-in (and each
change of a child) recomputes the goal and the goals above it, so the cascade tree of a
20,000-person company reads a handful of rows instead of rolling up the whole cycle per page.
"""

from piccolo.columns import Date, DoublePrecision, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from servicechain.platform.people.tables import Department, Person

LEVELS = ("company", "department", "person")
STATUSES = ("draft", "proposed", "agreed", "achieved", "missed", "cancelled")
OPEN_STATUSES = ("draft", "proposed", "agreed")
DIRECTIONS = ("up", "down")
CONFIDENCES = ("on_track", "at_risk", "off_track")


class Cycle(Table, tablename="cycle"):
    """A planning period, a calendar quarter in the company's time zone by default.
    ``ends_on`` is the last day of the cycle (inclusive)."""

    code = Varchar(length=32, unique=True)  # "2026-Q4"
    starts_on = Date(index=True)
    ends_on = Date()


class Goal(Table, tablename="goal"):
    cycle = ForeignKey(references=Cycle, index=True)
    level = Varchar(length=16, index=True)
    owner_person = ForeignKey(references=Person, null=True, default=None, index=True)
    owner_department = ForeignKey(references=Department, null=True, default=None, index=True)
    parent = ForeignKey(references="self", null=True, default=None, index=True)
    standalone_reason = Text(default="")
    title = Varchar(length=200)
    description = Text(default="")
    metric = Varchar(length=200, default="")
    unit = Varchar(length=32, default="")
    baseline = DoublePrecision(null=True, default=None)
    target = DoublePrecision(null=True, default=None)
    direction = Varchar(length=4, default="up")
    weight = Integer(default=1)
    status = Varchar(length=16, default="draft", index=True)
    starts_on = Date()
    deadline = Date()
    # The last check-in, kept here so lists, reminders and the tree need no join.
    current_value = DoublePrecision(null=True, default=None)
    confidence = Varchar(length=16, default="")
    last_check_in_on = Date(null=True, default=None)
    progress = DoublePrecision(default=0.0)
    # Set on the copy made when an unfinished goal is carried into the next cycle.
    carried_from = Integer(null=True, default=None, index=True)
    created_by = ForeignKey(references=Person, null=True, default=None)
    agreed_by = ForeignKey(references=Person, null=True, default=None)
    agreed_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class CheckIn(Table, tablename="goal_check_in"):
    goal = ForeignKey(references=Goal, index=True)
    value = DoublePrecision()
    confidence = Varchar(length=16)
    comment = Text(default="")
    taken_on = Date()
    author = ForeignKey(references=Person, null=True, default=None)
    created_at = Timestamptz()
