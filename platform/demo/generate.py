"""The demo company: ВкусДом, an online grocer, with people, departments and their history.

Everything is built in memory first by a list of steps (:data:`STEPS`), each a plain function
taking the shared :class:`DemoContext`; later domains (goals, recognition, pulses, customer
scores) add their own step to the list and their own tables with ``ctx.add_rows``. Each step
draws from its own random stream (``ctx.rng("name")``), so adding a step never changes what
the earlier ones produce. Nothing reads the wall clock or the global ``random``: the same seed,
``today``, size and months give identical data and the same checksum.

Then one write transaction loads every table through the bulk path (executemany on SQLite,
COPY on PostgreSQL), sets the ``demo`` system flag and writes a single audit entry with the
counts and the checksum.

Dates: an assignment covers ``valid_from`` up to, not including, ``valid_to`` (the people
service closes one assignment on the day the next begins); a leaver's last assignment ends on
their ``left_on``.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from servicechain.platform import audit, db
from servicechain.platform.demo import names
from servicechain.platform.demo.company import (
    COMPANY_EN,
    COMPANY_RU,
    EMAIL_DOMAIN,
    PROFILES,
    TREE,
    Node,
    Profile,
    team_name,
)
from servicechain.platform.demo.guard import DEMO_ACCOUNTS, DEMO_FLAG
from servicechain.platform.lib.dates import first_of_month, months_back
from servicechain.platform.lib.text import person_search_text

DEMO_PASSWORD = "servicechain-demo"
ADMIN, HR, CEO, MANAGER, EMPLOYEE = DEMO_ACCOUNTS
# manager@example.com heads this team; employee@example.com works in it.
DEMO_TEAM = "support.line1.team001"
BEGINNING = date.min  # a head timeline's first entry covers everything before it


class DemoRefused(Exception):
    """The database holds something other than the demo; nothing was changed."""


# --- the model built in memory ------------------------------------------------------------------


@dataclass(eq=False)
class Unit:
    """A department: a fixed node of the tree, or one of a leaf's teams."""

    code: str
    name_en: str
    name_ru: str
    parent: Unit | None
    head_position: tuple[str, str]
    head_role: str
    profile: Profile | None = None  # where staff work: leaves without teams, and teams
    staff: int = 0  # staff working here today, besides the head
    id: int = 0
    path: str = "/"
    depth: int = 0
    origin: date = BEGINNING  # when its first head started
    # (since, head): who headed it when; the first entry starts at BEGINNING.
    heads: list[tuple[date, Member]] = field(default_factory=list)
    stable: bool = False  # a demo account heads it: keep its head for the whole history
    division: str = ""
    children: list[Unit] = field(default_factory=list)

    def head_at(self, day: date) -> Member | None:
        current = None
        for since, head in self.heads:
            if since <= day:
                current = head
        return current


@dataclass(eq=False)
class Placement:
    unit: Unit
    start: date
    end: date | None  # None: still there
    as_head: bool = False


@dataclass(eq=False)
class Member:
    seq: int
    language: str
    female: bool
    first_name: str
    middle_name: str
    last_name: str
    position: str
    role: str
    wants_email: bool
    hired_on: date = BEGINNING
    left_on: date | None = None
    placements: list[Placement] = field(default_factory=list)
    account: str = ""  # one of DEMO_ACCOUNTS, or ""
    id: int = 0
    email: str | None = None

    @property
    def full_name(self) -> str:
        if self.language == "en":
            return f"{self.first_name} {self.last_name}"
        # As Russian HR systems write it: surname, first name, patronymic.
        return " ".join(filter(None, (self.last_name, self.first_name, self.middle_name)))


