"""Delegated authority: grants handed down a chain, and uses checked against every grant above.

The one rule: never more than the grantor holds. A grant's per-case limit, budget and validity
lie within its grantor's grant; a use consumes the budget of its grant and of every grant above
it, and is refused when any would be exceeded. Refusals are audited and change nothing else.

Concurrency: a use reads the running totals of its whole chain and then writes them. On
PostgreSQL the chain's grant rows are locked (``FOR UPDATE``, in id order, so two chains that
share a root cannot deadlock) before anything is read; on SQLite ``db.write()`` is ``BEGIN
IMMEDIATE``, which already lets one writer in at a time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from servicechain.goals.authority.tables import (
    PERIODS,
    AuthorityGrant,
    AuthorityScope,
    AuthorityUse,
    EscalationRequest,
)
from servicechain.platform import audit, db, i18n
from servicechain.platform.config import get_settings
from servicechain.platform.i18n import gettext as _
from servicechain.platform.people.tables import Person
from servicechain.platform.security import Actor, Forbidden, NotFound, can, people_in_reach, utcnow
from servicechain.platform.web import DomainError, FormInvalid

MAX_CANDIDATES = 20


class UseRefused(DomainError):
    """A use that no grant allows; the message says which limit and what remains."""

    status_code = 422


class RequestConflict(DomainError):
    status_code = 409


@dataclass
class UseResult:
    use_id: int
    grant_id: int
    remaining_budget: int
    replayed: bool = False


# --- time --------------------------------------------------------------------------------------


def today() -> date:
    """Budgets run by the company's calendar, not the server's."""
    return datetime.now(get_settings().tz).date()


def period_start(day: date, period: str) -> date:
    if period == "quarter":
        return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    return date(day.year, day.month, 1)


def valid_on(grant: dict[str, Any], day: date) -> bool:
    return grant["valid_from"] <= day and (grant["valid_until"] is None or day <= grant["valid_until"])


def usable_on(grant: dict[str, Any], day: date) -> bool:
    """A grant may be used on ``day`` when it is not revoked and the day lies within its validity.
    A chain may be used when every grant in it may, in an active scope (the whole chain shares
    its root's scope); ``_usable_chains`` applies both, and ``USABLE_SQL`` is this same rule for
    the rows a query picks, so it reads no grant it would then throw away."""
    return grant["revoked_at"] is None and valid_on(grant, day)


# ``usable_on`` and the scope's being active, in SQL, for a grant ``g`` joined to its scope ``s``;
# its parameters: the day, the day again, True.
USABLE_SQL = "g.revoked_at IS NULL AND g.valid_from <= {} AND (g.valid_until IS NULL OR g.valid_until >= {}) AND s.active = {}"


def chain_ids(path: str) -> list[int]:
    """"/1/7/12/" -> [12, 7, 1]: the grant first, then up to the root."""
    return [int(part) for part in reversed(path.strip("/").split("/")) if part]


# --- showing amounts ---------------------------------------------------------------------------


def scope_name(scope: dict[str, Any]) -> str:
    return scope["name_ru"] if i18n.current_language() == "ru" and scope["name_ru"] else scope["name_en"]


# Which of a unit's plural forms a number takes, by Babel's plural rules for the language.
PLURAL_INDEX = {"en": {"one": 0}, "ru": {"one": 0, "few": 1, "many": 2, "other": 2}}


def unit_for(scope: dict[str, Any], amount: int) -> str:
    """A counted scope's unit in the user's language, in the form the number takes:
    1 delivery, 2 deliveries; 1 доставка, 2 доставки, 5 доставок. Falls back to English."""
    from babel import Locale

    language = i18n.current_language()
    forms_text = (scope.get("unit_ru") if language == "ru" else "") or scope.get("unit") or ""
    if language == "ru" and not scope.get("unit_ru"):
        language = "en"
    forms = [f.strip() for f in forms_text.split("|")]
    category = Locale.parse(language).plural_form(abs(amount))
    index = PLURAL_INDEX.get(language, {}).get(category, len(forms) - 1)
    return forms[min(index, len(forms) - 1)]


def unit_plural(scope: dict[str, Any]) -> str:
    """The unit as a column heading or a CSV cell: the English "many" form."""
    return (scope.get("unit") or "").split("|")[-1].strip()


def format_amount(scope: dict[str, Any], amount: int) -> str:
    if scope["kind"] == "money":
        return i18n.format_money(amount)
    return f"{i18n.format_number(amount)} {unit_for(scope, amount)}".strip()


def amount_to_api(scope: dict[str, Any], amount: int | None) -> float | int | None:
    """Roubles (two decimals at most) for money, whole units for counts."""
    if amount is None:
        return None
    return amount / 100 if scope["kind"] == "money" else amount


def amount_from_api(scope: dict[str, Any], value: Any) -> int:
    """The API's roubles -> kopecks; a count must be whole. Raises ValueError otherwise."""
    from decimal import Decimal, InvalidOperation

    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(value)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(value) from None
    if not number.is_finite():
        raise ValueError(value)
    scaled = number * 100 if scope["kind"] == "money" else number
    if scaled != scaled.to_integral_value():
        raise ValueError(value)
    return int(scaled)


# --- reading -----------------------------------------------------------------------------------


async def scopes(active_only: bool = True) -> list[dict[str, Any]]:
    query = AuthorityScope.select().order_by(AuthorityScope.code)
    if active_only:
        query = query.where(AuthorityScope.active == True)  # noqa: E712
    return await query.run()


async def active_scope(code: str) -> dict[str, Any] | None:
    """An active scope by its code (how integrations name scopes), or None; shaped as the ORM
    reads it on both engines (``active`` a boolean)."""
    # Raw SQL: the API asks this on every use, and the ORM's query building costs more than the query.
    rows = await db.fetch("SELECT * FROM authority_scope WHERE code = {}", code.strip())
    return _scope_row(rows[0]) if rows and rows[0]["active"] else None


async def _grant_rows(ids: list[int], spent_on: date | None = None, case_ref: str | None = None,
                      request_key: str | None = None) -> list[dict[str, Any]]:
    """The one query that reads grants by id, with their holder's name; with ``spent_on``, each
    one's running total for its period containing that day (``spent_month``/``spent_quarter``,
    which ``_grant_from_row`` turns into ``spent``); with ``case_ref``, what each grant with the
    grants below it (all in its scope) has used on the case (``used_on_case``); with
    ``request_key``, the use an earlier request with that key recorded, on every row (``replay_*``)."""
    columns, column_args, joins, join_args = ["g.*", "p.full_name AS grantee_name"], [], [], []
    if spent_on is not None:
        columns += ["sm.spent AS spent_month", "sq.spent AS spent_quarter"]
        joins += [" LEFT JOIN authority_spent sm ON sm.key = CAST(g.id AS TEXT) || {}",
                  " LEFT JOIN authority_spent sq ON sq.key = CAST(g.id AS TEXT) || {}"]
        join_args += [":" + period_start(spent_on, "month").isoformat(), ":" + period_start(spent_on, "quarter").isoformat()]
    if case_ref is not None:
        # "+u.scope": look the case up by its own index; without statistics SQLite picks the
        # scope's and reads every use in the scope, once per grant of the chain.
        columns.append("(SELECT COALESCE(SUM(u.amount), 0) FROM authority_use u WHERE u.case_ref = {} AND +u.scope = g.scope"
                       " AND u.grant_path LIKE g.path || '%') AS used_on_case")
        column_args.append(case_ref)
    if request_key is not None:
        columns += ["r.id AS replay_id", "r.grant_id AS replay_grant", "r.request_hash AS replay_hash",
                    "r.remaining_after AS replay_remaining"]
        joins.append(" LEFT JOIN authority_use r ON r.request_key = {}")
        join_args.append(request_key)
    return await db.fetch(
        f"SELECT {', '.join(columns)} FROM authority_grant g JOIN person p ON p.id = g.grantee{''.join(joins)}"
        f" WHERE g.id IN ({db.placeholders(len(ids))})",
        *column_args, *join_args, *ids,
    )


def _grant_from_row(row: dict[str, Any]) -> dict[str, Any]:
    """A grant as the service uses it, from a row of ``_grant_rows``."""
    for key in ("replay_id", "replay_grant", "replay_hash", "replay_remaining"):
        row.pop(key, None)
    if "spent_month" in row:
        month, quarter = row.pop("spent_month"), row.pop("spent_quarter")
        row["spent"] = (quarter if row["period"] == "quarter" else month) or 0
    if "used_on_case" in row:
        row["used_on_case"] = int(row["used_on_case"])
    return _normalise(row)


async def _grants(ids: list[int], spent_on: date | None = None, case_ref: str | None = None
                  ) -> dict[int, dict[str, Any]]:
    """Grants by id (see ``_grant_rows`` for ``spent_on`` and ``case_ref``), in one query."""
    if not ids:
        return {}
    return {r["id"]: _grant_from_row(r) for r in await _grant_rows(ids, spent_on, case_ref)}


def _scope_row(row: dict[str, Any]) -> dict[str, Any]:
    """A scope's own columns from a row that joined it to a grant, shaped as the ORM reads them."""
    scope = {k: v for k, v in row.items() if k not in ("grant_id", "grant_path")}
    scope["active"] = bool(scope["active"])
    return scope


def _normalise(row: dict[str, Any]) -> dict[str, Any]:
    """Raw SQLite rows carry dates as text and booleans as 0/1."""
    for key in ("valid_from", "valid_until"):
        if isinstance(row.get(key), str):
            row[key] = date.fromisoformat(row[key])
    if "may_redelegate" in row:
        row["may_redelegate"] = bool(row["may_redelegate"])
    return row


async def _chains_for_use(ids: list[int], day: date, case_ref: str, request_key: str | None
                          ) -> tuple[dict[int, dict[str, Any]], dict[str, Any] | None]:
    """For a use, in one query: the grants ``ids`` with their running totals for the period
    containing ``day`` (``spent``) and what each, with the grants below it, has used on the case
    (``used_on_case``); and the use an earlier request with ``request_key``
    recorded (for retries), or None. Each query in a write transaction is a trip through the
    event loop with SQLite's writer held, so a use reads all of this at once."""
    rows = await _grant_rows(ids, day, case_ref, request_key) if ids else []
    replay = None
    if request_key and rows and rows[0]["replay_id"] is not None:
        first = rows[0]
        replay = {"id": first["replay_id"], "grant_id": first["replay_grant"], "request_hash": first["replay_hash"],
                  "remaining_after": first["replay_remaining"]}
    elif request_key and not rows:  # no grant to join to: the retry of a request for someone else
        found = await db.fetch("SELECT id, grant_id, request_hash, remaining_after FROM authority_use WHERE request_key = {}",
                               request_key)
        replay = found[0] if found else None
    return {r["id"]: _grant_from_row(r) for r in rows}, replay


def _effective(chain: list[dict[str, Any]]) -> tuple[int, int | None, int]:
    """(least budget left anywhere up the chain, least left for the case when the chain was read
    with one, smallest per-case limit). Each grant carries ``spent`` (and ``used_on_case``)."""
    budget_left = min(g["budget"] - g["spent"] for g in chain)
    limit = min(g["per_case_limit"] for g in chain)
    case_left = None
    if "used_on_case" in chain[0]:
        case_left = max(min(g["per_case_limit"] - g["used_on_case"] for g in chain), 0)
    return max(budget_left, 0), case_left, limit


async def _usable_chains(person_id: int, on: date, *, scope_id: int | None = None, spent: bool = False,
                         case_ref: str | None = None) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """The person's grants usable on ``on`` (in one scope, with ``scope_id``), each as (its scope,
    its chain: the grant first, then up to the root), in two queries: their own grants with the
    scopes, then every grant up their chains, read with this period's totals (``spent``) and
    what each has used on a case (``case_ref``) when asked. The one place that decides which
    grants may be used: what a person may do, and what the use and escalation forms accept."""
    rows = await db.fetch(
        "SELECT g.id AS grant_id, g.path AS grant_path, s.* FROM authority_grant g JOIN authority_scope s ON s.id = g.scope"
        " WHERE g.grantee = {}" + (" AND g.scope = {}" if scope_id is not None else "")
        + f" AND {USABLE_SQL}",
        person_id, *([scope_id] if scope_id is not None else []), on, on, True,
    )
    if not rows:
        return []
    everything = await _grants(sorted({i for r in rows for i in chain_ids(r["grant_path"])}),
                               spent_on=on if spent else None, case_ref=case_ref)
    usable = []
    for row in rows:
        chain = [everything.get(i) for i in chain_ids(row["grant_path"])]
        if all(g is not None and usable_on(g, on) for g in chain):
            usable.append((_scope_row(row), chain))  # type: ignore[arg-type]
    return usable


async def authority_of(person_id: int, case_ref: str | None = None, on: date | None = None) -> list[dict[str, Any]]:
    """What a person may do today, one item per usable grant: the per-case limit, the budget
    left this period (the least anywhere up the chain), and what is left for a case."""
    on = on or today()
    # Two queries whatever the person holds, with a case or not (``_usable_chains``). The page,
    # the API and the home page ask this on every view; it used to cost four queries and one
    # more per grant.
    items = []
    for scope, chain in await _usable_chains(person_id, on, spent=True, case_ref=case_ref or None):
        grant = chain[0]
        budget_left, case_left, limit = _effective(chain)
        items.append({"grant": grant, "scope": scope, "per_case_limit": limit,
                      "remaining_budget": budget_left, "remaining_for_case": case_left if case_ref else limit,
                      "valid_until": grant["valid_until"], "period": grant["period"], "budget": grant["budget"]})
    items.sort(key=lambda i: (i["scope"]["code"], i["valid_until"] or date.max, i["grant"]["id"]))
    return items


async def usable_scope(person_id: int, scope_id: int | None, on: date | None = None) -> dict[str, Any] | None:
    """The scope, when the person holds a grant in it usable on ``on`` (today), by the same rule
    as ``authority_of``. What the use and escalation forms may choose; two queries, where
    ``authority_of`` would also read every budget the person draws on."""
    if scope_id is None:
        return None
    usable = await _usable_chains(person_id, on or today(), scope_id=scope_id)
    return usable[0][0] if usable else None


# --- scopes and grants -------------------------------------------------------------------------


async def create_scope(actor: Actor, values: dict[str, Any]) -> int:
    """Admins define what may be done without asking, named in both languages."""
    if not can(actor, "authority.admin"):
        raise Forbidden()
    async with db.write():
        if await AuthorityScope.exists().where(AuthorityScope.code == values["code"]).run():
            raise FormInvalid({"code": [_("A scope with this code exists already.")]})
        scope = AuthorityScope(**values)
        await scope.save().run()
        await audit.record(actor, "authority.scope_created", object_type="authority_scope", object_id=scope.id,
                           summary=f"scope {values['code']}", after=values)
    return scope.id


def _within(values: dict[str, Any], parent: dict[str, Any]) -> dict[str, Any]:
    """A grant's per-case limit, budget and dates cut to lie within its grantor's grant: never
    more, never earlier, never longer. The one statement of the rule: a new or changed grant is
    refused where it differs from its cut (``_grant_errors``), and narrowing a grant cuts each
    grant handed on from it to fit (``update_grant``)."""
    until = values["valid_until"] if parent["valid_until"] is None \
        else min(values["valid_until"] or parent["valid_until"], parent["valid_until"])
    return {"per_case_limit": min(values["per_case_limit"], parent["per_case_limit"]),
            "budget": min(values["budget"], parent["budget"]),
            "valid_from": max(values["valid_from"], parent["valid_from"]), "valid_until": until}


def _grant_errors(values: dict[str, Any], parent: dict[str, Any] | None) -> dict[str, list[str]]:
    """The grant against its grantor's: never more, never longer."""
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if values["per_case_limit"] <= 0:
        add("per_case_limit", _("Enter an amount above zero."))
    if values["budget"] <= 0:
        add("budget", _("Enter an amount above zero."))
    if values["per_case_limit"] > values["budget"] > 0:
        add("per_case_limit", _("The per-case limit cannot be above the budget."))
    if values["period"] not in PERIODS:
        add("period", _("Choose a month or a quarter."))
    if values["valid_until"] is not None and values["valid_until"] < values["valid_from"]:
        add("valid_until", _("The end comes before the start."))
    if parent is None:
        return errors
    if values["valid_until"] is None:
        add("valid_until", _("A delegated grant needs an end date."))
    cut = _within(values, parent)
    if cut["per_case_limit"] != values["per_case_limit"]:
        add("per_case_limit", _("Above the grantor's own per-case limit of %(limit)s.",
                                limit=format_amount(parent["scope_row"], parent["per_case_limit"])))
    if cut["budget"] != values["budget"]:
        add("budget", _("Above the grantor's own budget of %(budget)s.",
                        budget=format_amount(parent["scope_row"], parent["budget"])))
    if values["period"] == "quarter" and parent["period"] == "month":
        add("period", _("The grantor's budget is monthly; a delegated budget cannot run for a quarter."))
    if cut["valid_from"] != values["valid_from"]:
        add("valid_from", _("The grantor's grant starts on %(day)s.", day=i18n.format_date(parent["valid_from"])))
    if cut["valid_until"] != values["valid_until"]:
        add("valid_until", _("The grantor's grant ends on %(day)s.", day=i18n.format_date(parent["valid_until"])))
    return errors


async def grantable(actor: Actor) -> list[dict[str, Any]]:
    """Grants the actor holds and may hand on: root grants, and those that allow re-delegation."""
    if not can(actor, "authority.grant"):
        return []
    return [item for item in await authority_of(actor.person_id)  # type: ignore[arg-type]
            if item["grant"]["parent"] is None or item["grant"]["may_redelegate"]]


async def create_grant(actor: Actor, values: dict[str, Any]) -> int:
    """Hand part of a grant the actor holds to someone in their reach (`parent_id`), or, for
    admins, set a scope's root grant held by an executive (`parent_id` None, `scope_id` given).
    Refuses anything above the grantor's own; audited."""
    async with db.write():
        parent = None
        if values.get("parent_id") is None:
            if not can(actor, "authority.admin"):
                raise Forbidden()
            scope = await AuthorityScope.select().where(AuthorityScope.id == values.get("scope_id")).first().run()
            if scope is None or not scope["active"]:  # an inactive scope's grants may not be used
                raise FormInvalid({"scope_id": [_("Choose a scope.")]})
            grantee = await Person.select().where(Person.id == values["grantee_id"]).first().run()
            if grantee is None or not grantee["active"] or grantee["role"] != "executive":
                raise FormInvalid({"grantee_id": [_("A root grant is held by an executive.")]})
            if await AuthorityGrant.exists().where((AuthorityGrant.scope == scope["id"]) & (AuthorityGrant.parent.is_null())
                                                   & AuthorityGrant.revoked_at.is_null()).run():
                raise FormInvalid({"scope_id": [_("This scope has a root grant already; revoke it first.")]})
        else:
            if not can(actor, "authority.grant"):
                raise Forbidden()
            found = await _grants([values["parent_id"]])
            parent = found.get(values["parent_id"])
            if parent is None or parent["grantee"] != actor.person_id:
                raise NotFound()
            if parent["parent"] is not None and not parent["may_redelegate"]:
                raise FormInvalid({"parent_id": [_("This grant may not be handed on.")]})
            chain = await _grants(chain_ids(parent["path"]))
            scope = await scope_of_grant(parent)
            if not (scope["active"] and all(usable_on(g, today()) for g in chain.values())):
                raise FormInvalid({"parent_id": [_("This grant is no longer valid.")]})
            parent["scope_row"] = scope
            grantee = await Person.select().where(Person.id == values["grantee_id"]).first().run()
            reach = await people_in_reach(actor)
            if grantee is None or not grantee["active"] or grantee["id"] == actor.person_id or (
                    reach is not None and grantee["id"] not in reach):
                raise FormInvalid({"grantee_id": [_("Choose someone in your team.")]})
        errors = _grant_errors(values, parent)
        await _check_purpose(actor, values.get("goal_id"), errors)
        if errors:
            raise FormInvalid(errors)
        now = utcnow()
        grant = AuthorityGrant(
            scope=scope["id"], grantor=parent["grantee"] if parent else None, grantee=values["grantee_id"],
            parent=parent["id"] if parent else None, depth=(parent["depth"] + 1) if parent else 0,
            per_case_limit=values["per_case_limit"], budget=values["budget"], period=values["period"],
            valid_from=values["valid_from"], valid_until=values["valid_until"],
            may_redelegate=bool(values.get("may_redelegate")) or parent is None, goal_id=values.get("goal_id"),
            note=values.get("note", ""), created_at=now, created_by=actor.person_id,
        )
        await grant.save().run()
        path = (parent["path"] if parent else "/") + f"{grant.id}/"
        await AuthorityGrant.update({AuthorityGrant.path: path}).where(AuthorityGrant.id == grant.id).run()
        shown = {k: values.get(k) for k in ("per_case_limit", "budget", "period", "valid_from", "valid_until",
                                            "may_redelegate", "goal_id", "note")}
        await audit.record(actor, "authority.granted", object_type="authority_grant", object_id=grant.id,
                           summary=f"{scope['code']}: {grantee['full_name']}", after=shown,
                           parent=parent["id"] if parent else None, grantee=grantee["id"])
    return grant.id


async def _check_purpose(actor: Actor, goal_id: int | None, errors: dict[str, list[str]]) -> None:
    """The purpose is a goal the actor may open; anything else is refused like a wrong choice."""
    if goal_id is None:
        return
    from servicechain.platform.security import goal_for

    try:
        await goal_for(actor, goal_id)
    except (NotFound, Forbidden):
        errors.setdefault("goal_id", []).append(_("Choose from the list."))


async def purpose_choices(actor: Actor, also: int | None = None) -> list[dict[str, Any]]:
    """Goals a grant may serve: unfinished goals of cycles not yet over that the actor may see
    (company and department goals, and those of the people in their reach), plus ``also``."""
    from servicechain.goals.service import cycle_label
    from servicechain.platform.people.service import department_name
    from servicechain.platform.security import goal_viewer

    viewer = await goal_viewer(actor)
    # People's goals only of those the actor may see (a 20,000-person company has thousands).
    people = "" if viewer.reach is None else (
        " AND (g.level != 'person' OR g.owner_person IN ("
        + ", ".join(str(int(i)) for i in sorted(viewer.reach | {actor.person_id or 0})) + "))")
    rows = await db.fetch(
        "SELECT g.id, g.title, g.level, g.owner_person, g.owner_department, d.path AS department_path,"
        " d.name_en AS d_name_en, d.name_ru AS d_name_ru, p.full_name AS owner_name, c.code AS cycle_code"
        " FROM goal g JOIN cycle c ON c.id = g.cycle LEFT JOIN department d ON d.id = g.owner_department"
        " LEFT JOIN person p ON p.id = g.owner_person"
        f" WHERE (c.ends_on >= {{}} AND g.status IN ('draft', 'proposed', 'agreed'){people}) OR g.id = {{}}"
        " ORDER BY c.starts_on, g.level, g.title, g.id LIMIT 3000", today(), also or 0)
    choices = []
    for r in rows:
        if not (viewer.roles(r, r["department_path"])["see"] or r["id"] == also):
            continue
        owner = department_name(r, "d_") if r["level"] == "department" else (r["owner_name"] or "")
        r["label"] = f"{cycle_label(r['cycle_code'])} · {r['title']}" + (f" — {owner}" if owner else "")
        choices.append(r)
    return choices[:300]


async def goal_titles(goal_ids: list[int]) -> dict[int, str]:
    ids = sorted({i for i in goal_ids if i})
    if not ids:
        return {}
    rows = await db.fetch(f"SELECT id, title FROM goal WHERE id IN ({db.placeholders(len(ids))})", *ids)
    return {r["id"]: r["title"] for r in rows}


async def scope_of_grant(grant: dict[str, Any]) -> dict[str, Any]:
    return _scope_row((await db.fetch("SELECT * FROM authority_scope WHERE id = {}", grant["scope"]))[0])


async def grants_below(grant: dict[str, Any]) -> int:
    """How many valid grants were handed on from this one (directly or further down)."""
    rows = await db.fetch("SELECT COUNT(*) AS n FROM authority_grant WHERE path LIKE {} AND id != {} AND revoked_at IS NULL",
                          grant["path"] + "%", grant["id"])
    return rows[0]["n"]


CHANGEABLE = ("per_case_limit", "budget", "valid_from", "valid_until", "goal_id", "note")


async def update_grant(actor: Actor, grant_id: int, values: dict[str, Any]) -> dict[str, list[int]]:
    """Change a grant's per-case limit, budget, validity, purpose or note. Whoever stands above
    it in the chain may (admins for root grants); the result must still lie within the
    grantor's own grant. Narrowing flows down: every grant handed on from this one is narrowed
    to fit (its limit, budget and dates cut to the new ones), and one whose dates no longer
    overlap ends, with everything below it. Returns {"narrowed": ids, "ended": ids}. Audited once."""
    async with db.write():
        grant = await grant_for(actor, grant_id, write=True)
        subtree = await db.fetch("SELECT id FROM authority_grant WHERE path LIKE {} AND revoked_at IS NULL",
                                 grant["path"] + "%")
        await _lock_chain(sorted(set(chain_ids(grant["path"])) | {r["id"] for r in subtree}))
        on = today()
        # Under the lock, with this period's totals (the budget cannot go below what is spent).
        everything = await _grants(sorted(set(chain_ids(grant["path"])) | {r["id"] for r in subtree}), spent_on=on)
        grant = everything[grant_id]
        if grant["revoked_at"] is not None:
            raise DomainError(_("This grant was revoked; it cannot be changed."), 409)
        scope = await scope_of_grant(grant)
        parent = everything.get(grant["parent"]) if grant["parent"] else None
        if parent is not None:
            parent["scope_row"] = scope
        proposed = {**{k: values.get(k) for k in CHANGEABLE}, "period": grant["period"]}
        proposed["note"] = proposed["note"] or ""
        errors = _grant_errors(proposed, parent)
        if parent is None and proposed["valid_until"] is None:
            errors.pop("valid_until", None)
        if grant["valid_from"] <= on and proposed["valid_from"] is not None and proposed["valid_from"] > grant["valid_from"]:
            errors.setdefault("valid_from", []).append(_("The grant is in force already; its start cannot move later."))
        if proposed["valid_until"] is not None and proposed["valid_until"] < on:
            errors.setdefault("valid_until", []).append(_("The end cannot be in the past; to end the grant now, revoke it."))
        spent = grant["spent"]
        if proposed["budget"] and proposed["budget"] < spent:
            errors.setdefault("budget", []).append(_(
                "%(spent)s of this period's budget is spent already; the budget cannot be less.", spent=format_amount(scope, spent)))
        await _check_purpose(actor, proposed["goal_id"], errors)
        if errors:
            raise FormInvalid(errors)
        await db.fetch(
            "UPDATE authority_grant SET per_case_limit = {}, budget = {}, valid_from = {}, valid_until = {}, goal_id = {},"
            " note = {} WHERE id = {}", proposed["per_case_limit"], proposed["budget"], proposed["valid_from"],
            proposed["valid_until"], proposed["goal_id"], proposed["note"], grant_id,
        )
        bounds = {grant_id: proposed}
        narrowed, ended = [], []
        below = sorted((g for i, g in everything.items() if i != grant_id and g["path"].startswith(grant["path"])),
                       key=lambda g: (g["depth"], g["id"]))
        for g in below:
            above = bounds.get(g["parent"])
            if above is None:  # its grantor's grant ended in this change: so does this one
                continue
            fit = _within(g, above)
            fit["per_case_limit"] = min(fit["per_case_limit"], fit["budget"])  # never above its own budget either
            if fit["valid_until"] is not None and fit["valid_until"] < fit["valid_from"]:
                ended.append(g["id"])
                continue
            bounds[g["id"]] = fit
            if any(fit[k] != g[k] for k in fit):
                narrowed.append(g["id"])
                await db.fetch(
                    "UPDATE authority_grant SET per_case_limit = {}, budget = {}, valid_from = {}, valid_until = {}"
                    " WHERE id = {}", fit["per_case_limit"], fit["budget"], fit["valid_from"], fit["valid_until"], g["id"])
        ended_ids: list[int] = []
        for end_id in ended:
            ended_ids += await _end_with_all_below(actor, everything[end_id])
        await audit.record(actor, "authority.grant_changed", object_type="authority_grant", object_id=grant_id,
                           summary=f"{scope['code']}: {grant['grantee_name']}",
                           before={k: grant[k] for k in CHANGEABLE}, after={k: proposed[k] for k in CHANGEABLE},
                           narrowed=sorted(narrowed), ended=sorted(ended_ids))
    return {"narrowed": sorted(narrowed), "ended": sorted(ended_ids)}


async def grant_for(actor: Actor, grant_id: int, *, write: bool = False) -> dict[str, Any]:
    """A grant the actor may see: their own, one they gave, one in their team, or any for those
    who see everyone. Revoking (`write`) is for whoever stands above it in the chain, and admins."""
    found = await _grants([grant_id])
    grant = found.get(grant_id)
    if grant is None:
        raise NotFound()
    chain = await _grants(chain_ids(grant["path"]))
    above = {g["grantee"] for i, g in chain.items() if i != grant_id}
    mine = actor.person_id in above or grant["grantee"] == actor.person_id
    if not (mine or can(actor, "authority.admin")):
        reach = await people_in_reach(actor) if can(actor, "authority.team") else set()
        if reach is not None and grant["grantee"] not in reach:
            raise NotFound()
    if write and not (actor.person_id in above or can(actor, "authority.admin")):
        raise Forbidden()
    return grant


async def revoke_grant(actor: Actor, grant_id: int) -> int:
    """Ends a grant and every grant delegated from it; returns how many ended. Audited once."""
    async with db.write():
        grant = await grant_for(actor, grant_id, write=True)
        if grant["revoked_at"] is not None:
            raise DomainError(_("This grant was revoked already."))
        ended = await _end_with_all_below(actor, grant)
        await audit.record(actor, "authority.revoked", object_type="authority_grant", object_id=grant_id,
                           summary=f"grant #{grant_id} and {len(ended) - 1} below it", ended=sorted(ended))
    return len(ended)


async def _end_with_all_below(actor: Actor, grant: dict[str, Any]) -> list[int]:
    """Revoke a grant and every valid grant handed on from it (one prefix match on the path);
    the ids ended. Revoking and narrowing a grant out of its dates end a subtree alike."""
    rows = await db.fetch(
        "UPDATE authority_grant SET revoked_at = {}, revoked_by = {} WHERE path LIKE {} AND revoked_at IS NULL"
        " RETURNING id", utcnow(), actor.person_id, grant["path"] + "%",
    )
    return [r["id"] for r in rows]


# --- uses --------------------------------------------------------------------------------------


def requester_key(actor: Actor) -> str:
    if actor.kind == "token":
        return f"t{actor.token_id}" if actor.token_id is not None else f"t-{actor.name}"
    return f"p{actor.person_id}"


def request_fingerprint(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _refusal(chain: list[dict[str, Any]], scope: dict[str, Any], amount: int, day: date, case_ref: str) -> str | None:
    """Why the chain's first grant cannot cover the use, naming the limit and what remains; None
    if it can. Each grant of the chain carries ``spent`` and ``used_on_case`` (``_chains_for_use``)."""
    show = lambda value: format_amount(scope, max(value, 0))  # noqa: E731
    for g in chain:
        if g["revoked_at"] is not None:
            return _("Refused: the grant held by %(holder)s was revoked.", holder=g["grantee_name"])
    for g in chain:
        if not valid_on(g, day):
            until = i18n.format_date(g["valid_until"]) if g["valid_until"] else "…"
            return _("Refused: the grant held by %(holder)s is valid from %(start)s until %(end)s, not on %(day)s.",
                     holder=g["grantee_name"], start=i18n.format_date(g["valid_from"]), end=until,
                     day=i18n.format_date(day))
    for g in chain:
        used = g["used_on_case"]
        if used + amount > g["per_case_limit"]:
            return _("Refused: %(amount)s is over the per-case limit of the grant held by %(holder)s "
                     "(%(limit)s per case); %(left)s remains for case %(case)s.",
                     amount=show(amount), holder=g["grantee_name"], limit=show(g["per_case_limit"]),
                     left=show(g["per_case_limit"] - used), case=case_ref)
    for g in chain:
        if g["spent"] + amount > g["budget"]:
            message = (_("Refused: %(amount)s is over the monthly budget of the grant held by %(holder)s "
                         "(%(budget)s); %(left)s remains this month.", amount=show(amount), holder=g["grantee_name"],
                         budget=show(g["budget"]), left=show(g["budget"] - g["spent"]))
                       if g["period"] == "month" else
                       _("Refused: %(amount)s is over the quarterly budget of the grant held by %(holder)s "
                         "(%(budget)s); %(left)s remains this quarter.", amount=show(amount), holder=g["grantee_name"],
                         budget=show(g["budget"]), left=show(g["budget"] - g["spent"])))
            return message
    return None


async def _lock_chain(ids: list[int]) -> None:
    if db.engine().engine_type == "postgres" and ids:
        await db.fetch(
            f"SELECT id FROM authority_grant WHERE id IN ({db.placeholders(len(ids))}) ORDER BY id FOR UPDATE", *ids
        )


async def record_use(
    actor: Actor, *, grantee_id: int, scope_id: int, amount: int, case_ref: str, customer: str = "",
    action: str = "", used_on: date | None = None, request_id: str | None = None, fingerprint: str = "",
    via_grant: int | None = None, escalation_id: int | None = None,
) -> UseResult:
    """Record a use of authority by `grantee_id`, under the grant that allows it and expires
    first. Refused (UseRefused, audited, nothing else written) when no grant allows it. With a
    `request_id`, a retry with the same fingerprint answers as the first time and one with
    another fingerprint is a RequestConflict. `via_grant` (approved escalations) names the grant."""
    used_on = used_on or today()
    if amount <= 0:
        raise FormInvalid({"amount": [_("Enter an amount above zero.")]})
    if used_on > today():
        raise FormInvalid({"used_on": [_("The date is in the future.")]})
    # Request ids belong to whoever sends them (an integration's token), not to the employee: the
    # same id sent again for another employee is another body, a conflict, not a new use.
    request_key = f"{requester_key(actor)}:{request_id}" if request_id else None
    refusal: str | None = None
    # Read before the transaction: the scope and the person's grants in it. A grant's chain
    # (its path) never changes, and whether each grant in it is revoked or valid is read again
    # under the lock below, so nothing checked here can go stale. Under load every query inside
    # the transaction holds SQLite's one writer for a trip through the event loop; the
    # transaction keeps only the reads the budget and per-case checks must see atomically.
    rows = await db.fetch(
        "SELECT s.*, g.id AS grant_id, g.path AS grant_path FROM authority_scope s LEFT JOIN authority_grant g"
        " ON g.scope = s.id AND g.grantee = {} WHERE s.id = {} ORDER BY g.id DESC" f" LIMIT {MAX_CANDIDATES}",
        grantee_id, scope_id,
    )
    if not rows:
        raise NotFound()
    scope = _scope_row(rows[0])
    if not scope["active"]:  # as if it did not exist, like the API's scope by code
        raise NotFound()
    if via_grant is not None:
        paths = {g["id"]: g["path"] for g in (await _grants([via_grant])).values()}
    else:
        paths = {r["grant_id"]: r["grant_path"] for r in rows if r["grant_id"] is not None}
    candidate_ids = list(paths)
    everything_ids = sorted({i for path in paths.values() for i in chain_ids(path)})
    async with db.write():
        await _lock_chain(everything_ids)
        # Read under the lock, in one query: the chains with this period's totals, what each
        # grant (with those below it) has used on this case, and the retry's first answer.
        everything, replay = await _chains_for_use(everything_ids, used_on, case_ref, request_key)
        if replay is not None:
            if replay["request_hash"] != fingerprint:
                raise RequestConflict(_("This request id was used for another request."))
            return UseResult(replay["id"], replay["grant_id"], replay["remaining_after"] or 0, replayed=True)
        candidates = sorted(
            (everything[i] for i in candidate_ids),
            key=lambda g: (g["revoked_at"] is not None, not valid_on(g, used_on), g["valid_until"] or date.max, g["id"]),
        )
        chosen = None
        for grant in candidates:
            chain = [everything[i] for i in chain_ids(grant["path"])]
            reason = _refusal(chain, scope, amount, used_on, case_ref)
            if reason is None:
                chosen = (grant, chain)
                break
            refusal = refusal or reason
        if chosen is None:
            if refusal is None:
                person = await Person.select(Person.full_name).where(Person.id == grantee_id).first().run()
                refusal = _("Refused: %(name)s holds no authority to %(scope)s.",
                            name=person["full_name"] if person else "?", scope=scope_name(scope))
            await audit.record(actor, "authority.use_refused", object_type="authority_scope", object_id=scope_id,
                               summary=refusal, grantee=grantee_id, amount=amount, case_ref=case_ref,
                               used_on=used_on, request_id=request_id)
        else:
            grant, chain = chosen
            values: list[Any] = []
            for g in chain:
                start = period_start(used_on, g["period"])
                values += [g["id"], start, f"{g['id']}:{start.isoformat()}", amount]
                g["spent"] += amount
            await db.fetch(
                "INSERT INTO authority_spent (grant_id, period_start, key, spent) VALUES "
                + ", ".join(["({}, {}, {}, {})"] * len(chain))
                + " ON CONFLICT (key) DO UPDATE SET spent = authority_spent.spent + excluded.spent",
                *values,
            )
            remaining, _case_left, _limit = _effective(chain)  # what the next use may draw, as authority_of says
            inserted = await db.fetch(
                "INSERT INTO authority_use (grant_id, grant_path, scope, grantee, case_ref, customer, amount, action, used_on,"
                " request_key, request_hash, remaining_after, escalation_id, created_at, created_by)"
                " VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}) RETURNING id",
                grant["id"], grant["path"], scope_id, grantee_id, case_ref, customer, amount, action, used_on, request_key,
                fingerprint, remaining, escalation_id, utcnow(), actor.person_id,
            )
            use_id = inserted[0]["id"]
            await audit.record(actor, "authority.used", object_type="authority_use", object_id=use_id,
                               summary=f"{scope['code']} {amount} on {case_ref}", grant=grant["id"],
                               grantee=grantee_id, amount=amount, case_ref=case_ref, used_on=used_on)
            return UseResult(use_id, grant["id"], remaining)
    raise UseRefused(refusal)


# --- escalation --------------------------------------------------------------------------------


async def escalate(actor: Actor, *, scope_id: int, amount: int, case_ref: str, customer: str = "", action: str = "",
                   reason: str = "") -> int:
    """Put a case over the actor's own limit to the grantor of their grant (the one expiring
    last, so the request is not lost when a short grant ends)."""
    # The usable grants alone: what is left of their budgets does not matter here.
    usable = await _usable_chains(actor.person_id, today(), scope_id=scope_id)  # type: ignore[arg-type]
    delegated = sorted((chain[0] for _scope, chain in usable if chain[0]["grantor"] is not None),
                       key=lambda g: (g["valid_until"] or date.max, g["id"]))
    if not delegated:
        raise DomainError(_("You hold no delegated authority in this scope, so there is nobody to ask."))
    grant = delegated[-1]
    if amount <= 0:
        raise FormInvalid({"amount": [_("Enter an amount above zero.")]})
    async with db.write():
        request = EscalationRequest(grant_id=grant["id"], requester=actor.person_id, approver=grant["grantor"],
                                    case_ref=case_ref, customer=customer, amount=amount, action=action,
                                    used_on=today(), reason=reason, created_at=utcnow())
        await request.save().run()
        await audit.record(actor, "authority.escalated", object_type="authority_escalation", object_id=request.id,
                           summary=f"{case_ref}: {amount}", grant=grant["id"], amount=amount)
    return request.id


async def decide_escalation(actor: Actor, request_id: int, approve: bool) -> int | None:
    """The grantor approves (recorded as a use of the grantor's own grant, checked like any use)
    or declines, in one step. Returns the use id when approved."""
    request = await EscalationRequest.select().where(EscalationRequest.id == request_id).first().run()
    if request is None or request["approver"] != actor.person_id:
        raise NotFound()
    if request["status"] != "pending":
        raise DomainError(_("This request was decided already."))
    grant = (await _grants([request["grant_id"]]))[request["grant_id"]]
    async with db.write():
        use_id = None
        if approve:
            result = await record_use(
                actor, grantee_id=actor.person_id, scope_id=grant["scope"], amount=request["amount"],
                case_ref=request["case_ref"], customer=request["customer"], action=request["action"],
                used_on=request["used_on"], via_grant=grant["parent"], escalation_id=request_id,
            )
            use_id = result.use_id
        await EscalationRequest.update({
            EscalationRequest.status: "approved" if approve else "declined", EscalationRequest.decided_at: utcnow(),
            EscalationRequest.decided_by: actor.person_id, EscalationRequest.use_id: use_id,
        }).where(EscalationRequest.id == request_id).run()
        await audit.record(actor, "authority.escalation_approved" if approve else "authority.escalation_declined",
                           object_type="authority_escalation", object_id=request_id, summary=request["case_ref"],
                           use=use_id)
    return use_id



# --- views -------------------------------------------------------------------------------------


async def team_grants(actor: Actor) -> list[dict[str, Any]]:
    """Valid grants held by the actor's team (everyone's, for those who see everyone) and the
    grants the actor gave, each with its remaining budget this period (own and effective)."""
    reach = await people_in_reach(actor)
    on = today()
    where = "g.revoked_at IS NULL AND (g.valid_until IS NULL OR g.valid_until >= {})"
    args: list[Any] = [on]
    if reach is not None:
        ids = sorted(reach)
        people = f"g.grantee IN ({db.placeholders(len(ids))})" if ids else "1 = 0"
        where += f" AND ({people} OR g.grantor = {{}})"
        args += [*ids, actor.person_id]
    rows = await db.fetch(
        "SELECT g.id FROM authority_grant g JOIN person p ON p.id = g.grantee"
        f" WHERE {where} ORDER BY p.full_name, g.id LIMIT 500", *args,
    )
    own = [r["id"] for r in rows]
    first = await _grants(own)
    everything = await _grants(sorted({i for g in first.values() for i in chain_ids(g["path"])}), spent_on=on)
    scope_rows = {s["id"]: s for s in await AuthorityScope.select().run()}
    purposes = await goal_titles([everything[i]["goal_id"] for i in own])
    items = []
    for grant_id in own:
        grant = everything[grant_id]
        chain = [everything[i] for i in chain_ids(grant["path"])]
        budget_left, _case, _limit = _effective(chain)
        grantor = everything.get(grant["parent"]) if grant["parent"] else None
        items.append({"grant": grant, "scope": scope_rows[grant["scope"]], "spent": grant["spent"],
                      "own_left": max(grant["budget"] - grant["spent"], 0), "remaining_budget": budget_left,
                      "grantor_name": grantor["grantee_name"] if grantor else None,
                      "purpose": purposes.get(grant["goal_id"]),
                      "may_revoke": actor.person_id in {g["grantee"] for g in chain if g["id"] != grant_id}
                      or can(actor, "authority.admin")})
    return items


async def ledger(actor: Actor, *, person_id: int | None = None, scope_id: int | None = None, case_ref: str = "",
                 since: date | None = None, until: date | None = None, limit: int | None = 200) -> list[dict[str, Any]]:
    """Uses the actor may see: their own; their team's with `authority.team`; everyone's for
    those who see everyone. Newest first."""
    conditions, args = [], []
    # One's own uses are always visible: "my authority" need not work out a manager's reach.
    own = person_id is not None and person_id == actor.person_id
    reach = await people_in_reach(actor) if can(actor, "authority.team") and not own else set()
    if reach is not None:
        ids = sorted(reach | {actor.person_id})  # type: ignore[arg-type]
        conditions.append(f"u.grantee IN ({db.placeholders(len(ids))})")
        args += ids
    for sql, value in (("u.grantee = {}", person_id), ("u.scope = {}", scope_id), ("u.case_ref = {}", case_ref or None),
                       ("u.used_on >= {}", since), ("u.used_on <= {}", until)):
        if value is not None:
            conditions.append(sql)
            args.append(value)
    where = " AND ".join(conditions) or "1 = 1"
    rows = await db.fetch(
        "SELECT u.id, u.used_on, u.case_ref, u.customer, u.amount, u.action, u.grant_id, u.escalation_id,"
        " p.full_name AS grantee_name, p.email AS grantee_email, s.code AS scope_code, s.name_en, s.name_ru, s.kind, s.unit, s.unit_ru"
        " FROM authority_use u JOIN person p ON p.id = u.grantee JOIN authority_scope s ON s.id = u.scope"
        f" WHERE {where} ORDER BY u.used_on DESC, u.id DESC" + (f" LIMIT {int(limit)}" if limit else ""), *args,
    )
    for row in rows:
        if isinstance(row["used_on"], str):
            row["used_on"] = date.fromisoformat(row["used_on"])
    return rows


async def escalations_for(actor: Actor) -> dict[str, list[dict[str, Any]]]:
    """Requests waiting for the actor's decision, and the actor's own recent requests."""
    sql = ("SELECT e.*, r.full_name AS requester_name, a.full_name AS approver_name, s.code AS scope_code,"
           " s.name_en, s.name_ru, s.kind, s.unit, s.unit_ru FROM authority_escalation e JOIN person r ON r.id = e.requester"
           " JOIN person a ON a.id = e.approver JOIN authority_grant g ON g.id = e.grant_id"
           " JOIN authority_scope s ON s.id = g.scope WHERE ")
    inbox = await db.fetch(sql + "e.approver = {} AND e.status = 'pending' ORDER BY e.id", actor.person_id)
    mine = await db.fetch(sql + "e.requester = {} ORDER BY e.id DESC LIMIT 20", actor.person_id)
    return {"inbox": inbox, "mine": mine}


async def home_authority(actor: Actor) -> dict[str, Any]:
    """What the home page shows first: the actor's authority, and escalations waiting for them."""
    if not actor.is_person or not can(actor, "authority.view_own"):
        return {"authority": [], "authority_waiting": 0}
    items = await authority_of(actor.person_id)  # type: ignore[arg-type]
    # Raw SQL: the home page is the most visited, and the ORM's query building cost more than the count.
    waiting = (await db.fetch("SELECT COUNT(*) AS n FROM authority_escalation WHERE approver = {} AND status = 'pending'",
                              actor.person_id))[0]["n"]
    return {"authority": items, "authority_waiting": waiting, "scope_name": scope_name, "format_amount": format_amount}
