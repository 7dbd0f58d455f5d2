"""Goals: cycles, SMART goals that cascade, check-ins, progress and its roll-up, carry-over.

Permissions come from ``security.goal_for`` / ``security.goal_viewer``: the owner drafts,
edits and proposes; an approver (a manager whose reach covers the owner, the head of a
department above, or executives/HR/admins for department and company goals) agrees, closes
and cancels. Every change writes one audit entry in the same transaction. Progress is stored
on the goal and recomputed up the chain whenever a check-in or a child changes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from markupsafe import Markup

from servicechain.goals.forms import CheckInForm, GoalForm
from servicechain.goals.tables import OPEN_STATUSES, CheckIn, Cycle, Goal
from servicechain.platform import audit, db
from servicechain.platform.analytics import charts
from servicechain.platform.config import get_settings
from servicechain.platform.i18n import format_date
from servicechain.platform.i18n import gettext as _
from servicechain.platform.i18n import lazy_gettext
from servicechain.platform.lib.ids import MAX_ID
from servicechain.platform.people.service import department_name
from servicechain.platform.people.tables import Department, Person
from servicechain.platform.security import (
    Actor,
    Forbidden,
    GoalViewer,
    NotFound,
    can,
    goal_access,
    goal_for,
    goal_viewer,
    require,
    utcnow,
)
from servicechain.platform.web import DomainError, FormInvalid

# A goal is at risk when it is this many percentage points behind where elapsed time says it
# should be, or when its last check-in was not "on track".
AT_RISK_MARGIN = 15.0
CHECK_IN_EVERY = timedelta(days=14)
# A department goal aligns to a company goal or to a goal of a department above its own; a
# person's goal to a department goal.
PARENT_LEVELS = {"department": ("company", "department"), "person": ("department",)}
STATUS_LABELS = {
    "draft": lazy_gettext("Draft"),
    "proposed": lazy_gettext("Proposed"),
    "agreed": lazy_gettext("Agreed"),
    "achieved": lazy_gettext("Achieved"),
    "missed": lazy_gettext("Missed"),
    "cancelled": lazy_gettext("Cancelled"),
}
CONFIDENCE_LABELS = {
    "on_track": lazy_gettext("On track"),
    "at_risk": lazy_gettext("At risk"),
    "off_track": lazy_gettext("Off track"),
}
LEVEL_LABELS = {
    "company": lazy_gettext("Company"),
    "department": lazy_gettext("Department"),
    "person": lazy_gettext("Person"),
}
# to-status: (from-statuses, who: "own" | "approve" | "either")
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "proposed": (("draft",), "own"),
    "agreed": (("proposed",), "approve"),
    "draft": (("proposed",), "either"),
    "achieved": (("agreed",), "approve"),
    "missed": (("agreed",), "approve"),
    "cancelled": (("draft", "proposed", "agreed"), "approve"),
}
AUDITED = ("level", "owner_person", "owner_department", "parent", "standalone_reason", "title", "description", "metric",
           "unit", "baseline", "target", "direction", "weight", "status", "starts_on", "deadline")


def today() -> date:
    return utcnow().astimezone(get_settings().tz).date()


# --- cycles ---------------------------------------------------------------------------------------


def quarter_of(on: date) -> tuple[str, date, date]:
    """The calendar quarter containing ``on``: its code, first and last day."""
    q = (on.month - 1) // 3
    start = date(on.year, q * 3 + 1, 1)
    end = (date(on.year + 1, 1, 1) if q == 3 else date(on.year, q * 3 + 4, 1)) - timedelta(days=1)
    return f"{on.year}-Q{q + 1}", start, end


def cycle_label(cycle: dict[str, Any] | str) -> str:
    code = cycle if isinstance(cycle, str) else cycle["code"]
    year, _sep, quarter = code.partition("-Q")
    if quarter.isdigit():
        return _("Q%(quarter)s %(year)s", quarter=quarter, year=year)
    return code


async def ensure_cycle(code: str) -> dict[str, Any]:
    """The cycle with this quarter code, created if missing. Runs inside ``db.write()``."""
    row = await Cycle.select().where(Cycle.code == code).first().run()
    if row:
        return row
    year, _sep, quarter = code.partition("-Q")
    if not (year.isdigit() and quarter in ("1", "2", "3", "4")):
        raise ValueError(code)
    _code, start, end = quarter_of(date(int(year), (int(quarter) - 1) * 3 + 1, 1))
    await Cycle.insert(Cycle(code=code, starts_on=start, ends_on=end)).run()
    return await Cycle.select().where(Cycle.code == code).first().run()


async def cycle_choices(on: date | None = None) -> list[dict[str, Any]]:
    """Cycles a goal can be set in: those not yet over, plus this quarter and the next even if
    nobody has used them yet."""
    on = on or today()
    codes = {quarter_of(on)[0], quarter_of(quarter_of(on)[2] + timedelta(days=1))[0]}
    rows = await Cycle.select().where(Cycle.ends_on >= on).run()
    codes.update(r["code"] for r in rows)
    return [{"code": c, "label": cycle_label(c)} for c in sorted(codes)]


async def cycles_for_browsing() -> list[dict[str, Any]]:
    """Every cycle for the menu, in the order of ``choose_cycle``'s rule: latest start first."""
    rows = await Cycle.select().order_by(Cycle.starts_on, Cycle.id, ascending=False).run()
    for r in rows:
        r["label"] = cycle_label(r)
    return rows


async def pick_cycle_by_code(code: str) -> dict[str, Any] | None:
    return await Cycle.select().where(Cycle.code == code).first().run()