@dataclass
class TableData:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass
class DemoContext:
    """What the steps share. ``tables`` is filled in load order (parents before children)."""

    seed: int
    employees: int
    months: int
    today: date
    password_hash: str
    start: date = BEGINNING  # the first day of the history
    founded: date = BEGINNING
    units: list[Unit] = field(default_factory=list)
    people: list[Member] = field(default_factory=list)
    accounts: dict[str, Member] = field(default_factory=dict)
    tables: dict[str, TableData] = field(default_factory=dict)

    def rng(self, step: str) -> random.Random:
        return random.Random(f"servicechain-demo:{self.seed}:{step}")

    def unit(self, code: str) -> Unit:
        return next(u for u in self.units if u.code == code)

    def add_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        data = self.tables.setdefault(table, TableData(tuple(columns)))
        if data.columns != tuple(columns):
            raise ValueError(f"{table}: rows added with different columns")
        data.rows.extend(tuple(r) for r in rows)

    def new_member(self, rng: random.Random, *, language: str, female: bool, position: tuple[str, str],
                   role: str, wants_email: bool) -> Member:
        if language == "en":
            first = rng.choice(names.EN_FEMALE_FIRST if female else names.EN_MALE_FIRST)
            last, middle = rng.choice(names.EN_SURNAMES), ""
        else:
            first = rng.choice(names.FEMALE_FIRST if female else names.MALE_FIRST)
            last = rng.choice(names.SURNAMES)
            last = names.female_surname(last) if female else last
            middle = rng.choice(names.PATRONYMICS)[1 if female else 0]
        member = Member(
            seq=len(self.people), language=language, female=female, first_name=first, middle_name=middle,
            last_name=last, position=position[0] if language == "en" else position[1], role=role,
            wants_email=wants_email,
        )
        self.people.append(member)
        return member

    def checksum(self) -> str:
        """SHA-256 over every row of every table, except the password hash (argon2 salts it
        randomly; every demo person has the same one)."""
        digest = hashlib.sha256()
        for table, data in self.tables.items():
            masked = data.columns.index("password_hash") if "password_hash" in data.columns else -1
            digest.update(f"{table}:{','.join(data.columns)}\n".encode())
            for row in data.rows:
                if masked >= 0:
                    row = row[:masked] + row[masked + 1:]
                digest.update(repr(row).encode())
                digest.update(b"\n")
        return digest.hexdigest()

    def counts(self) -> dict[str, int]:
        return {table: len(data.rows) for table, data in self.tables.items()}


