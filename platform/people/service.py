"""People and departments: the directory, edits with history, and the department tree.

Permissions: reading goes through ``security`` loaders and reach; changes need
``people.edit`` / ``departments.edit`` (HR and admins). Every change writes an audit entry
with before and after values in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from servicechain.platform import audit, db
from servicechain.platform.config import get_settings
from servicechain.platform.i18n import current_language
from servicechain.platform.i18n import gettext as _
from servicechain.platform.lib.text import escape_like, fold, person_search_text
from servicechain.platform.people.forms import DepartmentForm, PersonForm
from servicechain.platform.people.tables import Assignment, Department, Person
from servicechain.platform.security import (
    Actor,
    Forbidden,
    assignable_roles,
    can,
    department_for,
    people_in_reach,
    person_for,
    require,
    utcnow,
)
from servicechain.platform.web import FormInvalid

PAGE_SIZE = 25
MAX_PAGE = 1_000_000
AUDITED_PERSON_FIELDS = (
    "full_name", "employee_number", "email", "position", "department", "manager",
    "language", "role", "hired_on", "left_on", "active",
)


def today() -> date:
    return utcnow().astimezone(get_settings().tz).date()


def department_name(row: dict[str, Any], prefix: str = "") -> str:
    """A department's name in the reader's language (row keys may carry a join prefix)."""
    ru, en = row.get(prefix + "name_ru"), row.get(prefix + "name_en")
    return (ru if current_language() == "ru" else en) or ru or en or ""


# --- the directory -----------------------------------------------------------------------------


@dataclass
class Page:
    items: list[dict[str, Any]]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


async def search_people(
    actor: Actor,
    *,
    q: str = "",
    department_id: int | None = None,
    role: str = "",
    status: str = "active",
    page: int = 1,
    per_page: int = PAGE_SIZE,
) -> Page:
    """The directory. Everyone sees active colleagues; people who have left only HR,
    executives and admins, who alone may filter by role. A department filter includes
    everything below it."""
    require(actor, "people.directory")
    where = ["1 = 1"]
    args: list[Any] = []
    if status not in ("active", "left", "all") or not can(actor, "people.view_all"):
        status = "active"
    if status == "active":
        where.append("p.active = {}")
        args.append(True)
    elif status == "left":
        where.append("p.active = {}")
        args.append(False)
    for word in fold(q).split()[:5]:
        where.append("p.search_name LIKE {} ESCAPE '\\'")
        args.append("%" + escape_like(word) + "%")
    if department_id:
        dept = await Department.select(Department.path).where(Department.id == department_id).first().run()
        if dept:
            where.append("d.path LIKE {}")
            args.append(dept["path"] + "%")
    # Roles are employment details (see may_see_person_details): filtering by one would list,
    # say, every administrator to anyone, so only those who see everyone may filter by role.
    if role and can(actor, "people.view_all"):
        where.append("p.role = {}")
        args.append(role)
    clause = " AND ".join(where)
    page = min(max(1, page), MAX_PAGE)  # a page far past the end is empty, not an OFFSET overflow
    base = f" FROM person p LEFT JOIN department d ON d.id = p.department WHERE {clause}"
    # Without a department filter the count needs no join, and reads only the index.
    count_from = base if department_id else f" FROM person p WHERE {clause}"
    total = (await db.fetch("SELECT COUNT(*) AS n" + count_from, *args))[0]["n"]
    rows = await db.fetch(
        "SELECT p.id, p.full_name, p.employee_number, p.email, p.position, p.role, p.active,"
        " p.department, d.name_en AS d_name_en, d.name_ru AS d_name_ru"
        + base + f" ORDER BY p.search_name, p.id LIMIT {int(per_page)} OFFSET {int((page - 1) * per_page)}",
        *args,
    )
    for row in rows:
        row["department_name"] = department_name(row, "d_")
    return Page(items=rows, page=page, per_page=per_page, total=total)


async def person_card(actor: Actor, person_id: int) -> dict[str, Any]:
    """A person with their department, manager, reports and (if allowed) employment history."""
    from servicechain.platform.security import may_see_person_details

    person = await person_for(actor, person_id)
    person["has_password"] = bool(person.pop("password_hash", None))  # pages never need the hash
    card: dict[str, Any] = {"person": person, "details": await may_see_person_details(actor, person)}
    card["department"] = (
        await Department.select().where(Department.id == person["department"]).first().run() if person["department"] else None
    )
    card["manager"] = (
        await Person.select(Person.id, Person.full_name, Person.position).where(Person.id == person["manager"]).first().run()
        if person["manager"] else None
    )
    card["reports"] = await Person.select(Person.id, Person.full_name, Person.position).where(
        (Person.manager == person_id) & (Person.active == True)  # noqa: E712
    ).order_by(Person.search_name).limit(50).run()
    card["history"] = []
    if card["details"]:
        card["history"] = await db.fetch(
            "SELECT a.valid_from, a.valid_to, d.name_en AS d_name_en, d.name_ru AS d_name_ru, m.full_name AS manager_name"
            " FROM assignment a LEFT JOIN department d ON d.id = a.department LEFT JOIN person m ON m.id = a.manager"
            " WHERE a.person = {} ORDER BY a.valid_from DESC, a.id DESC",
            person_id,
        )
        for row in card["history"]:
            row["department_name"] = department_name(row, "d_")
    card["may_edit"] = can(actor, "people.edit")
    return card


# --- changing people ---------------------------------------------------------------------------


async def _check_references(parsed: dict[str, Any], person_id: int | None, errors: dict[str, list[str]]) -> None:
    if parsed["department"] and not await Department.exists().where(
        (Department.id == parsed["department"]) & (Department.active == True)  # noqa: E712
    ).run():
        errors["department_id"] = [_("This department does not exist.")]
    manager = parsed["manager"]
    if manager:
        if manager == person_id:
            errors["manager_id"] = [_("A person cannot be their own manager.")]
        elif not await Person.exists().where((Person.id == manager) & (Person.active == True)).run():  # noqa: E712
            errors["manager_id"] = [_("This manager does not exist or has left.")]
        elif person_id and await _manages_indirectly(person_id, manager):
            errors["manager_id"] = [_("This would make a loop: the manager reports to this person.")]
    number_clash = Person.employee_number == parsed["employee_number"]
    email_clash = Person.email == parsed["email"]
    if person_id:
        number_clash = number_clash & (Person.id != person_id)
        email_clash = email_clash & (Person.id != person_id)
    if await Person.exists().where(number_clash).run():
        errors["employee_number"] = [_("Another person has this employee number.")]
    if parsed["email"] and await Person.exists().where(email_clash).run():
        errors["email"] = [_("Another person has this email.")]


async def _manages_indirectly(person_id: int, candidate_manager: int) -> bool:
    """True when `candidate_manager` is somewhere below `person_id` in the reporting line."""
    rows = await db.fetch(
        "WITH RECURSIVE below(id) AS (SELECT id FROM person WHERE manager = {}"
        " UNION SELECT p.id FROM person p JOIN below b ON p.manager = b.id)"
        " SELECT 1 AS hit FROM below WHERE id = {} LIMIT 1",
        person_id, candidate_manager,
    )
    return bool(rows)


def _auditable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in AUDITED_PERSON_FIELDS}


async def create_person(actor: Actor, data: dict[str, Any]) -> int:
    """HR and admins add a person; their first assignment starts on the hiring date (or today)."""
    require(actor, "people.edit")
    form = PersonForm.from_data(data)
    errors = form.validate(assignable_roles(actor))
    if not errors:
        await _check_references(form.parsed, None, errors)
    if errors:
        raise FormInvalid(errors)
    values = form.parsed
    now = utcnow()
    async with db.write():
        person = Person(
            **values,
            active=values["left_on"] is None or values["left_on"] > today(),
            search_name=person_search_text(values["full_name"], values["employee_number"], values["email"]),
            created_at=now,
            updated_at=now,
        )
        await person.save().run()
        await Assignment.insert(
            Assignment(person=person.id, department=values["department"], manager=values["manager"],
                       valid_from=values["hired_on"] or today())
        ).run()
        await audit.record(actor, "person.create", object_type="person", object_id=person.id,
                           summary=values["full_name"], after=_auditable({**values, "active": person.active}))
    return person.id


async def update_person(actor: Actor, person_id: int, data: dict[str, Any]) -> None:
    """A change of department or manager closes the current assignment and opens a new one
    from today, so reports for earlier months still see where the person was."""
    before = await person_for(actor, person_id, write=True)
    form = PersonForm.from_data(data)
    allowed = assignable_roles(actor)
    if before["role"] == "admin" and "admin" not in allowed:
        raise Forbidden()
    errors = form.validate(allowed if form.role != before["role"] else allowed + (before["role"],))
    if not errors:
        await _check_references(form.parsed, person_id, errors)
    if errors:
        raise FormInvalid(errors)
    values = form.parsed
    values["active"] = values["left_on"] is None or values["left_on"] > today()
    async with db.write():
        await Person.update(
            {**{getattr(Person, k): v for k, v in values.items()},
             Person.search_name: person_search_text(values["full_name"], values["employee_number"], values["email"]),
             Person.updated_at: utcnow()}
        ).where(Person.id == person_id).run()
        moved = (values["department"], values["manager"]) != (before["department"], before["manager"])
        if not values["active"]:
            await _end_assignment(person_id, values["left_on"])
        elif moved or not before["active"]:  # a move, or someone who left coming back
            await _move(person_id, values["department"], values["manager"], today())
        if not values["active"]:
            from servicechain.platform.tables import UserSession

            await UserSession.delete().where(UserSession.person == person_id).run()
        await audit.record(actor, "person.update", object_type="person", object_id=person_id, summary=values["full_name"],
                           before=_auditable(before), after=_auditable(values))


async def _end_assignment(person_id: int, on: date) -> None:
    """Someone left: their open assignment ends on the leaving date, so they stop counting
    in their department from then on."""
    current = await Assignment.select().where((Assignment.person == person_id) & Assignment.valid_to.is_null()).first().run()
    if current:
        await Assignment.update({Assignment.valid_to: max(on, current["valid_from"])}).where(Assignment.id == current["id"]).run()


async def _move(person_id: int, department: int | None, manager: int | None, on: date) -> None:
    await move_people([(person_id, department, manager)], on)


async def move_people(moves: list[tuple[int, int | None, int | None]], on: date) -> int:
    """Record new departments and managers from `on`: each person's open assignment ends on
    `on` (or is dropped when it started that day or later) and a new one opens, so reports
    for earlier months still see where people were. Moves that change nothing are skipped. Runs inside ``db.write()``;
    the org import calls it with thousands of moves, so it works in a few set-wise queries.
    Returns how many people moved."""
    wanted = {person_id: (department, manager) for person_id, department, manager in moves}
    if not wanted:
        return 0
    current: dict[int, dict[str, Any]] = {}
    ids = list(wanted)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for row in await Assignment.select().where(Assignment.person.is_in(chunk) & Assignment.valid_to.is_null()).run():
            current[row["person"]] = row
    drop, close, opened = [], [], []
    for person_id, (department, manager) in wanted.items():
        row = current.get(person_id)
        if row and (row["department"], row["manager"]) == (department, manager):
            continue
        if row:
            (drop if row["valid_from"] >= on else close).append(row["id"])
        opened.append((person_id, department, manager, on))
    for start in range(0, len(drop), 500):
        await Assignment.delete().where(Assignment.id.is_in(drop[start:start + 500])).run()
    for start in range(0, len(close), 500):
        await Assignment.update({Assignment.valid_to: on}).where(Assignment.id.is_in(close[start:start + 500])).run()
    await db.bulk_insert("assignment", ("person", "department", "manager", "valid_from"), opened)
    return len(opened)


async def manager_choices(*also: int | None) -> list[dict[str, Any]]:
    """Who can be picked as a manager or a head: people with a leading role, heads of
    departments and people who already have reports (plus `also`, e.g. the current one).

    At 20,000 people a select of everyone is unusable; this is the set a person picks from.
    """
    extra = [i for i in also if i]
    rows = await db.fetch(
        "SELECT p.id, p.full_name, p.employee_number FROM person p WHERE p.active = {} AND ("
        " p.role IN ('manager', 'executive', 'hr', 'admin')"
        # Uncorrelated sets, computed once: as correlated EXISTS, SQLite picked the
        # `active` index for the inner person scan and took minutes at 20,000 people.
        " OR p.id IN (SELECT head FROM department WHERE head IS NOT NULL)"
        " OR p.id IN (SELECT manager FROM person WHERE active = {} AND manager IS NOT NULL)"
        + (f" OR p.id IN ({db.placeholders(len(extra))})" if extra else "")
        + ") ORDER BY p.search_name",
        True, True, *extra,
    )
    return rows


# --- departments --------------------------------------------------------------------------------


async def department_tree(
    actor: Actor, *, include_inactive: bool = False, max_depth: int | None = None, also: int | None = None,
    with_counts: bool = True,
) -> list[dict[str, Any]]:
    """Departments in tree order, each with depth, head and head count (including below).

    `max_depth` keeps only the upper levels (a filter menu of 1,400 teams helps nobody),
    `also` adds one department back however deep it is (the one currently chosen).
    Head counts cost a scan of people; menus pass ``with_counts=False``.
    """
    require(actor, "departments.view")
    where, args = ["1 = 1"], []
    if not include_inactive:
        where.append("d.active = {}")
        args.append(True)
    if max_depth is not None:
        where.append("(d.depth <= {} OR d.id = {})")
        args += [max_depth, also or 0]
    rows = await db.fetch(
        "SELECT d.id, d.code, d.name_en, d.name_ru, d.parent, d.path, d.depth, d.active, d.head,"
        " h.full_name AS head_name"
        " FROM department d LEFT JOIN person h ON h.id = d.head"
        " WHERE " + " AND ".join(where) + " ORDER BY d.path",
        *args,
    )
    # One grouped scan, not a count per department: SQLite would scan people once per row.
    # Totals roll up over every department, including levels left out by `max_depth`.
    direct_by_path = {} if not with_counts else {
        r["path"]: r["n"]
        for r in await db.fetch(
            "SELECT d.path, COUNT(*) AS n FROM person p JOIN department d ON d.id = p.department"
            " WHERE p.active = {} GROUP BY d.path",
            True,
        )
    }
    totals: dict[str, int] = {}
    for path, count in direct_by_path.items():
        for ancestor in _ancestor_paths(path):
            totals[ancestor] = totals.get(ancestor, 0) + count
    for row in rows:
        row["name"] = department_name(row)
        row["direct_count"] = direct_by_path.get(row["path"], 0)
    by_id = {r["id"]: r for r in rows}
    for row in rows:
        row["total_count"] = totals.get(row["path"], 0)
        row["sort_key"] = _tree_sort_key(row, by_id)
    rows.sort(key=lambda r: r["sort_key"])
    return rows


def _ancestor_paths(path: str) -> list[str]:
    ids = [p for p in path.strip("/").split("/") if p]
    return ["/" + "/".join(ids[: i + 1]) + "/" for i in range(len(ids))]


def _tree_sort_key(row: dict[str, Any], by_id: dict[int, dict[str, Any]]) -> tuple:
    """Order siblings by name in the reader's language rather than by id."""
    ids = [int(p) for p in row["path"].strip("/").split("/") if p]
    return tuple(fold(by_id[i]["name"]) if i in by_id else "" for i in ids)