def _latest(cycles: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    return max(cycles, key=lambda c: (c["starts_on"], c["id"]), default=None)


def choose_cycle(cycles: list[dict[str, Any]], cycle_id: int | None, on: date | None = None) -> dict[str, Any] | None:
    """The "current" cycle among ``cycles`` (in any order), by the one rule every page uses:
    the cycle asked for if it is there; else, of those running on ``on`` (today), the one
    that started last; else the one that started last of all (a future one included). Cycles
    starting the same day: the one made last (highest id). So when cycles overlap (a period
    begun inside a quarter), the one begun later is current on every page."""
    on = on or today()
    return (next((c for c in cycles if cycle_id and c["id"] == cycle_id), None)
            or _latest(c for c in cycles if c["starts_on"] <= on <= c["ends_on"])
            or _latest(cycles))


async def pick_cycle(cycle_id: int | None) -> dict[str, Any] | None:
    """``choose_cycle`` over every cycle (a few dozen rows: one query, as before)."""
    return choose_cycle(await Cycle.select().run(), cycle_id)


# --- the maths ------------------------------------------------------------------------------------


def progress_of(baseline: float | None, target: float | None, value: float | None) -> float:
    """How far ``value`` has come from baseline to target, 0–100 %. Works for both
    directions: when the target is below the baseline, going down is progress."""
    if value is None or baseline is None or target is None or target == baseline:
        return 0.0
    share = (value - baseline) / (target - baseline) * 100.0
    return max(0.0, min(100.0, share))


def expected_progress(starts_on: date, deadline: date, on: date) -> float:
    """Where the goal should be by ``on`` if progress were even over its time."""
    if on <= starts_on:
        return 0.0
    if on >= deadline:
        return 100.0
    return (on - starts_on).days / (deadline - starts_on).days * 100.0


def is_at_risk(goal: dict[str, Any], on: date) -> bool:
    if goal["status"] != "agreed":
        return False
    behind = expected_progress(goal["starts_on"], goal["deadline"], on) - (goal["progress"] or 0.0) > AT_RISK_MARGIN
    return behind or goal.get("confidence") in ("at_risk", "off_track")


def rolled_up(children: list[tuple[float, int]]) -> float:
    """Weighted average of (progress, weight) pairs."""
    total = sum(w for _p, w in children)
    return sum(p * w for p, w in children) / total if total else 0.0


def _progress_sql(node: str, child: str) -> str:
    """SQL for one goal's progress as ``rolled_up``/``progress_of`` compute it: the weighted
    average of its children that are not cancelled (a weight of 0 or none counts as 1), else
    how far its last value came from baseline to target, 0-100. ``child`` is the expression of a
    child's progress (the roll-up substitutes the new progress of the child it came up from)."""
    clamp = ("GREATEST(0.0, LEAST(100.0, {}))" if db.engine().engine_type == "postgres" else "MAX(0.0, MIN(100.0, {}))")
    weight = "(CASE WHEN c.weight IS NULL OR c.weight = 0 THEN 1 ELSE c.weight END)"
    leaf = (f"(CASE WHEN {node}.current_value IS NULL OR {node}.baseline IS NULL OR {node}.target IS NULL"
            f" OR {node}.target = {node}.baseline THEN 0.0 ELSE "
            + clamp.format(f"({node}.current_value - {node}.baseline) / ({node}.target - {node}.baseline) * 100.0")
            + " END)")
    return (f"COALESCE((SELECT CASE WHEN SUM({weight}) = 0 THEN 0.0 ELSE SUM({child} * {weight}) * 1.0 / SUM({weight}) END"
            f" FROM goal c WHERE c.parent = {node}.id AND c.status != 'cancelled'), {leaf})")


def _roll_up_sql() -> str:
    """One statement that recomputes a goal and every goal above it: a recursive walk up the
    chain carries each level's new progress into its parent's average, and one UPDATE writes
    them all. A goal whose children are all cancelled falls back to its own value (the
    subquery's SUM over no rows is NULL)."""
    up = ("WITH RECURSIVE up(id, parent, progress, depth) AS ("
          f" SELECT g.id, g.parent, {_progress_sql('g', 'COALESCE(c.progress, 0.0)')}, 0 FROM goal g WHERE g.id = {{}}"
          " UNION ALL"
          f" SELECT g.id, g.parent, {_progress_sql('g', 'CASE WHEN c.id = up.id THEN up.progress ELSE COALESCE(c.progress, 0.0) END')},"
          " up.depth + 1 FROM goal g JOIN up ON g.id = up.parent WHERE up.depth < 100)")
    return up + " UPDATE goal SET progress = up.progress FROM up WHERE goal.id = up.id RETURNING goal.id, goal.progress"


# Lock the goals about to be recomputed and every goal above them, deepest in the tree first
# (then by id), before the roll-up reads their children. Every writer that rolls up takes its
# locks in this one order (up the tree), so two check-ins in one branch queue instead of
# deadlocking, and the second then reads the first's committed progress; a goal moved to
# another parent locks both lines in the same order. NO KEY UPDATE, the lock our UPDATEs take
# anyway: FOR UPDATE also conflicts with the key-share lock a check-in's insert takes on its
# goal, and under the load test a manager's check-in on a goal and reports' check-ins below it
# deadlocked. (SQLite's one writer serializes them anyway.)
LOCK_CHAINS_SQL = (
    "WITH RECURSIVE chain(start, id, parent, depth) AS ("
    " SELECT id, id, parent, 0 FROM goal WHERE id IN ({ids})"
    " UNION ALL SELECT c.start, g.id, g.parent, c.depth + 1 FROM goal g JOIN chain c ON g.id = c.parent WHERE c.depth < 100),"
    " levels AS (SELECT id, MAX(depth) OVER (PARTITION BY start) - depth AS level FROM chain)"
    " SELECT g.id FROM goal g JOIN (SELECT id, MAX(level) AS level FROM levels GROUP BY id) l ON l.id = g.id"
    " ORDER BY l.level DESC, g.id FOR NO KEY UPDATE OF g"
)


async def recompute_progress(goal_id: int | None, *more: int | None) -> dict[int, float]:
    """Recompute a goal's progress and every goal above it (and of ``more`` goals: a goal's
    old parent after it moved); returns {goal id: new progress}. Runs inside ``db.write()``:
    one statement per line on SQLite, one lock for all lines and those statements on
    PostgreSQL, however long the lines (it was three statements per level)."""
    starts = list(dict.fromkeys(int(g) for g in (goal_id, *more) if g))
    if not starts:
        return {}
    result: dict[int, float] = {}
    for _attempt in range(5):
        locked: list[int] = []
        if db.engine().engine_type == "postgres":
            locked = [r["id"] for r in await db.fetch(LOCK_CHAINS_SQL.replace("{ids}", db.placeholders(len(starts))), *starts)]
        result = {}
        for start in starts:
            result.update({r["id"]: r["progress"] for r in await db.fetch(_roll_up_sql(), start)})
        # The lines are read again by the updates; if a goal above was re-parented between the
        # lock and the updates, lock the new lines and recompute them.
        if not locked or set(locked) == set(result):
            break
    return result


# --- SMART --------------------------------------------------------------------------------------


@dataclass
class Letter:
    letter: str
    name: str
    ok: bool
    why: str


def smart_of(goal: dict[str, Any], parent: dict[str, Any] | None = None) -> list[Letter]:
    """The goal's SMART check as shown on its page. S, M, R and T are enforced when it is
    saved, so they hold for every stored goal; A holds once the manager agreed it."""
    agreed = goal["status"] in ("agreed", "achieved", "missed")
    if agreed:
        a_why = _("Agreed by the manager.")
    elif goal["status"] == "proposed":
        a_why = _("Proposed by the owner; waiting for the manager to agree.")
    elif goal["status"] == "cancelled":
        a_why = _("Cancelled.")
    else:
        a_why = _("A draft: the owner has not proposed it yet.")
    if goal["level"] == "company":
        r_why = _("A company goal: the top of the cascade.")
    elif goal["parent"] and parent and parent["level"] == goal["level"]:
        r_why = _("Aligned to a goal of a department above.")
    elif goal["parent"]:
        r_why = _("Aligned to a goal one level up.")
    else:
        r_why = _("Stands alone: %(reason)s", reason=goal["standalone_reason"])
    return [
        Letter("S", _("Specific"), True, _("Has a title and a description.")),
        Letter("M", _("Measurable"), True, _("%(metric)s, from %(baseline)s to %(target)s %(unit)s.", metric=goal["metric"],
               baseline=_num(goal["baseline"]), target=_num(goal["target"]), unit=goal["unit"])),
        Letter("A", _("Achievable"), agreed, a_why),
        Letter("R", _("Relevant"), True, r_why),
        Letter("T", _("Time-bound"), True, _("From %(start)s to %(deadline)s.", start=goal["starts_on"].isoformat(),
               deadline=goal["deadline"].isoformat())),
    ]


def _num(value: float | None) -> str:
    from servicechain.platform.i18n import format_number

    if value is None:
        return "—"
    return format_number(value, 0 if float(value).is_integer() else 2)


async def _check_against_database(actor: Actor, viewer: GoalViewer, form: GoalForm, errors: dict[str, list[str]],
                                  goal_id: int | None) -> dict[str, Any] | None:
    """R and T need the parent and the cycle; ownership needs the owner. Adds to ``errors``;
    returns the cycle's dates (or None)."""
    values = form.parsed
    cycle = None
    code = form.cycle
    try:
        year, _sep, quarter = code.partition("-Q")
        if not (year.isdigit() and quarter in ("1", "2", "3", "4")):
            raise ValueError(code)
        _code, start, end = quarter_of(date(int(year), (int(quarter) - 1) * 3 + 1, 1))
        cycle = {"code": code, "starts_on": start, "ends_on": end}
    except ValueError:
        errors.setdefault("cycle", []).append(_("Choose a cycle from the list."))
    if cycle:
        for name in ("starts_on", "deadline"):
            day = values.get(name)
            if day and not cycle["starts_on"] <= day <= cycle["ends_on"]:
                errors.setdefault(name, []).append(_(
                    "T — time-bound: the date must lie inside the cycle, %(start)s to %(end)s.",
                    start=cycle["starts_on"].isoformat(), end=cycle["ends_on"].isoformat()))
    level = values["level"]
    owner_path = None
    if level == "company" and not viewer.org:
        errors.setdefault("level", []).append(_("Only executives, HR and administrators set company goals."))
    if level == "department" and values["owner_department"]:
        dept = await Department.select(Department.path, Department.active).where(
            Department.id == values["owner_department"]).first().run()
        if dept is None or not dept["active"]:
            errors.setdefault("owner_department_id", []).append(_("This department does not exist."))
        else:
            owner_path = dept["path"]
            roles = viewer.roles({"level": "department"}, dept["path"])
            if not (roles["own"] or roles["approve"]):
                errors.setdefault("owner_department_id", []).append(
                    _("Only the department's head, the heads above it, executives, HR and administrators set its goals."))
    if level == "person":
        owner = values["owner_person"] or actor.person_id
        values["owner_person"] = owner
        person = await Person.select(Person.active).where(Person.id == owner).first().run()
        if person is None or not person["active"]:
            errors.setdefault("owner_person_id", []).append(_("This person does not exist or has left."))
        elif owner != actor.person_id and not viewer.roles({"level": "person", "owner_person": owner})["approve"]:
            errors.setdefault("owner_person_id", []).append(_("You may set goals only for yourself and the people you manage."))
    if values["parent"]:
        parent = await Goal.select(Goal.id, Goal.level, Goal.status, Goal.owner_person, Goal.owner_department,
                                   Goal.cycle.code.as_alias("cycle_code")).where(Goal.id == values["parent"]).first().run()
        if parent is not None:
            parent_path = await _department_path(parent["owner_department"])
            if not viewer.roles(parent, parent_path)["see"]:
                parent = None
        if parent is None or parent["id"] == goal_id:
            errors.setdefault("parent_id", []).append(_("R — relevant: this parent goal does not exist."))
        elif parent["level"] not in PARENT_LEVELS.get(level, ()):
            errors.setdefault("parent_id", []).append(
                _("R — relevant: a department goal is aligned to a company goal or to a goal of a department above it, a person's goal to a department goal."))
        elif level == "department" and parent["level"] == "department" and owner_path and not (
                parent_path and owner_path.startswith(parent_path) and owner_path != parent_path):
            errors.setdefault("parent_id", []).append(
                _("R — relevant: a department goal can be aligned only to a goal of a department above it."))
        elif parent["status"] == "cancelled":
            errors.setdefault("parent_id", []).append(_("R — relevant: the parent goal was cancelled."))
        elif cycle and parent["cycle_code"] != cycle["code"]:
            errors.setdefault("parent_id", []).append(_("R — relevant: the parent goal belongs to another cycle."))
    return cycle


async def _department_path(department_id: int | None) -> str | None:
    if not department_id:
        return None
    row = await Department.select(Department.path).where(Department.id == department_id).first().run()
    return row["path"] if row else None


def _auditable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in AUDITED}