def months_before(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def random_day(rng: random.Random, first: date, last: date) -> date:
    """A day from ``first`` to ``last`` inclusive (``first`` when the range is empty)."""
    if last <= first:
        return first
    return first + timedelta(days=rng.randint(0, (last - first).days))


def stochastic_round(rng: random.Random, value: float) -> int:
    whole = math.floor(value)
    return whole + (1 if rng.random() < value - whole else 0)


# --- step 1: departments and today's headcount ----------------------------------------------


def _leaves(node: Node) -> list[Node]:
    return [node] if not node.children else [leaf for child in node.children for leaf in _leaves(child)]


def _all_nodes(node: Node) -> list[Node]:
    return [node] + [n for child in node.children for n in _all_nodes(child)]


def _share_out(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Largest remainder: whole numbers proportional to the weights, adding up to ``total``."""
    weight_sum = sum(weights.values())
    exact = {k: total * w / weight_sum for k, w in weights.items()}
    result = {k: math.floor(v) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: (result[k] - exact[k], k))[: total - sum(result.values())]:
        result[k] += 1
    return result


def plan_departments(ctx: DemoContext) -> None:
    """The fixed tree, and teams under the large leaves; how many staff work where today.

    ``employees`` is the headcount today. The fixed tree needs its heads, so the smallest
    company has a little over forty people whatever is asked.
    """
    nodes = _all_nodes(TREE)
    # Demo accounts need a place: the manager's team (with the employee) and the admin's desk.
    reserved = {"support.line1": 2, "it.infra": 1}
    remaining = max(0, ctx.employees - len(nodes) - sum(reserved.values()))
    allotted = _share_out(remaining, {leaf.code: leaf.share for leaf in _leaves(TREE)})
    for code, extra in reserved.items():
        allotted[code] += extra

    def add(node: Node, parent: Unit | None, division: str) -> None:
        depth = 0 if parent is None else parent.depth + 1
        head_role = "executive" if depth <= 1 else "manager"
        if node.code in ("hr", "hr.records"):
            head_role = "hr"
        unit = Unit(node.code, node.name_en, node.name_ru, parent, node.head, head_role, depth=depth,
                    division=division or node.code)
        ctx.units.append(unit)
        for child in node.children:
            add(child, unit, division or (child.code if depth == 0 else ""))
        if not node.profile:
            return
        profile = PROFILES[node.profile]
        count = allotted[node.code]
        split = profile.team_size and (count >= 1.5 * (profile.team_size + 1) or node.code == "support.line1")
        if not split:
            unit.profile, unit.staff = profile, count
            return
        teams = max(1, round(count / (profile.team_size + 1)))
        staff = _share_out(count - teams, {str(i): 1 for i in range(teams)})
        for index in range(1, teams + 1):
            en, ru = team_name(profile, node, index)
            ctx.units.append(Unit(
                f"{node.code}.{profile.team_kind}{index:03d}", en, ru, unit, profile.lead,
                profile.staff_role if profile.staff_role == "hr" else "manager", profile=profile,
                staff=staff[str(index - 1)], depth=depth + 1, division=unit.division,
            ))

    add(TREE, None, "")
    for unit in ctx.units:
        if unit.parent is not None:
            unit.parent.children.append(unit)
    # Parents before children, so ids, paths and head timelines can follow the tree down.
    for index, unit in enumerate(ctx.units, start=1):
        unit.id = index
        unit.path = (unit.parent.path if unit.parent else "/") + f"{index}/"
    for code in (TREE.code, "hr", DEMO_TEAM):
        ctx.unit(code).stable = True


# --- step 2: the people at work today --------------------------------------------------------


def _language(rng: random.Random, profile: Profile | None) -> str:
    return "en" if profile and rng.random() < profile.english else "ru"


def staff_company(ctx: DemoContext) -> None:
    """Every department's head and today's staff, with names, positions and roles; the five
    demo accounts take fixed places."""
    rng = ctx.rng("staff")
    for unit in ctx.units:
        profile = unit.profile or _division_profile(unit)
        head = ctx.new_member(rng, language=_language(rng, profile), female=rng.random() >= profile.male,
                              position=unit.head_position, role=unit.head_role, wants_email=True)
        unit.heads = [(BEGINNING, head)]
        head.placements.append(Placement(unit, BEGINNING, None, as_head=True))
        for _ in range(unit.staff):
            member = ctx.new_member(
                rng, language=_language(rng, unit.profile), female=rng.random() >= unit.profile.male,
                position=unit.profile.staff, role=unit.profile.staff_role,
                wants_email=rng.random() < unit.profile.email,
            )
            member.placements.append(Placement(unit, BEGINNING, None))
    _place_demo_accounts(ctx)


def _division_profile(unit: Unit) -> Profile:
    """Heads above the leaves look like the people of their division."""
    leaf = next((u for u in _units_below(unit) if u.profile), None)
    return leaf.profile if leaf and leaf.profile else PROFILES["office"]


def _units_below(unit: Unit) -> Iterable[Unit]:
    for child in unit.children:
        yield child
        yield from _units_below(child)


ACCOUNT_PEOPLE = {
    CEO: ("ru", False, "Андрей", "Викторович", "Соколов", None),
    HR: ("ru", True, "Алёна", "Сергеевна", "Фёдорова", None),
    MANAGER: ("ru", True, "Марина", "Игоревна", "Ковалёва", None),
    EMPLOYEE: ("ru", False, "Илья", "Андреевич", "Семёнов", None),
    ADMIN: ("en", False, "Daniel", "", "Brooks", ("Systems administrator", "Системный администратор")),
}
ACCOUNT_ROLES = {ADMIN: "admin", HR: "hr", CEO: "executive", MANAGER: "manager", EMPLOYEE: "employee"}


def _place_demo_accounts(ctx: DemoContext) -> None:
    def staff_of(code: str) -> Member:
        unit = ctx.unit(code)
        return next(m for m in ctx.people if not m.account and m.placements[0].unit is unit
                    and not m.placements[0].as_head)

    places = {
        CEO: ctx.unit(TREE.code).heads[0][1],
        HR: ctx.unit("hr").heads[0][1],
        MANAGER: ctx.unit(DEMO_TEAM).heads[0][1],
        EMPLOYEE: staff_of(DEMO_TEAM),
        ADMIN: staff_of("it.infra"),
    }
    for account, member in places.items():
        language, female, first, middle, last, position = ACCOUNT_PEOPLE[account]
        member.account, member.email, member.role, member.wants_email = account, account, ACCOUNT_ROLES[account], True
        member.language, member.female, member.first_name, member.middle_name, member.last_name = (
            language, female, first, middle, last)
        if position:
            member.position = position[0] if language == "en" else position[1]
        elif member.placements[0].as_head:
            head_position = member.placements[0].unit.head_position
            member.position = head_position[0] if language == "en" else head_position[1]
        ctx.accounts[account] = member


# --- step 3: history ----------------------------------------------------------------------------

# Yearly rates at which a head is replaced, by level (teams change leads most often).
HEAD_CHANGE_RATE = {1: 0.08, 2: 0.1}
TEAM_HEAD_CHANGE_RATE = 0.15
TRANSFER_RATE = 0.06  # staff moving between departments, per person-year


def add_history(ctx: DemoContext) -> None:
    """Hire dates, leavers, transfers and changes of head over ``months`` before ``today``.

    Heads' start dates are set top-down, so everyone's first manager was already there; a
    replaced head left on the day the next one started (promoted from the team or hired).
    """
    rng = ctx.rng("history")
    today, start = ctx.today, ctx.start
    window = (today - start).days
    years = ctx.months / 12
    staff_units = [u for u in ctx.units if u.profile]
    by_division: dict[str, list[Unit]] = {}
    for unit in staff_units:
        by_division.setdefault(unit.division, []).append(unit)

    staff = [m for m in ctx.people if not m.placements[0].as_head]
    for unit in ctx.units:  # parents first
        head = unit.heads[0][1]
        if unit.parent is None:
            unit.origin = ctx.founded
        else:
            first = unit.parent.origin + timedelta(days=30)
            unit.origin = random_day(rng, first, max(first, start - timedelta(days=90)))
        head.hired_on = unit.origin
        head.placements = [Placement(unit, unit.origin, None, as_head=True)]
        rate = TEAM_HEAD_CHANGE_RATE if unit.profile else HEAD_CHANGE_RATE.get(unit.depth, 0)
        if unit.stable or window < 60 or rng.random() >= 1 - math.exp(-rate * years):
            unit.heads = [(BEGINNING, head)]
            continue
        changed = random_day(rng, start + timedelta(days=15), today - timedelta(days=15))
        profile = unit.profile or _division_profile(unit)
        previous = ctx.new_member(rng, language=_language(rng, profile), female=rng.random() >= profile.male,
                                  position=unit.head_position, role=unit.head_role, wants_email=True)
        previous.hired_on, previous.left_on = unit.origin, changed
        previous.placements = [Placement(unit, unit.origin, changed, as_head=True)]
        if unit.profile and unit.staff and rng.random() < 0.6:
            # Promoted from the team: worked there before leading it.
            head.hired_on = random_day(rng, unit.origin + timedelta(days=1), changed - timedelta(days=60))
            head.placements = [Placement(unit, head.hired_on, changed), Placement(unit, changed, None, as_head=True)]
        else:
            head.hired_on = changed
            head.placements = [Placement(unit, changed, None, as_head=True)]
        unit.heads = [(BEGINNING, previous), (changed, head)]

    for member in staff:
        placement = member.placements[0]
        unit, profile = placement.unit, placement.unit.profile
        assert profile is not None
        long_serving = math.exp(-profile.turnover * years)  # share still here from before the window
        first_day = unit.origin + timedelta(days=1)
        if member.account or rng.random() < long_serving:
            member.hired_on = random_day(rng, first_day, max(first_day, start - timedelta(days=1)))
        else:
            member.hired_on = random_day(rng, max(first_day, start), today - timedelta(days=1))
        member.placements = [Placement(unit, member.hired_on, None)]
        if member.account or rng.random() >= 1 - math.exp(-TRANSFER_RATE * years):
            continue
        moved = random_day(rng, max(member.hired_on + timedelta(days=60), start), today - timedelta(days=14))
        if moved >= today - timedelta(days=14) or moved <= member.hired_on:
            continue
        same_division = [u for u in by_division[unit.division] if u is not unit]
        pool = same_division if same_division and rng.random() < 0.7 else staff_units
        source = rng.choice(pool)
        if source is unit or source.origin >= moved - timedelta(days=30):
            continue
        member.hired_on = max(member.hired_on, source.origin + timedelta(days=1))
        member.placements = [Placement(source, member.hired_on, moved), Placement(unit, moved, None)]

    for unit in staff_units:
        profile = unit.profile
        assert profile is not None
        leavers = stochastic_round(rng, max(unit.staff, 1) * profile.turnover * years)
        mean_tenure = 365 / profile.turnover
        for _ in range(leavers if window > 1 else 0):
            member = ctx.new_member(rng, language=_language(rng, profile), female=rng.random() >= profile.male,
                                    position=profile.staff, role=profile.staff_role,
                                    wants_email=rng.random() < profile.email)
            member.left_on = random_day(rng, start + timedelta(days=1), today)
            tenure = 14 + int(rng.expovariate(1 / mean_tenure))
            member.hired_on = max(unit.origin + timedelta(days=1), member.left_on - timedelta(days=tenure))
            member.placements = [Placement(unit, member.hired_on, member.left_on)]


# --- step 4: rows for departments, people and assignments ----------------------------------


DEPARTMENT_COLUMNS = ("id", "code", "name_en", "name_ru", "parent", "head", "path", "depth", "active")
PERSON_COLUMNS = (
    "id", "first_name", "middle_name", "last_name", "full_name", "search_name", "employee_number", "email",
    "position", "department", "manager", "language", "role", "hired_on", "left_on", "active", "password_hash",
    "created_at", "updated_at",
)
ASSIGNMENT_COLUMNS = ("id", "person", "department", "manager", "valid_from", "valid_to")


def _pieces(placement: Placement, person: Member) -> list[tuple[Unit, date, date | None, Member | None]]:
    """A placement cut wherever the manager changed: a head reports to the head above, staff to
    their own department's head."""
    unit, start, end = placement.unit, placement.start, placement.end
    timeline_unit = unit.parent if placement.as_head else unit
    if timeline_unit is None:
        return [(unit, start, end, None)]
    heads = timeline_unit.heads
    pieces = []
    for index, (since, head) in enumerate(heads):
        until = heads[index + 1][0] if index + 1 < len(heads) else None
        lo = max(start, since)
        hi = end if until is None else (until if end is None else min(end, until))
        if hi is not None and hi <= lo:
            continue
        pieces.append((unit, lo, hi, head if head is not person else None))
    return pieces


def _email_for(member: Member, taken: set[str], namesakes: dict[str, int]) -> str:
    """first.last@ for English speakers, i.last@ (then first.last@) for Russian ones; namesakes
    get a number."""
    if member.language == "en":
        base = f"{member.first_name}.{member.last_name}".lower()
        candidates = [base]
    else:
        first, last = names.transliterate(member.first_name), names.transliterate(member.last_name)
        base = f"{first}.{last}"
        candidates = [f"{first[0]}.{last}", base]
    for candidate in candidates:
        address = f"{candidate}@{EMAIL_DOMAIN}"
        if address not in taken:
            taken.add(address)
            return address
    number = namesakes.get(base, 1)
    while True:
        number += 1
        address = f"{base}{number}@{EMAIL_DOMAIN}"
        if address not in taken:
            namesakes[base] = number
            taken.add(address)
            return address


def _stamp(day: date) -> datetime:
    """09:00 in Moscow on that day: records created when the working day began."""
    return datetime(day.year, day.month, day.day, 6, 0, tzinfo=UTC)


def people_rows(ctx: DemoContext) -> None:
    """Employee numbers in order of hiring, e-mail addresses, assignment history, and the rows
    of ``department``, ``person`` and ``assignment``."""
    ordered = sorted(ctx.people, key=lambda m: (m.hired_on, m.seq))
    for number, member in enumerate(ordered, start=1):
        member.id = number
    taken = {m.email for m in ctx.people if m.account and m.email}
    namesakes: dict[str, int] = {}
    for member in ordered:
        if member.wants_email and not member.account:
            member.email = _email_for(member, taken, namesakes)

    history: dict[int, list[tuple[Unit, date, date | None, Member | None]]] = {}
    for member in ordered:
        merged: list[tuple[Unit, date, date | None, Member | None]] = []
        for placement in member.placements:
            for piece in _pieces(placement, member):
                if merged and merged[-1][0] is piece[0] and merged[-1][3] is piece[3] and merged[-1][2] == piece[1]:
                    merged[-1] = (piece[0], merged[-1][1], piece[2], piece[3])
                else:
                    merged.append(piece)
        history[member.id] = merged

    ctx.add_rows("department", DEPARTMENT_COLUMNS, (
        (u.id, u.code, u.name_en, u.name_ru, u.parent.id if u.parent else None, u.heads[-1][1].id, u.path, u.depth, True)
        for u in ctx.units
    ))

    # A manager's row goes in before their reports' (SQLite checks each row's references).
    level: dict[int, int] = {}

    def depth_of(member: Member) -> int:
        if member.id not in level:
            manager = history[member.id][-1][3]
            level[member.id] = 0 if manager is None else depth_of(manager) + 1
        return level[member.id]

    person_rows = []
    for member in sorted(ordered, key=lambda m: (depth_of(m), m.id)):
        unit, last_from, _, manager = history[member.id][-1]
        number = f"VD-{member.id:06d}"
        full_name = member.full_name
        changed = max(last_from, member.left_on or last_from)
        person_rows.append((
            member.id, member.first_name, member.middle_name, member.last_name, full_name,
            person_search_text(full_name, number, member.email), number, member.email, member.position,
            unit.id, manager.id if manager else None, member.language, member.role, member.hired_on,
            member.left_on, member.left_on is None, ctx.password_hash, _stamp(member.hired_on), _stamp(changed),
        ))
    ctx.add_rows("person", PERSON_COLUMNS, person_rows)

    assignment_rows = []
    for member in ordered:
        for unit, valid_from, valid_to, manager in history[member.id]:
            assignment_rows.append((len(assignment_rows) + 1, member.id, unit.id, manager.id if manager else None,
                                    valid_from, valid_to))
    ctx.add_rows("assignment", ASSIGNMENT_COLUMNS, assignment_rows)


# Each domain adds its step here (goals, recognition, pulses, customer scores…).
Step = Callable[[DemoContext], None]


def goals(ctx: DemoContext) -> None:
    from servicechain.goals.demo import plan_goals  # imported here: goals imports the platform

    plan_goals(ctx)


def authority(ctx: DemoContext) -> None:
    from servicechain.goals.authority.demo import plan_authority  # imported here: it imports the platform

    plan_authority(ctx)


def recognition(ctx: DemoContext) -> None:
    from servicechain.recognition.demo import plan_recognition  # imported here: recognition imports the platform

    plan_recognition(ctx)


def internal_service(ctx: DemoContext) -> None:
    from servicechain.internal_service.demo import plan_internal_service  # imported here: it imports the platform

    plan_internal_service(ctx)


def pulses(ctx: DemoContext) -> None:
    from servicechain.platform.surveys.demo import plan_pulses  # imported here: it imports the platform

    plan_pulses(ctx)


def customer_scores(ctx: DemoContext) -> None:
    from servicechain.platform.customers.demo import plan_customer_scores  # imported here: it imports the platform

    plan_customer_scores(ctx)


def quality(ctx: DemoContext) -> None:
    from servicechain.platform.customers.quality.demo import plan_quality  # imported here: it imports the platform

    plan_quality(ctx)


STEPS: list[Step] = [plan_departments, staff_company, add_history, people_rows, goals, authority, recognition, internal_service,
                     pulses, customer_scores, quality]


def build_demo(*, employees: int, months: int, seed: int, today: date, password_hash: str) -> DemoContext:
    """The whole demo company in memory, without touching the database."""
    if employees < 1:
        raise ValueError("employees must be positive")
    if months < 0:
        raise ValueError("months must not be negative")
    ctx = DemoContext(seed=seed, employees=employees, months=months, today=today, password_hash=password_hash)
    ctx.start = months_before(today, months)
    ctx.founded = months_before(ctx.start, 72)
    for step in STEPS:
        step(ctx)
    return ctx


# --- loading --------------------------------------------------------------------------------


async def _state() -> tuple[str, dict[str, Any] | None]:
    """"demo" (with the parameters it was loaded with), "empty", or "foreign"."""
    from servicechain.platform.tables import SystemFlag

    flag = await SystemFlag.select(SystemFlag.value).where(SystemFlag.key == DEMO_FLAG).first().run()
    if flag is not None:
        try:
            return "demo", json.loads(flag["value"] or "{}")
        except ValueError:
            return "demo", {}
    rows = await db.fetch("SELECT (SELECT COUNT(*) FROM person) AS people, (SELECT COUNT(*) FROM department) AS departments")
    if rows[0]["people"] or rows[0]["departments"]:
        return "foreign", {"people": rows[0]["people"], "departments": rows[0]["departments"]}
    return "empty", None


def _refusal(found: dict[str, Any]) -> DemoRefused:
    return DemoRefused(
        f"this database already holds {found['people']} people and {found['departments']} departments that are not "
        "the demo company; the demo loads only into an empty database or one it loaded before. Nothing was changed."
    )


async def wipe_all_tables() -> None:
    """Delete every row of every app's tables (not the migration records). Must run inside
    ``db.write()``."""
    from piccolo.conf.apps import Finder
    from piccolo.table import sort_table_classes

    tables = [t._meta.tablename for t in sort_table_classes(Finder().get_table_classes())]
    if db.engine().engine_type == "postgres":
        await db.fetch(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        return
    for table in reversed(tables):  # children before the tables they reference
        await db.fetch(f"DELETE FROM {table}")


async def _people_count() -> tuple[int, int]:
    rows = await db.fetch(
        "SELECT (SELECT COUNT(*) FROM person WHERE active = {}) AS active, (SELECT COUNT(*) FROM person) AS total", True
    )
    return rows[0]["active"], rows[0]["total"]


async def load_demo(*, employees: int, months: int, seed: int, today: date, reset: bool) -> str:
    """Load the demo company into an empty database, or keep the demo already there.

    ``reset`` deletes everything in a demo database first and loads afresh. A database with
    people or departments that the demo did not put there is refused with :class:`DemoRefused`
    and left untouched. Returns a summary for people to read.
    """
    from servicechain.platform.lib.passwords import hash_password
    from servicechain.platform.security import SYSTEM
    from servicechain.platform.tables import SystemFlag

    state, details = await _state()
    if state == "foreign":
        raise _refusal(details or {})
    if state == "demo" and not reset:
        return await _reuse_summary(details or {})

    ctx = build_demo(employees=employees, months=months, seed=seed, today=today,
                     password_hash=await hash_password(DEMO_PASSWORD))
    checksum, counts = ctx.checksum(), ctx.counts()
    parameters = {"employees": employees, "months": months, "seed": seed, "today": today.isoformat()}
    async with db.write():
        state, details = await _state()  # again, now that we hold the write lock
        if state == "foreign":
            raise _refusal(details or {})
        if state == "demo" and not reset:
            return await _reuse_summary(details or {})
        if reset:
            await wipe_all_tables()
        for table, data in ctx.tables.items():
            await db.bulk_insert(table, data.columns, data.rows)
            await db.reset_sequence(table)
        active = sum(1 for m in ctx.people if m.left_on is None)
        flag = {**parameters, "checksum": checksum, "people": active, "left": len(ctx.people) - active}
        await SystemFlag.insert(SystemFlag(key=DEMO_FLAG, value=json.dumps(flag, sort_keys=True))).run()
        await audit.record(
            SYSTEM, "demo.load", object_type="demo", object_id=DEMO_FLAG,
            summary=f"Demo company {COMPANY_EN} loaded: {active} people at work, {len(ctx.people) - active} who left",
            counts=counts, checksum=checksum, reset=reset, **parameters,
        )
    await db.analyze()  # a bulk load: the planner's statistics, before anyone reads
    # The dashboards and the monthly report read stored snapshots: the demo leaves last month's
    # and this month's, as the daily job would, so they show the company at once.
    from servicechain.platform.analytics import snapshot

    for key in months_back(today, 2):
        await snapshot.refresh_if_data(first_of_month(key))
    return _summary(ctx, checksum, reset)


def _accounts_text(rows: Sequence[tuple[str, str, str, str]]) -> str:
    lines = [f"Demo accounts (password: {DEMO_PASSWORD}):"]
    for email, role, name, position in rows:
        lines.append(f"  {email:<22} {role:<10} {name}, {position}")
    lines.append("Every other demo person signs in with the same password, by e-mail or employee number (VD-000123).")
    return "\n".join(lines)


def _summary(ctx: DemoContext, checksum: str, reset: bool) -> str:
    active = sum(1 for m in ctx.people if m.left_on is None)
    counts = ctx.counts()
    history = (f"{ctx.months} months of history up to {ctx.today.isoformat()}" if ctx.months
               else f"no history before {ctx.today.isoformat()}")
    head = (
        f"{'Rebuilt' if reset else 'Loaded'} the demo company {COMPANY_RU} ({COMPANY_EN}): {active} people at work, "
        f"{len(ctx.people) - active} who left, {counts['department']} departments, {counts['assignment']} assignment "
        f"records; {history} (seed {ctx.seed}, checksum {checksum[:12]})."
    )
    accounts = [(a, m.role, m.full_name, m.position) for a, m in ctx.accounts.items()]
    order = {a: i for i, a in enumerate(DEMO_ACCOUNTS)}
    return head + "\n" + _accounts_text(sorted(accounts, key=lambda r: order[r[0]]))


async def _reuse_summary(parameters: dict[str, Any]) -> str:
    from servicechain.platform.people.tables import Person

    active, total = await _people_count()
    rows = await Person.select(Person.email, Person.role, Person.full_name, Person.position).where(
        Person.email.is_in(list(DEMO_ACCOUNTS))
    ).run()
    order = {a: i for i, a in enumerate(DEMO_ACCOUNTS)}
    accounts = sorted(((r["email"], r["role"], r["full_name"], r["position"]) for r in rows), key=lambda r: order[r[0]])
    loaded = ", ".join(f"{k} {parameters[k]}" for k in ("employees", "months", "seed", "today") if k in parameters)
    return (
        f"This database already holds the demo company ({active} people at work, {total - active} who left; "
        f"loaded with {loaded or 'unknown parameters'}). Nothing was changed; use --reset to rebuild it.\n"
        + _accounts_text(accounts)
    )