async def _check_department(parsed: dict[str, Any], department_id: int | None, errors: dict[str, list[str]]) -> dict | None:
    clash = Department.code == parsed["code"]
    if department_id:
        clash = clash & (Department.id != department_id)
    if await Department.exists().where(clash).run():
        errors["code"] = [_("Another department has this code.")]
    parent = None
    if parsed["parent"]:
        parent = await Department.select().where(Department.id == parsed["parent"]).first().run()
        if parent is None:
            errors["parent_id"] = [_("This department does not exist.")]
        elif department_id and (parent["id"] == department_id or f"/{department_id}/" in parent["path"]):
            errors["parent_id"] = [_("A department cannot sit inside itself or below itself.")]
    if parsed["head"] and not await Person.exists().where((Person.id == parsed["head"]) & (Person.active == True)).run():  # noqa: E712
        errors["head_id"] = [_("This person does not exist or has left.")]
    return parent


async def create_department(actor: Actor, data: dict[str, Any]) -> int:
    require(actor, "departments.edit")
    form = DepartmentForm.from_data(data)
    errors = form.validate()
    parent = await _check_department(form.parsed, None, errors) if not errors else None
    if errors:
        raise FormInvalid(errors)
    async with db.write():
        dept = Department(**form.parsed, depth=(parent["depth"] + 1) if parent else 0)
        await dept.save().run()
        path = (parent["path"] if parent else "/") + f"{dept.id}/"
        await Department.update({Department.path: path}).where(Department.id == dept.id).run()
        await audit.record(actor, "department.create", object_type="department", object_id=dept.id,
                           summary=form.parsed["code"], after=form.parsed)
    return dept.id