async def create_goal(actor: Actor, data: dict[str, Any]) -> int:
    """Anyone sets goals for themselves; managers for the people in their reach; department
    heads (and the heads above, executives, HR, admins) for departments; executives, HR and
    admins for the company. A new goal is a draft. Audited."""
    require(actor, "goals.view")
    viewer = await goal_viewer(actor)
    form = GoalForm.from_data(data)
    errors = form.validate()
    if not errors.get("level"):
        await _check_against_database(actor, viewer, form, errors, None)
    if errors:
        raise FormInvalid(errors)
    values = form.parsed
    now = utcnow()
    async with db.write():
        cycle = await ensure_cycle(form.cycle)
        goal = Goal(**values, cycle=cycle["id"], status="draft", created_by=actor.person_id, created_at=now, updated_at=now)
        await goal.save().run()
        await recompute_progress(values["parent"])
        await audit.record(actor, "goal.create", object_type="goal", object_id=goal.id, summary=values["title"],
                           after=_auditable({**values, "status": "draft"}), cycle=cycle["code"])
    return goal.id


def check_editable(goal: dict[str, Any]) -> None:
    if goal["status"] not in ("draft", "proposed"):
        raise DomainError(_("Only drafts and proposed goals can be changed; cancel this one and set a new goal."), 409)