async def update_department(actor: Actor, department_id: int, data: dict[str, Any]) -> None:
    """Moving a department moves everything below it (their paths are rewritten)."""
    before = await department_for(actor, department_id, write=True)
    form = DepartmentForm.from_data(data)
    errors = form.validate()
    parent = await _check_department(form.parsed, department_id, errors) if not errors else None
    if errors:
        raise FormInvalid(errors)
    async with db.write():
        await Department.update({getattr(Department, k): v for k, v in form.parsed.items()}).where(Department.id == department_id).run()
        if form.parsed["parent"] != before["parent"]:
            new_path = (parent["path"] if parent else "/") + f"{department_id}/"
            await rewrite_subtree_paths(before["path"], new_path)
        await audit.record(actor, "department.update", object_type="department", object_id=department_id,
                           summary=form.parsed["code"],
                           before={k: before.get(k) for k in form.parsed}, after=form.parsed)


async def rewrite_subtree_paths(old_path: str, new_path: str) -> None:
    depth_change = new_path.count("/") - old_path.count("/")
    await db.fetch(
        "UPDATE department SET path = {} || SUBSTR(path, {}), depth = depth + {} WHERE path LIKE {}",
        new_path, len(old_path) + 1, depth_change, old_path + "%",
    )


async def department_card(actor: Actor, department_id: int) -> dict[str, Any]:
    dept = await department_for(actor, department_id)
    dept["name"] = department_name(dept)
    children = await Department.select().where((Department.parent == department_id) & (Department.active == True)).run()  # noqa: E712
    for child in children:
        child["name"] = department_name(child)
    children.sort(key=lambda c: fold(c["name"]))
    ancestors = []
    ids = [int(p) for p in dept["path"].strip("/").split("/")[:-1] if p]
    if ids:
        ancestors = await Department.select().where(Department.id.is_in(ids)).run()
        ancestors.sort(key=lambda a: ids.index(a["id"]))
        for a in ancestors:
            a["name"] = department_name(a)
    head = await Person.select(Person.id, Person.full_name, Person.position).where(Person.id == dept["head"]).first().run() if dept["head"] else None
    members = await Person.select(Person.id, Person.full_name, Person.position).where(
        (Person.department == department_id) & (Person.active == True)  # noqa: E712
    ).order_by(Person.search_name).limit(200).run()
    return {"department": dept, "children": children, "ancestors": ancestors, "head": head, "members": members,
            "may_edit": can(actor, "departments.edit")}


async def managed_people_count(actor: Actor) -> int | None:
    reach = await people_in_reach(actor)
    return None if reach is None else len(reach)