async def update_goal(actor: Actor, goal_id: int, data: dict[str, Any]) -> None:
    """Drafts and proposals can be edited by their owner and approver; an agreed goal is fixed
    (cancel it and set another). A proposal the owner edits goes back to draft. Audited."""
    before = await goal_for(actor, goal_id, write=True)
    check_editable(before)
    viewer = await goal_viewer(actor)
    form = GoalForm.from_data({**data, "level": before["level"]})
    errors = form.validate()
    await _check_against_database(actor, viewer, form, errors, goal_id)
    values = form.parsed
    if before["level"] == "person" and values["owner_person"] != before["owner_person"]:
        errors.setdefault("owner_person_id", []).append(_("A goal cannot be handed to another person; set a new goal for them."))
    if errors:
        raise FormInvalid(errors)
    status = "draft" if before["_roles"]["own"] and not before["_roles"]["approve"] else before["status"]
    async with db.write():
        cycle = await ensure_cycle(form.cycle)
        await Goal.update({**{getattr(Goal, k): v for k, v in values.items()}, Goal.cycle: cycle["id"], Goal.status: status,
                           Goal.updated_at: utcnow()}).where(Goal.id == goal_id).run()
        # One call for both lines (the new parent's and, when it moved, the old one's), so their
        # goals are locked in one order.
        await recompute_progress(goal_id, before["parent"] if before["parent"] != values["parent"] else None)
        await audit.record(actor, "goal.update", object_type="goal", object_id=goal_id, summary=values["title"],
                           before=_auditable(before), after=_auditable({**values, "status": status}))


def may_move(roles: dict[str, bool], status: str, to: str) -> bool:
    sources, who = TRANSITIONS[to]
    if status not in sources:
        return False
    if to == "cancelled" and status == "draft" and roles["own"]:
        return True  # owners may throw away their own drafts
    return roles["own"] if who == "own" else roles["approve"] if who == "approve" else roles["own"] or roles["approve"]


async def change_status(actor: Actor, goal_id: int, to: str) -> str:
    """The A of SMART: the owner proposes; the approver agrees, returns it to draft, marks it
    achieved or missed, or cancels it. Returns the new status. Audited."""
    goal = await goal_for(actor, goal_id)
    roles = goal["_roles"]
    if to not in TRANSITIONS:
        raise DomainError(_("Unknown status."), 422)
    sources, who = TRANSITIONS[to]
    if goal["status"] not in sources:
        raise DomainError(_("A goal that is “%(status)s” cannot become “%(to)s”.", status=str(STATUS_LABELS[goal["status"]]),
                            to=str(STATUS_LABELS[to])), 409)
    if not may_move(roles, goal["status"], to):
        if not (roles["own"] or roles["approve"]):
            raise Forbidden()
        if who == "own":
            raise DomainError(_("A — achievable: only the goal's owner proposes it."), 403)
        raise DomainError(_("A — achievable: only the owner's manager agrees, closes or cancels this goal; the owner cannot agree their own goal."), 403)
    changes: dict[Any, Any] = {Goal.status: to, Goal.updated_at: utcnow()}
    if to == "agreed":
        changes.update({Goal.agreed_by: actor.person_id, Goal.agreed_at: utcnow()})
    async with db.write():
        # The status is checked again under the lock: two people pressing at once change it once.
        current = await Goal.select(Goal.status).where(Goal.id == goal_id).first().run()
        if current["status"] != goal["status"]:
            raise DomainError(_("Someone changed this goal a moment ago; reload the page."), 409)
        await Goal.update(changes).where(Goal.id == goal_id).run()
        if to == "cancelled" or goal["status"] == "cancelled":
            await recompute_progress(goal["parent"])
        await audit.record(actor, f"goal.{to}", object_type="goal", object_id=goal_id, summary=goal["title"],
                           before={"status": goal["status"]}, after={"status": to})
    return to


async def add_check_in(actor: Actor, goal_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """The owner or the approver records where an agreed goal stands. Updates the goal's
    progress and everything above it. Audited. Returns the goal as it stands after it, with
    ``check_in_id`` (what ``check_ins_fragment`` shows)."""
    goal = await goal_for(actor, goal_id, write=True)
    if goal["status"] != "agreed":
        raise DomainError(_("Check-ins are for agreed goals; this one is “%(status)s”.", status=str(STATUS_LABELS[goal["status"]])), 409)
    form = CheckInForm.from_data(data)
    errors = form.validate(today())
    if not errors and form.parsed["taken_on"] < goal["starts_on"]:
        errors["taken_on"] = [_("The date is before the goal starts (%(start)s).", start=goal["starts_on"].isoformat())]
    if errors:
        raise FormInvalid(errors)
    values = form.parsed
    # Everything above was read before the transaction; inside, only writes: on SQLite the
    # transaction holds the one writer across each statement's trip through the event loop.
    async with db.write():
        check_in = CheckIn(goal=goal_id, value=values["value"], confidence=values["confidence"], comment=values["comment"],
                           taken_on=values["taken_on"], author=actor.person_id, created_at=utcnow())
        await check_in.save().run()
        # The goal shows its latest check-in by date, which need not be this one (a late entry).
        latest = await db.fetch(
            "UPDATE goal SET current_value = l.value, confidence = l.confidence, last_check_in_on = l.taken_on, updated_at = {}"
            " FROM (SELECT value, confidence, taken_on FROM goal_check_in WHERE goal = {} ORDER BY taken_on DESC, id DESC"
            " LIMIT 1) l WHERE goal.id = {} AND goal.status = 'agreed' RETURNING goal.current_value, goal.confidence",
            utcnow(), goal_id, goal_id)
        if not latest:  # closed or cancelled since it was read above: the check-in is undone
            raise DomainError(_("Someone changed this goal a moment ago; reload the page."), 409)
        progress = await recompute_progress(goal_id)
        await audit.record(actor, "goal.check_in", object_type="goal", object_id=goal_id, summary=goal["title"],
                           after={k: values[k] for k in ("value", "confidence", "taken_on")}, check_in=check_in.id)
    return {**goal, **latest[0], "progress": progress[goal_id], "check_in_id": check_in.id}


async def carry_over(actor: Actor, goal_id: int) -> int:
    """An unfinished goal continues in the next cycle as a new draft that starts where the old
    one stands (baseline = last value). Its parent is the parent's own carried copy when there
    is one; otherwise the copy stands alone with a reason saying where it came from. Audited."""
    goal = await goal_for(actor, goal_id, write=True)
    async with db.write():
        copy_id, next_code = await _carry(actor, goal)
        await audit.record(actor, "goal.carry_over", object_type="goal", object_id=copy_id, summary=goal["title"],
                           carried_from=goal_id, cycle=next_code)
    return copy_id


async def carry_over_mine(actor: Actor, cycle_id: int) -> int:
    """Every unfinished goal of the actor's own (and of the departments they head) in the
    cycle goes on into the next one, parents before children so the copies stay aligned.
    Goals already carried or already at their target are left alone. One audit entry with the
    count. Returns how many were carried."""
    rows = [r for r in await my_goals(actor, cycle_id) if r["status"] in OPEN_STATUSES]
    rows.sort(key=lambda r: (("company", "department", "person").index(r["level"]), r["id"]))
    carried: list[tuple[int, int]] = []
    async with db.write():
        for row in rows:
            goal = await Goal.select().where(Goal.id == row["id"]).first().run()
            try:
                copy_id, next_code = await _carry(actor, goal)
            except DomainError:
                continue  # already carried, or nothing left to do: not an error for a bulk carry
            carried.append((row["id"], copy_id))
        if carried:
            await audit.record(actor, "goal.carry_over_bulk", object_type="cycle", object_id=cycle_id,
                               summary=f"{len(carried)} goals carried over", count=len(carried),
                               goals=[{"from": old, "to": new} for old, new in carried])
    return len(carried)


async def _carry(actor: Actor, goal: dict[str, Any]) -> tuple[int, str]:
    """The copy of one goal in the next cycle. Runs inside ``db.write()``: the "carried
    already" check and the insert happen under one lock, so a double click makes one copy."""
    if goal["status"] not in OPEN_STATUSES:
        raise DomainError(_("Only unfinished goals (draft, proposed or agreed) can be carried over."), 409)
    if await Goal.exists().where(Goal.carried_from == goal["id"]).run():
        raise DomainError(_("This goal was already carried into the next cycle."), 409)
    baseline = goal["current_value"] if goal["current_value"] is not None else goal["baseline"]
    if baseline == goal["target"]:
        raise DomainError(_("This goal already reached its target; mark it achieved instead."), 409)
    cycle = await Cycle.select().where(Cycle.id == goal["cycle"]).first().run()
    next_code, start, end = quarter_of(cycle["ends_on"] + timedelta(days=1))
    parent_copy = None
    if goal["parent"]:
        parent_copy = await Goal.select(Goal.id).where((Goal.carried_from == goal["parent"]) & (Goal.status != "cancelled")).first().run()
    reason = "" if goal["level"] == "company" or parent_copy else _("Carried over from %(cycle)s.", cycle=cycle_label(cycle))
    now = utcnow()
    new_cycle = await ensure_cycle(next_code)
    copy = Goal(
        cycle=new_cycle["id"], level=goal["level"], owner_person=goal["owner_person"], owner_department=goal["owner_department"],
        parent=parent_copy["id"] if parent_copy else None, standalone_reason=reason, title=goal["title"],
        description=goal["description"], metric=goal["metric"], unit=goal["unit"], baseline=baseline, target=goal["target"],
        direction=goal["direction"], weight=goal["weight"], status="draft", starts_on=start, deadline=end,
        carried_from=goal["id"], created_by=actor.person_id, created_at=now, updated_at=now,
    )
    await copy.save().run()
    await recompute_progress(copy.parent)
    return copy.id, next_code


# --- reading --------------------------------------------------------------------------------------

SELECT_GOALS = (
    "SELECT g.id, g.cycle, g.level, g.owner_person, g.owner_department, g.parent, g.title, g.metric, g.unit, g.baseline,"
    " g.target, g.direction, g.weight, g.status, g.starts_on, g.deadline, g.current_value, g.confidence,"
    " g.last_check_in_on, g.progress, p.full_name AS owner_name, d.name_en AS d_name_en, d.name_ru AS d_name_ru,"
    " d.path AS department_path,"
    " (SELECT COUNT(*) FROM goal c WHERE c.parent = g.id) AS children"
    " FROM goal g LEFT JOIN person p ON p.id = g.owner_person LEFT JOIN department d ON d.id = g.owner_department"
)


def _decorate(rows: list[dict[str, Any]], on: date) -> list[dict[str, Any]]:
    for row in rows:
        row["department_name"] = department_name(row, "d_") if row.get("d_name_en") or row.get("d_name_ru") else ""
        row["expected"] = expected_progress(row["starts_on"], row["deadline"], on)
        row["at_risk"] = is_at_risk(row, on)
        row["overdue"] = check_in_overdue(row, on)
    return rows


def check_in_overdue(goal: dict[str, Any], on: date) -> bool:
    if goal["status"] != "agreed":
        return False
    since = goal["last_check_in_on"] or goal["starts_on"]
    return on - since >= CHECK_IN_EVERY


# The goals a person owns: their own and those of the departments they head, found through the
# owner indexes. Written as "g.owner_person = {} OR g.owner_department IN (...)" next to the
# cycle or the status, SQLite walks every goal of the cycle (or every agreed goal) instead.
OWNED_GOALS = ("SELECT o.id FROM goal o WHERE o.owner_person = {}"
               " UNION ALL SELECT o.id FROM goal o JOIN department d ON d.id = o.owner_department WHERE d.head = {}")


async def my_goals(actor: Actor, cycle_id: int) -> list[dict[str, Any]]:
    """The actor's own goals, and the goals of the departments they head."""
    require(actor, "goals.view")
    rows = await db.fetch(
        SELECT_GOALS + f" WHERE g.id IN ({OWNED_GOALS}) AND g.cycle = {{}} ORDER BY g.level, g.deadline, g.id",
        actor.person_id, actor.person_id, cycle_id)
    return _decorate(rows, today())


async def tree_departments(actor: Actor, also: int | None = None) -> list[dict[str, Any]]:
    """Departments of the upper levels to open the cascade at (a menu of 1,400 teams helps nobody)."""
    from servicechain.platform.people.service import department_tree

    return await department_tree(actor, max_depth=2, also=also, with_counts=False)


TEAM_LIMIT = 300


async def team_goals(actor: Actor, cycle_id: int, department_id: int | None = None) -> tuple[list[dict[str, Any]], bool]:
    """People's goals, at-risk ones first: of a department and the departments below it when
    ``department_id`` is given (HR and executives open any department; others see only the
    people in their reach there), else of the people the actor manages (direct reports for
    those who see everyone). Returns (rows, more): at most TEAM_LIMIT rows."""
    require(actor, "goals.view")
    viewer = await goal_viewer(actor)
    args: list[Any] = []
    if department_id is not None:
        from servicechain.platform.security import department_for

        department = await department_for(actor, department_id)
        where = ("g.owner_person IN (SELECT p2.id FROM person p2 JOIN department d2 ON d2.id = p2.department"
                 " WHERE d2.path LIKE {})")
        args = [department["path"] + "%"]
        if viewer.reach is not None:
            if not viewer.reach:
                return [], False
            where += f" AND g.owner_person IN ({', '.join(str(int(i)) for i in sorted(viewer.reach))})"
    elif viewer.reach is None:
        where, args = "g.owner_person IN (SELECT id FROM person WHERE manager = {})", [actor.person_id]
    elif viewer.reach:
        ids = sorted(viewer.reach)
        where = f"g.owner_person IN ({', '.join(str(int(i)) for i in ids)})"
    else:
        return [], False
    rows = await db.fetch(SELECT_GOALS + f" WHERE g.cycle = {{}} AND g.level = 'person' AND {where}"
                          f" ORDER BY p.search_name, g.id LIMIT {TEAM_LIMIT + 1}", cycle_id, *args)
    more = len(rows) > TEAM_LIMIT
    rows = _decorate(rows[:TEAM_LIMIT], today())
    rows.sort(key=lambda r: (not r["at_risk"], r["status"] != "proposed"))
    return rows, more


async def team_departments(actor: Actor, also: int | None = None) -> list[dict[str, Any]]:
    """Departments to open the team view at: every one's upper levels for those who see
    everyone, the ones they head (and below) for department heads, none for the rest."""
    from servicechain.platform.people.service import department_tree

    viewer = await goal_viewer(actor)
    if not (viewer.view_all or viewer.headed):
        return []
    rows = await department_tree(actor, max_depth=3, also=also, with_counts=False)
    if viewer.view_all:
        return rows
    return [r for r in rows if any(r["path"].startswith(h) for h in viewer.headed)]


async def tree_level(actor: Actor, cycle_id: int, *, parent_id: int | None = None,
                     department_id: int | None = None) -> list[dict[str, Any]]:
    """One level of the cascade: the company's goals (or a department's) for the first level,
    a goal's children after that (404, as ``goal_for``, below a goal the actor may not see).
    Only goals the actor may see; children are loaded on demand. The actor's reach is asked
    once, only about the owners of the goal opened, of these goals and of their children."""
    require(actor, "goals.view")
    parent = None
    if parent_id is not None:
        # The parent comes with its children, and is judged with the one viewer that judges
        # them (``goal_for`` would ask for the actor's departments and reach a second time).
        rows = await db.fetch(SELECT_GOALS + " WHERE (g.parent = {} AND g.status != 'cancelled') OR g.id = {}"
                              " ORDER BY g.level, g.title, g.id", parent_id, parent_id) if parent_id <= MAX_ID else []
        parent = next((r for r in rows if r["id"] == parent_id), None)
        if parent is None:
            raise NotFound()
        rows = [r for r in rows if r is not parent]
    elif department_id is not None:
        rows = await db.fetch(SELECT_GOALS + " WHERE g.cycle = {} AND g.level = 'department' AND g.owner_department = {}"
                              " AND g.status != 'cancelled' ORDER BY g.title, g.id", cycle_id, department_id)
    else:
        rows = await db.fetch(SELECT_GOALS + " WHERE g.cycle = {} AND g.level = 'company' AND g.status != 'cancelled'"
                              " ORDER BY g.title, g.id", cycle_id)
    children = await _children_of(rows)
    viewer = await goal_viewer(actor, among=[r["owner_person"] for r in rows + children + ([parent] if parent else [])])
    if parent is not None:
        goal_access(viewer, parent, parent["department_path"])  # 404 below a goal they may not see
    rows = [r for r in rows if viewer.roles(r, r["department_path"])["see"]]
    _count_visible_children(viewer, rows, children)
    return _decorate(rows, today())


async def _children_of(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The goals aligned to ``rows`` that are not cancelled, with what deciding who sees them takes."""
    ids = sorted({r["id"] for r in rows})
    if not ids:
        return []
    return await db.fetch(
        "SELECT c.parent, c.level, c.owner_person, c.owner_department, d.path AS department_path FROM goal c"
        f" LEFT JOIN department d ON d.id = c.owner_department WHERE c.parent IN ({db.placeholders(len(ids))})"
        " AND c.status != 'cancelled'", *ids)


def _count_visible_children(viewer: GoalViewer, rows: list[dict[str, Any]], children: list[dict[str, Any]]) -> None:
    """Set each row's ``children`` to the goals aligned to it that the viewer may open (not
    cancelled), so "show 4 goals below" opens four goals, not the team's private ones too."""
    by_id = {r["id"]: r for r in rows}
    for row in rows:
        row["children"] = 0
    for child in children:
        if child["parent"] in by_id and viewer.roles(child, child["department_path"])["see"]:
            by_id[child["parent"]]["children"] += 1


# A goal's page in one row: the goal, its owner's name, its department, its cycle, its parent
# (to name and link it) and whether it was carried over already.
GOAL_PAGE_SQL = (
    "SELECT g.*, p.full_name AS owner_name, d.name_en AS d_name_en, d.name_ru AS d_name_ru, d.path AS department_path,"
    " cy.code AS cycle_code, cy.starts_on AS cycle_starts_on, cy.ends_on AS cycle_ends_on,"
    " pg.title AS parent_title, pg.level AS parent_level, pg.owner_person AS parent_owner_person,"
    " pg.owner_department AS parent_owner_department, pd.path AS parent_department_path,"
    " EXISTS (SELECT 1 FROM goal x WHERE x.carried_from = g.id) AS carried"
    " FROM goal g JOIN cycle cy ON cy.id = g.cycle LEFT JOIN person p ON p.id = g.owner_person"
    " LEFT JOIN department d ON d.id = g.owner_department LEFT JOIN goal pg ON pg.id = g.parent"
    " LEFT JOIN department pd ON pd.id = pg.owner_department WHERE g.id = {}"
)
CHECK_INS_SQL = (
    "SELECT c.id, c.value, c.confidence, c.comment, c.taken_on, p.full_name AS author_name FROM goal_check_in c"
    " LEFT JOIN person p ON p.id = c.author WHERE c.goal = {} ORDER BY c.taken_on DESC, c.id DESC"
)


async def goal_page(actor: Actor, goal_id: int) -> dict[str, Any]:
    """A goal's page for those who may see it (404 for others, as ``goal_for``): the goal, its
    SMART check, its check-ins and chart, the moves the actor may make. A few queries whatever
    the size of the company: the actor's reach is asked only about the goal's owner, its
    parent's and its children's."""
    require(actor, "goals.view")
    rows = await db.fetch(GOAL_PAGE_SQL, goal_id) if goal_id <= MAX_ID else []
    if not rows:
        raise NotFound()
    row = rows[0]
    # A person's goal has no goals aligned to it (only department and company goals do).
    children = [] if row["level"] == "person" else await _children_of([row])
    viewer = await goal_viewer(actor, among=[row["owner_person"], row["parent_owner_person"],
                                             *(c["owner_person"] for c in children)])
    roles = goal_access(viewer, row, row["department_path"])
    on = today()
    full = _decorate([{**row, "_roles": roles}], on)[0]
    _count_visible_children(viewer, [full], children)
    parent = None
    if row["parent"] and row["parent_level"]:
        parent = {"id": row["parent"], "title": row["parent_title"], "level": row["parent_level"],
                  "owner_person": row["parent_owner_person"], "owner_department": row["parent_owner_department"]}
        if not viewer.roles(parent, row["parent_department_path"])["see"]:
            parent = None  # a private goal above is not linked nor named
    check_ins = await db.fetch(CHECK_INS_SQL, goal_id)
    cycle = {"id": row["cycle"], "code": row["cycle_code"], "starts_on": row["cycle_starts_on"],
             "ends_on": row["cycle_ends_on"]}
    moves = [to for to in TRANSITIONS if may_move(roles, row["status"], to)]
    return {
        "goal": full, "check_ins": check_ins, "parent": parent, "cycle": {**cycle, "label": cycle_label(cycle)},
        "smart": smart_of(full, parent), "moves": moves, "roles": roles,
        "may_edit": (roles["own"] or roles["approve"]) and row["status"] in ("draft", "proposed"),
        "may_check_in": (roles["own"] or roles["approve"]) and row["status"] == "agreed",
        "may_carry": (roles["own"] or roles["approve"]) and row["status"] in OPEN_STATUSES and not row["carried"],
        "chart": chart(full, check_ins),
    }


async def check_ins_fragment(goal: dict[str, Any]) -> dict[str, Any]:
    """What the progress section (``goals/_check_ins.html``) needs right after a check-in by
    someone who may make one (``goal`` as ``add_check_in`` returned it): the goal's new progress and
    its check-ins, without the rest of the page (one query, after the write)."""
    check_ins = await db.fetch(CHECK_INS_SQL, goal["id"])
    full = {**goal, "expected": expected_progress(goal["starts_on"], goal["deadline"], today())}
    return {"goal": full, "check_ins": check_ins, "may_check_in": True, "chart": chart(full, check_ins)}


async def overdue_check_ins(actor: Actor, limit: int = 10) -> list[dict[str, Any]]:
    """Agreed goals the actor owns (their own, or their department's as its head) with no
    check-in for two weeks: reminders for the home page."""
    if not actor.is_person or not can(actor, "goals.view"):
        return []
    cutoff = today() - CHECK_IN_EVERY
    rows = await db.fetch(
        "SELECT g.id, g.title, g.last_check_in_on, g.starts_on, g.deadline FROM goal g"
        f" WHERE g.id IN ({OWNED_GOALS}) AND g.status = 'agreed' AND COALESCE(g.last_check_in_on, g.starts_on) <= {{}}"
        f" ORDER BY COALESCE(g.last_check_in_on, g.starts_on), g.id LIMIT {int(limit)}",
        actor.person_id, actor.person_id, cutoff,
    )
    return rows


async def team_overdue_check_ins(actor: Actor, limit: int = 10) -> tuple[list[dict[str, Any]], int]:
    """Agreed goals of the actor's direct reports with no check-in for two weeks, the longest
    waiting first: a manager's reminders on the home page. Returns (the first ``limit``, how
    many in all)."""
    if not actor.is_person or not can(actor, "goals.view"):
        return [], 0
    cutoff = today() - CHECK_IN_EVERY
    # Driven from the reports (the manager index), not from every agreed goal (the status index):
    # CROSS JOIN keeps SQLite's loops in that order (PostgreSQL reads it as a plain join), and
    # "IS TRUE" keeps it off the index on active, which matches nearly everyone.
    where = (" FROM person p CROSS JOIN goal g WHERE g.owner_person = p.id AND p.manager = {} AND p.active IS TRUE"
             " AND g.status = 'agreed' AND g.level = 'person' AND COALESCE(g.last_check_in_on, g.starts_on) <= {}")
    rows = await db.fetch(
        "SELECT g.id, g.title, g.last_check_in_on, g.starts_on, p.full_name AS owner_name" + where
        + f" ORDER BY COALESCE(g.last_check_in_on, g.starts_on), g.id LIMIT {int(limit)}",
        actor.person_id, cutoff)
    if len(rows) < limit:
        return rows, len(rows)
    total = await db.fetch("SELECT COUNT(*) AS n" + where, actor.person_id, cutoff)
    return rows, total[0]["n"]


async def home_reminders(actor: Actor) -> dict[str, Any]:
    """What the home page shows about goals: the actor's own check-ins due, and their team's."""
    team, team_total = await team_overdue_check_ins(actor)
    return {"goal_reminders": await overdue_check_ins(actor), "team_goal_reminders": team,
            "team_goal_reminders_total": team_total}


async def parent_choices(actor: Actor, level: str, cycle_code: str, also: int | None = None,
                         owner_department: int | None = None) -> list[dict[str, Any]]:
    """Goals the actor may see in the cycle that a new goal of ``level`` can align to: for a
    person's goal, department goals; for a department goal, company goals and the goals of
    departments above ``owner_department`` (of any department while none is chosen)."""
    parent_levels = PARENT_LEVELS.get(level)
    if not parent_levels:
        return []
    viewer = await goal_viewer(actor)
    rows = await db.fetch(
        "SELECT g.id, g.title, g.level, g.owner_person, g.owner_department, d.path AS department_path,"
        " d.name_en AS d_name_en, d.name_ru AS d_name_ru FROM goal g JOIN cycle c ON c.id = g.cycle"
        " LEFT JOIN department d ON d.id = g.owner_department"
        f" WHERE g.level IN ({db.placeholders(len(parent_levels))}) AND c.code = {{}} AND g.status != 'cancelled'"
        " ORDER BY g.level, g.title LIMIT 1000",
        *parent_levels, cycle_code)
    owner_path = await _department_path(owner_department) if level == "department" else None
    rows = [r for r in rows if (viewer.roles(r, r["department_path"])["see"] or r["id"] == also) and not (
        level == "department" and r["level"] == "department" and owner_path
        and not (owner_path.startswith(r["department_path"] or "-") and owner_path != r["department_path"]))]
    rows.sort(key=lambda r: (r["level"] != "company", r["title"]))
    for r in rows:
        r["label"] = r["title"] + (f" — {department_name(r, 'd_')}" if r["level"] == "department" else "")
    return rows[:500]


async def department_choices(actor: Actor) -> list[dict[str, Any]]:
    """Departments whose goals the actor may set."""
    viewer = await goal_viewer(actor)
    if viewer.org:
        rows = await Department.select(Department.id, Department.name_en, Department.name_ru, Department.path).where(
            Department.active == True).order_by(Department.path).limit(2000).run()  # noqa: E712
    elif viewer.headed:
        clauses = " OR ".join(["path LIKE {}"] * len(viewer.headed))
        rows = await db.fetch(f"SELECT id, name_en, name_ru, path FROM department WHERE active = {{}} AND ({clauses}) ORDER BY path",
                              True, *[h + "%" for h in viewer.headed])
    else:
        rows = []
    return [{"id": r["id"], "name": department_name(r)} for r in rows]


async def person_choices(actor: Actor) -> list[dict[str, Any]]:
    """People whose goals the actor may set: themselves, and their direct reports."""
    rows = await Person.select(Person.id, Person.full_name).where(
        ((Person.id == actor.person_id) | (Person.manager == actor.person_id)) & (Person.active == True)  # noqa: E712
    ).order_by(Person.search_name).run()
    return rows


# --- the check-in chart -----------------------------------------------------------------------------

# The check-in dots by confidence: green, amber, red (they differ in grey too: light, middle, dark).
CONFIDENCE_COLOURS = {"on_track": "#2e7d32", "at_risk": "#c77700", "off_track": "#b3261e"}


def chart(goal: dict[str, Any], check_ins: list[dict[str, Any]]) -> Markup:
    """The check-ins over the goal's time against the baseline, the target and the straight line
    of expected progress, drawn by analytics/charts (the one chart code of the pages and PDF)."""
    points = sorted(check_ins, key=lambda c: (c["taken_on"], c["id"]))
    return charts.progress_chart(
        [(c["taken_on"], c["value"], c["confidence"]) for c in points],
        start=goal["starts_on"], end=goal["deadline"], baseline=goal["baseline"], target=goal["target"], today=today(),
        title=_("Check-ins over the goal's time, with the baseline, the target and the expected path"),
        today_label=_("today"), baseline_label=_("Baseline"), target_label=_("Target"),
        expected_label=_("Expected path"), point_colours=CONFIDENCE_COLOURS,
        point_labels=[f"{format_date(c['taken_on'])}: {_num(c['value'])} ({CONFIDENCE_LABELS[c['confidence']]})"
                      for c in points],
    )


def labels() -> dict[str, Any]:
    return {"status": {k: str(v) for k, v in STATUS_LABELS.items()},
            "confidence": {k: str(v) for k, v in CONFIDENCE_LABELS.items()},
            "level": {k: str(v) for k, v in LEVEL_LABELS.items()}}
