"""Quality checks: QA scorecards of calls and chats, and mystery-shopper audits, on the six
criteria of the articles (politeness, culture of communication, handling objections, clarifying
the customer's need, product knowledge, offering several options).

Permissions (rules in ``platform.security``): everyone sees their own scorecards and comments on
them; a scorecard is also seen by its reviewer, the employee's managers up the chain and whoever
may review the employee. Those who lead people score the people in their reach; HR and admins
score anyone; QA reviewers HR names score within their department. Admins set the weights; HR
and admins keep the checklists and name reviewers; HR, admins and QA reviewers record audits.
A department's quality page is for executives, HR, admins, its heads and its QA reviewers.

Side effects: every create and change writes an audit entry in the same transaction; a new
scorecard and a comment in its thread notify the other side.

For the monthly report (issue 9), plain functions with no actor:

- :func:`monthly_by_department` ``(since, until, department_ids=None)`` →
  ``{department_id: {"YYYY-MM": {"qa": Figure, "ms": Figure}}}``, each department with everything
  below it. A figure is ``{"score": 0-100 or None, "n": count, "criteria": {code: 0-100 or None}}``:
  ``qa`` is the mean weighted score of QA scorecards (``n`` scorecards; a criterion's figure is
  its mean score × 20 over the scorecards that scored it), ``ms`` the mean mystery-shopper audit
  score (``n`` audits; a criterion's figure is the share of its checklist points earned).
- :func:`period_by_department` ``(since, until, department_ids=None)`` → the same figures over the
  whole period instead of per month: ``{department_id: {"qa": Figure, "ms": Figure}}``.

Scorecards count in the month of the contact and the department the employee was in on the day
they were scored; audits in the month of the visit and the department visited.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import Any
from urllib.parse import urlparse

from markupsafe import Markup

from servicechain.platform import audit, db, outbox
from servicechain.platform.analytics import charts
from servicechain.platform.customers.channels import CHANNELS
from servicechain.platform.customers.quality.tables import (
    CRITERIA,
    MAX_SCORE,
    Audit,
    AuditAnswer,
    Checklist,
    ChecklistItem,
    Reviewer,
    Scorecard,
    ScorecardComment,
    WeightSet,
)
from servicechain.platform.i18n import current_language, use_language
from servicechain.platform.i18n import gettext as _
from servicechain.platform.i18n import lazy_gettext
from servicechain.platform.lib.dates import BadDate, first_of_month, months_back, parse_date
from servicechain.platform.lib.ids import parse_id
from servicechain.platform.people.service import department_name, today
from servicechain.platform.people.tables import Department, Person
from servicechain.platform.security import (
    Actor,
    Forbidden,
    NotFound,
    QualityScope,
    can,
    department_paths_headed,
    may_review,
    quality_department_for,
    quality_review_scope,
    require,
    scorecard_for,
    utcnow,
)
from servicechain.platform.web import FormInvalid

CRITERION_NAMES = {
    "politeness": lazy_gettext("Politeness"),
    "culture": lazy_gettext("Culture of communication"),
    "objections": lazy_gettext("Handling objections"),
    "needs": lazy_gettext("Clarifying the customer's need"),
    "knowledge": lazy_gettext("Product knowledge"),
    "options": lazy_gettext("Offering several options"),
}
KINDS = {"yes_no": lazy_gettext("Yes or no"), "scale": lazy_gettext("Score 0–5")}
MAX_WEIGHT = 100
MAX_TEXT = 2000
TREND_MONTHS = 24
PAGE_SIZE = 50
NOT_APPLICABLE = "na"


def criterion_name(code: str) -> str:
    return str(CRITERION_NAMES.get(code, code))


def channel_name(code: str) -> str:
    return str(CHANNELS.get(code, code))


def localized(row: dict[str, Any], field: str) -> str:
    ru, en = row.get(field + "_ru"), row.get(field + "_en")
    return (ru if current_language() == "ru" else en) or ru or en or ""


def _text(data: dict[str, Any], key: str) -> str:
    return str(data.get(key) or "").strip()


# --- weights ---------------------------------------------------------------------------------------


DEFAULT_WEIGHTS = {code: 1 for code in CRITERIA}


async def current_weights() -> dict[str, Any]:
    """The newest weight set, or equal weights (id None) before an admin has set any."""
    row = await WeightSet.select().order_by(WeightSet.id, ascending=False).first().run()
    if row is None:
        return {"id": None, **DEFAULT_WEIGHTS, "created_at": None, "created_by": None}
    return row


async def _weight_set_id(actor: Actor) -> int:
    """The id scorecards point at; the first scorecard stores the equal default weights."""
    row = await WeightSet.select(WeightSet.id).order_by(WeightSet.id, ascending=False).first().run()
    if row is not None:
        return row["id"]
    new = WeightSet(**DEFAULT_WEIGHTS, created_by=None, created_at=utcnow())
    await new.save().run()
    await audit.record(actor, "quality.weights_defaulted", object_type="quality_weight_set", object_id=new.id,
                       summary="Equal weights stored with the first scorecard", after=DEFAULT_WEIGHTS)
    return new.id


async def weights_page(actor: Actor) -> dict[str, Any]:
    require(actor, "quality.weights")
    history = await db.fetch(
        "SELECT w.*, p.full_name AS by_name, (SELECT COUNT(*) FROM quality_scorecard s WHERE s.weight_set = w.id) AS used"
        " FROM quality_weight_set w LEFT JOIN person p ON p.id = w.created_by ORDER BY w.id DESC"
    )
    return {"current": await current_weights(), "history": history}


async def set_weights(actor: Actor, data: dict[str, Any]) -> int:
    """Admins only. Stores a new weight set for scorecards from now on; old scorecards keep the
    set they were scored with. Whole numbers 0-100, at least one above zero. Audited."""
    require(actor, "quality.weights")
    errors: dict[str, list[str]] = {}
    weights: dict[str, int] = {}
    for code in CRITERIA:
        raw = _text(data, code)
        if not raw.isascii() or not raw.isdigit() or int(raw) > MAX_WEIGHT:
            errors[code] = [_("Enter a whole number from 0 to %(max)s.", max=MAX_WEIGHT)]
        else:
            weights[code] = int(raw)
    if not errors and sum(weights.values()) == 0:
        errors["__all__"] = [_("At least one weight must be above zero: a score is the weighted mean of the criteria.")]
    if errors:
        raise FormInvalid(errors)
    before = await current_weights()
    async with db.write():
        row = WeightSet(**weights, created_by=actor.person_id, created_at=utcnow())
        await row.save().run()
        await audit.record(actor, "quality.weights_changed", object_type="quality_weight_set", object_id=row.id,
                           summary="QA criteria weights changed", before={c: before[c] for c in CRITERIA}, after=weights)
    return row.id


def weighted_score(scores: dict[str, int | None], weights: dict[str, Any]) -> float | None:
    """0-100: the weighted mean of the scored criteria (N/A ones leave the mean, not count as 0)."""
    total = sum(weights[c] for c, s in scores.items() if s is not None)
    if not total:
        return None
    return round(sum(weights[c] * s for c, s in scores.items() if s is not None) / (MAX_SCORE * total) * 100, 1)


# --- scorecards ------------------------------------------------------------------------------------


def valid_link(link: str) -> bool:
    """An http(s) address with a host: a recording or transcript in the call system or CRM."""
    if len(link) > 500 or any(ch.isspace() for ch in link):
        return False
    parsed = urlparse(link)
    return parsed.scheme in ("http", "https") and bool(parsed.hostname)


async def find_person(identifier: str) -> dict[str, Any] | None:
    """By employee number, else by e-mail (case-insensitive)."""
    row = await Person.select(Person.id, Person.full_name, Person.department, Person.active, Person.language).where(
        Person.employee_number == identifier).first().run()
    if row is None and "@" in identifier:
        rows = await db.fetch("SELECT id, full_name, department, active, language FROM person WHERE lower(email) = {}",
                              identifier.lower())
        row = rows[0] if rows else None
    return row


async def reviewable_people(actor: Actor, scope: QualityScope | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """People the actor may score, for the form's suggestions (active people, by name)."""
    scope = scope or await quality_review_scope(actor)
    if not scope.reviews_anyone:
        return []
    where, args = ["p.active = {}"], [True]
    if not scope.everyone:
        parts = []
        if scope.reach:
            parts.append(f"p.id IN ({', '.join(str(int(i)) for i in sorted(scope.reach))})")
        for path in scope.paths:
            parts.append("d.path LIKE {}")
            args.append(path + "%")
        where.append("(" + " OR ".join(parts) + ")")
    where.append("p.id <> {}")
    args.append(actor.person_id)
    return await db.fetch(
        "SELECT p.id, p.full_name, p.employee_number FROM person p LEFT JOIN department d ON d.id = p.department"
        f" WHERE {' AND '.join(where)} ORDER BY p.full_name LIMIT {int(limit)}", *args)


def _score_value(raw: str) -> tuple[int | None, bool]:
    """(score or None for N/A, valid)."""
    if raw == NOT_APPLICABLE:
        return None, True
    if raw.isascii() and raw.isdigit() and 0 <= int(raw) <= MAX_SCORE:
        return int(raw), True
    return None, False


async def create_scorecard(actor: Actor, data: dict[str, Any]) -> int:
    """Score a call recording or chat transcript. The actor must be allowed to review the
    employee (403 when they review nobody at all); the weights in force are kept with the
    scorecard. Audited; the employee is notified."""
    require(actor, "quality.view")
    scope = await quality_review_scope(actor)
    if not scope.reviews_anyone:
        raise Forbidden()
    errors: dict[str, list[str]] = {}
    identifier = _text(data, "employee")
    employee = None
    if not identifier:
        errors["employee"] = [_("Enter the employee's number or e-mail.")]
    else:
        employee = await find_person(identifier)
        if employee is None:
            errors["employee"] = [_("No one has this employee number or e-mail.")]
        elif employee["id"] == actor.person_id:
            errors["employee"] = [_("You may not score your own work.")]
        elif not await may_review(actor, employee["id"], scope):
            errors["employee"] = [_("You may score only the people you review.")]
    channel = _text(data, "channel")
    if channel not in CHANNELS:
        errors["channel"] = [_("Choose a channel from the list.")]
    contact_on = None
    try:
        contact_on = parse_date(_text(data, "contact_on"))
        if contact_on is None:
            errors["contact_on"] = [_("Enter the date of the call or chat.")]
        elif contact_on > today():
            errors["contact_on"] = [_("The date cannot be in the future.")]
    except BadDate:
        errors["contact_on"] = [_("Enter a date such as 31.12.2025.")]
    reference, link = _text(data, "reference"), _text(data, "link")
    if len(reference) > 200:
        errors["reference"] = [_("At most %(n)s characters.", n=200)]
    if link and not valid_link(link):
        errors["link"] = [_("Enter a web address starting with http:// or https://, such as https://calls.example.com/123.")]
    if not reference and not link:
        errors["reference"] = [_("Give a reference or a link to the recording or transcript.")]
    scores: dict[str, int | None] = {}
    for code in CRITERIA:
        raw = _text(data, "score_" + code)
        if not raw:
            errors["score_" + code] = [_("Score this criterion, or mark it N/A.")]
            continue
        value, ok = _score_value(raw)
        if not ok:
            errors["score_" + code] = [_("Choose a score from 0 to 5, or N/A.")]
        else:
            scores[code] = value
        if len(_text(data, "comment_" + code)) > MAX_TEXT:
            errors["comment_" + code] = [_("At most %(n)s characters.", n=MAX_TEXT)]
    summary = _text(data, "summary")
    if len(summary) > MAX_TEXT:
        errors["summary"] = [_("At most %(n)s characters.", n=MAX_TEXT)]
    weights = await current_weights()
    if len(scores) == len(CRITERIA) and weighted_score(scores, weights) is None:
        errors["__all__"] = [_("Score at least one criterion that has a weight above zero; all of them are N/A or weigh nothing.")]
    if errors:
        raise FormInvalid(errors)
    assert employee is not None and contact_on is not None
    async with db.write():
        set_id = await _weight_set_id(actor)
        weights = await WeightSet.select().where(WeightSet.id == set_id).first().run()
        score = weighted_score(scores, weights)
        row = Scorecard(
            employee=employee["id"], department=employee["department"], reviewer=actor.person_id, weight_set=set_id,
            channel=channel, reference=reference, link=link, contact_on=contact_on, summary=summary, score=score,
            created_at=utcnow(),
            **{"score_" + c: scores[c] for c in CRITERIA}, **{"comment_" + c: _text(data, "comment_" + c) for c in CRITERIA},
        )
        await row.save().run()
        await audit.record(actor, "quality.scorecard_created", object_type="quality_scorecard", object_id=row.id,
                           summary=f"Scorecard {score} for person #{employee['id']}",
                           after={"employee": employee["id"], "channel": channel, "contact_on": contact_on, "score": score,
                                  "weight_set": set_id, "reference": reference, "link": link,
                                  **{"score_" + c: scores[c] for c in CRITERIA}})
        with use_language(employee["language"] or current_language()):
            text = _("Your %(channel)s contact of %(date)s was reviewed: %(score)s of 100.",
                     channel=channel_name(channel).lower(), date=contact_on.strftime("%d.%m.%Y"), score=f"{score:g}")
        await outbox.notify(employee["id"], text, f"/quality/scorecards/{row.id}")
    return row.id  # type: ignore[return-value]


async def scorecard_page(actor: Actor, scorecard_id: int) -> dict[str, Any]:
    row = await scorecard_for(actor, scorecard_id)
    people = {p["id"]: p for p in await Person.select(Person.id, Person.full_name, Person.employee_number).where(
        Person.id.is_in([x for x in (row["employee"], row["reviewer"]) if x])).run()}
    weights = await WeightSet.select().where(WeightSet.id == row["weight_set"]).first().run()
    department = await Department.select().where(Department.id == row["department"]).first().run() if row["department"] else None
    comments = await db.fetch(
        "SELECT c.*, p.full_name AS author_name FROM quality_scorecard_comment c LEFT JOIN person p ON p.id = c.author"
        " WHERE c.scorecard = {} ORDER BY c.created_at, c.id", scorecard_id)
    return {
        "card": row, "employee": people.get(row["employee"]), "reviewer": people.get(row["reviewer"]),
        "department": department_name(department) if department else "",
        "criteria": [{"code": c, "name": criterion_name(c), "score": row["score_" + c], "comment": row["comment_" + c],
                      "weight": weights[c] if weights else 1} for c in CRITERIA],
        "comments": comments, "channel": channel_name(row["channel"]), "is_employee": row["employee"] == actor.person_id,
    }


async def add_comment(actor: Actor, scorecard_id: int, data: dict[str, Any]) -> int:
    """One thread per scorecard: the employee answers, the reviewer and managers reply. Whoever
    sees the scorecard may write; the other side is notified. Audited."""
    row = await scorecard_for(actor, scorecard_id)
    body = _text(data, "body")
    if not body:
        raise FormInvalid({"body": [_("Write a comment first.")]})
    if len(body) > MAX_TEXT:
        raise FormInvalid({"body": [_("At most %(n)s characters.", n=MAX_TEXT)]})
    async with db.write():
        comment = ScorecardComment(scorecard=scorecard_id, author=actor.person_id, body=body, created_at=utcnow())
        await comment.save().run()
        await audit.record(actor, "quality.scorecard_commented", object_type="quality_scorecard", object_id=scorecard_id,
                           summary=f"Comment on scorecard #{scorecard_id}", comment_id=comment.id, length=len(body))
        told = row["reviewer"] if actor.person_id == row["employee"] else row["employee"]
        if told and told != actor.person_id:
            person = await Person.select(Person.language).where(Person.id == told).first().run()
            with use_language((person or {}).get("language") or current_language()):
                text = _("%(name)s commented on a QA scorecard.", name=actor.name)
            await outbox.notify(told, text, f"/quality/scorecards/{scorecard_id}")
    return comment.id  # type: ignore[return-value]


async def _visibility(actor: Actor, scope: QualityScope) -> tuple[str, list[Any]]:
    """SQL condition on ``s`` (quality_scorecard) and ``d`` (the employee's current department)
    matching the scorecards the actor may see, as :func:`security.scorecard_for` decides."""
    if scope.everyone:
        return "1 = 1", []
    parts, args = ["s.employee = {}", "s.reviewer = {}"], [actor.person_id, actor.person_id]
    reach = set(scope.reach)
    if not reach:
        # The line above the employee sees their scorecards (security.manages) even without a
        # team role: their reports, and the departments they head.
        below = await db.fetch(
            "WITH RECURSIVE below(id) AS (SELECT id FROM person WHERE manager = {}"
            " UNION SELECT p.id FROM person p JOIN below b ON p.manager = b.id) SELECT id FROM below", actor.person_id)
        reach = {r["id"] for r in below}
    paths = set(scope.paths) | set(await department_paths_headed(actor.person_id))  # type: ignore[arg-type]
    if reach:
        parts.append(f"s.employee IN ({', '.join(str(int(i)) for i in sorted(reach))})")
    for path in sorted(paths):
        parts.append("d.path LIKE {}")
        args.append(path + "%")
    return "(" + " OR ".join(parts) + ")", args


async def list_scorecards(actor: Actor, filters: dict[str, Any], *, mine: bool = False) -> dict[str, Any]:
    """Scorecards the actor may see, newest first, with filters: employee, department (and
    below, by the department the employee was in), channel, month (YYYY-MM), reviewer=me."""
    require(actor, "quality.view")
    scope = await quality_review_scope(actor)
    where, args = [], []
    if mine:
        where.append("s.employee = {}")
        args.append(actor.person_id)
    else:
        condition, extra = await _visibility(actor, scope)
        where.append(condition)
        args.extend(extra)
    chosen: dict[str, Any] = {}
    department_id = parse_id(_text(filters, "department"))
    if department_id:
        dep = await Department.select(Department.path).where(Department.id == department_id).first().run()
        if dep:
            where.append("s.department IN (SELECT id FROM department WHERE path LIKE {})")
            args.append(dep["path"] + "%")
            chosen["department"] = department_id
    employee_id = parse_id(_text(filters, "employee"))
    if employee_id:
        where.append("s.employee = {}")
        args.append(employee_id)
        chosen["employee"] = employee_id
    channel = _text(filters, "channel")
    if channel in CHANNELS:
        where.append("s.channel = {}")
        args.append(channel)
        chosen["channel"] = channel
    month = _text(filters, "month")
    if re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        start = first_of_month(month)
        end = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
        where.append("s.contact_on >= {} AND s.contact_on < {}")
        args.extend([start, end])
        chosen["month"] = month
    if _text(filters, "reviewer") == "me":
        where.append("s.reviewer = {}")
        args.append(actor.person_id)
        chosen["reviewer"] = "me"
    page = max(1, min(10_000, parse_id(_text(filters, "page")) or 1))
    sql_where = " AND ".join(where)
    # Who may see a scorecard depends on the employee's current department (``d``); the count and
    # the mean need nothing else, the page of rows adds the names it shows.
    base = (" FROM quality_scorecard s JOIN person e ON e.id = s.employee LEFT JOIN department d ON d.id = e.department"
            f" WHERE {sql_where}")
    summary = (await db.fetch("SELECT COUNT(*) AS n, AVG(s.score) AS m" + base, *args))[0]
    total, mean = summary["n"], summary["m"]
    rows = await db.fetch(
        "SELECT s.id, s.employee, s.channel, s.contact_on, s.score, s.reference, e.full_name AS employee_name,"
        " (SELECT r.full_name FROM person r WHERE r.id = s.reviewer) AS reviewer_name,"
        " (SELECT sd.name_en FROM department sd WHERE sd.id = s.department) AS name_en,"
        " (SELECT sd.name_ru FROM department sd WHERE sd.id = s.department) AS name_ru,"
        " (SELECT COUNT(*) FROM quality_scorecard_comment c WHERE c.scorecard = s.id) AS comments"
        + base + f" ORDER BY s.contact_on DESC, s.id DESC LIMIT {PAGE_SIZE} OFFSET {(page - 1) * PAGE_SIZE}", *args) if total else []
    for r in rows:
        r["department_name"] = department_name(r)
        r["channel_name"] = channel_name(r["channel"])
    return {"rows": rows, "total": total, "page": page, "pages": max(1, -(-total // PAGE_SIZE)), "filters": chosen,
            "mean": mean, "may_score": scope.reviews_anyone}


async def scorecard_form_context(actor: Actor) -> dict[str, Any]:
    scope = await quality_review_scope(actor)
    if not scope.reviews_anyone:
        raise Forbidden()
    return {"people": await reviewable_people(actor, scope), "weights": await current_weights(),
            "criteria": [(c, criterion_name(c)) for c in CRITERIA], "channels": [(k, str(v)) for k, v in CHANNELS.items()]}


# --- reviewers (HR) ------------------------------------------------------------------------------------


async def list_reviewers(actor: Actor) -> list[dict[str, Any]]:
    require(actor, "quality.manage")
    rows = await db.fetch(
        "SELECT r.id, r.person, p.full_name, p.employee_number, d.id AS department_id, d.name_en, d.name_ru, r.created_at"
        " FROM quality_reviewer r JOIN person p ON p.id = r.person JOIN department d ON d.id = r.department"
        " ORDER BY p.full_name, d.path")
    for r in rows:
        r["department_name"] = department_name(r)
    return rows


async def add_reviewer(actor: Actor, data: dict[str, Any]) -> int:
    """HR and admins name a QA reviewer for a department (and everything below it). Audited."""
    require(actor, "quality.manage")
    errors: dict[str, list[str]] = {}
    identifier = _text(data, "person")
    person = await find_person(identifier) if identifier else None
    if not identifier:
        errors["person"] = [_("Enter the employee's number or e-mail.")]
    elif person is None or not person["active"]:
        errors["person"] = [_("No one has this employee number or e-mail.")]
    department_id = parse_id(_text(data, "department"))
    department = await Department.select().where((Department.id == department_id) & (Department.active == True)).first().run() \
        if department_id else None  # noqa: E712
    if department is None:
        errors["department"] = [_("Choose a department from the list.")]
    if not errors:
        assert person is not None and department is not None
        exists = await Reviewer.count().where((Reviewer.person == person["id"]) & (Reviewer.department == department["id"])).run()
        if exists:
            errors["person"] = [_("This person already reviews this department.")]
    if errors:
        raise FormInvalid(errors)
    assert person is not None and department is not None
    async with db.write():
        row = Reviewer(person=person["id"], department=department["id"], created_by=actor.person_id, created_at=utcnow())
        await row.save().run()
        await audit.record(actor, "quality.reviewer_added", object_type="quality_reviewer", object_id=row.id,
                           summary=f"QA reviewer #{person['id']} for department #{department['id']}",
                           after={"person": person["id"], "department": department["id"]})
    return row.id  # type: ignore[return-value]


async def remove_reviewer(actor: Actor, reviewer_id: int) -> None:
    require(actor, "quality.manage")
    row = await Reviewer.select().where(Reviewer.id == reviewer_id).first().run() if reviewer_id else None
    if row is None:
        raise NotFound()
    async with db.write():
        await Reviewer.delete().where(Reviewer.id == reviewer_id).run()
        await audit.record(actor, "quality.reviewer_removed", object_type="quality_reviewer", object_id=reviewer_id,
                           summary=f"QA reviewer #{row['person']} removed", before={"person": row["person"],
                                                                                    "department": row["department"]})


# --- checklists (HR) ------------------------------------------------------------------------------------

BLANK_ITEMS = 3


async def list_checklists(actor: Actor, *, active_only: bool = False) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT c.*, d.name_en AS d_name_en, d.name_ru AS d_name_ru,"
        " (SELECT COUNT(*) FROM quality_checklist_item i WHERE i.checklist = c.id AND i.active = {}) AS items,"
        " (SELECT COUNT(*) FROM quality_audit a WHERE a.checklist = c.id) AS audits"
        " FROM quality_checklist c LEFT JOIN department d ON d.id = c.location ORDER BY c.channel, c.name_en", True)
    result = []
    for r in rows:
        if active_only and not r["active"]:
            continue
        result.append({**r, "name": localized(r, "name"), "channel_name": channel_name(r["channel"]),
                       "location_name": department_name(r, "d_") if r["location"] else ""})
    return result


async def checklist_values(actor: Actor, checklist_id: int) -> dict[str, Any]:
    require(actor, "quality.manage")
    row = await Checklist.select().where(Checklist.id == checklist_id).first().run() if checklist_id else None
    if row is None:
        raise NotFound()
    items = await ChecklistItem.select().where((ChecklistItem.checklist == checklist_id) & (ChecklistItem.active == True)).order_by(  # noqa: E712
        ChecklistItem.position).run()
    return {"name_en": row["name_en"], "name_ru": row["name_ru"], "channel": row["channel"], "location": row["location"] or "",
            "active": row["active"],
            "items": [{"id": i["id"], "text_en": i["text_en"], "text_ru": i["text_ru"], "criterion": i["criterion"],
                       "kind": i["kind"]} for i in items]}


def items_from_form(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows ``item-<n>-<field>`` of the checklist form, in order; blank rows are dropped."""
    found: dict[int, dict[str, Any]] = {}
    for key, value in data.items():
        m = re.fullmatch(r"item-(\d{1,3})-(id|text_en|text_ru|criterion|kind|remove)", key)
        if m:
            found.setdefault(int(m.group(1)), {})[m.group(2)] = str(value).strip()
    rows = []
    for n in sorted(found):
        item = found[n]
        if not (item.get("text_en") or item.get("text_ru")) and not item.get("id"):
            continue
        rows.append({"n": n, "id": item.get("id", ""), "text_en": item.get("text_en", ""), "text_ru": item.get("text_ru", ""),
                     "criterion": item.get("criterion", ""), "kind": item.get("kind", ""),
                     "remove": item.get("remove") in ("1", "on")})
    return rows


async def save_checklist(actor: Actor, checklist_id: int | None, data: dict[str, Any]) -> int:
    """Create (``checklist_id`` None) or change a mystery-shopper checklist: HR and admins.
    Removed items are retired, not deleted, so old audits still show them. Audited."""
    require(actor, "quality.manage")
    before = await checklist_values(actor, checklist_id) if checklist_id else None
    errors: dict[str, list[str]] = {}
    name_en, name_ru = _text(data, "name_en"), _text(data, "name_ru")
    for key, value in (("name_en", name_en), ("name_ru", name_ru)):
        if not value:
            errors[key] = [_("Give the checklist a name in both languages.")]
        elif len(value) > 200:
            errors[key] = [_("At most %(n)s characters.", n=200)]
    channel = _text(data, "channel")
    if channel not in CHANNELS:
        errors["channel"] = [_("Choose a channel from the list.")]
    location = None
    raw_location = _text(data, "location")
    if raw_location:
        location = parse_id(raw_location)
        exists = location and await Department.count().where((Department.id == location) & (Department.active == True)).run()  # noqa: E712
        if not exists:
            errors["location"] = [_("Choose a department from the list.")]
    items = items_from_form(data)
    known = {i["id"] for i in (before or {}).get("items", [])}
    kept = [i for i in items if not i["remove"]]
    for item in kept:
        problems = []
        if not item["text_en"] or not item["text_ru"]:
            problems.append(_("Write the question in both languages."))
        elif max(len(item["text_en"]), len(item["text_ru"])) > 300:
            problems.append(_("At most %(n)s characters.", n=300))
        if item["criterion"] not in CRITERIA:
            problems.append(_("Choose the criterion the question checks."))
        if item["kind"] not in KINDS:
            problems.append(_("Choose how the question is answered."))
        if item["id"] and (not item["id"].isdigit() or int(item["id"]) not in known):
            problems.append(_("This question belongs to another checklist."))
        if problems:
            errors[f"item-{item['n']}"] = problems
    if not kept:
        errors["items"] = [_("Add at least one question.")]
    if errors:
        raise FormInvalid(errors)
    now = utcnow()
    values = {"name_en": name_en, "name_ru": name_ru, "channel": channel, "location": location,
              "active": _text(data, "active") in ("1", "on") if before else True}
    async with db.write():
        if checklist_id is None:
            row = Checklist(**values, created_at=now, updated_at=now)
            await row.save().run()
            checklist_id = row.id
        else:
            await Checklist.update({**{getattr(Checklist, k): v for k, v in values.items()}, Checklist.updated_at: now}).where(
                Checklist.id == checklist_id).run()
        for item in items:
            if item["remove"]:
                if item["id"]:
                    await ChecklistItem.update({ChecklistItem.active: False}).where(ChecklistItem.id == int(item["id"])).run()
                continue
        for position, item in enumerate(kept):
            fields = {"text_en": item["text_en"], "text_ru": item["text_ru"], "criterion": item["criterion"],
                      "kind": item["kind"], "position": position}
            if item["id"]:
                await ChecklistItem.update({getattr(ChecklistItem, k): v for k, v in fields.items()}).where(
                    ChecklistItem.id == int(item["id"])).run()
            else:
                await ChecklistItem.insert(ChecklistItem(checklist=checklist_id, active=True, **fields)).run()
        after = {**values, "items": [{k: i[k] for k in ("text_en", "criterion", "kind")} for i in kept]}
        await audit.record(actor, "quality.checklist_created" if before is None else "quality.checklist_changed",
                           object_type="quality_checklist", object_id=checklist_id, summary=name_en,
                           before={**{k: before[k] for k in ("name_en", "name_ru", "channel", "active")},
                                   "location": before["location"] or None,
                                   "items": [{k: i[k] for k in ("text_en", "criterion", "kind")} for i in before["items"]]}
                           if before else None, after=after)
    return checklist_id  # type: ignore[return-value]


# --- audits -----------------------------------------------------------------------------------------------


async def _audit_scope(actor: Actor) -> None:
    """Who records audits: HR and admins anywhere, QA reviewers HR named within their
    departments (team leads score their people, but mystery-shopper visits are the QA team's)."""
    require(actor, "quality.view")
    if can(actor, "quality.manage"):
        return
    named = await Reviewer.count().where(Reviewer.person == actor.person_id).run() if actor.is_person else 0
    if not named:
        raise Forbidden()


async def _reviewer_paths(actor: Actor) -> tuple[str, ...]:
    rows = await db.fetch("SELECT d.path FROM quality_reviewer r JOIN department d ON d.id = r.department WHERE r.person = {}",
                          actor.person_id)
    return tuple(r["path"] for r in rows)


async def audit_departments(actor: Actor, checklist: dict[str, Any]) -> list[dict[str, Any]]:
    """Departments an audit with this checklist may be recorded for: under the checklist's
    location when it has one, and within the reviewer's departments unless HR/admin."""
    rows = await Department.select(Department.id, Department.name_en, Department.name_ru, Department.path,
                                   Department.depth).where(Department.active == True).order_by(Department.path).run()  # noqa: E712
    prefix = ""
    if checklist["location"]:
        loc = await Department.select(Department.path).where(Department.id == checklist["location"]).first().run()
        prefix = loc["path"] if loc else "/nowhere/"
    paths = None if can(actor, "quality.manage") else await _reviewer_paths(actor)
    result = []
    for r in rows:
        if prefix and not r["path"].startswith(prefix):
            continue
        if paths is not None and not any(r["path"].startswith(p) for p in paths):
            continue
        result.append({**r, "name": department_name(r)})
    return result


async def audit_form_context(actor: Actor, checklist_id: int | None) -> dict[str, Any]:
    await _audit_scope(actor)
    checklists = await list_checklists(actor, active_only=True)
    if checklist_id is None:
        return {"checklist": None, "checklists": checklists}
    checklist = await Checklist.select().where(Checklist.id == checklist_id).first().run()
    if checklist is None or not checklist["active"]:
        raise NotFound()
    items = await ChecklistItem.select().where((ChecklistItem.checklist == checklist_id) & (ChecklistItem.active == True)).order_by(  # noqa: E712
        ChecklistItem.position).run()
    return {"checklist": {**checklist, "name": localized(checklist, "name"), "channel_name": channel_name(checklist["channel"])},
            "checklists": checklists, "departments": await audit_departments(actor, checklist),
            "items": [{**i, "text": localized(i, "text"), "criterion_name": criterion_name(i["criterion"])} for i in items]}


def _points(kind: str, value: int) -> float:
    return float(value) if kind == "yes_no" else value / MAX_SCORE


async def record_audit(actor: Actor, checklist_id: int, data: dict[str, Any]) -> int:
    """Record a mystery-shopper visit or contact with every question of the checklist answered.
    HR, admins, and QA reviewers for the department. Audited."""
    context = await audit_form_context(actor, checklist_id)
    checklist, items = context["checklist"], context["items"]
    errors: dict[str, list[str]] = {}
    department_id = parse_id(_text(data, "department"))
    if department_id not in {d["id"] for d in context["departments"]}:
        errors["department"] = [_("Choose the department that was visited or contacted from the list.")]
    visited_on = None
    try:
        visited_on = parse_date(_text(data, "visited_on"))
        if visited_on is None:
            errors["visited_on"] = [_("Enter the date of the visit or contact.")]
        elif visited_on > today():
            errors["visited_on"] = [_("The date cannot be in the future.")]
    except BadDate:
        errors["visited_on"] = [_("Enter a date such as 31.12.2025.")]
    shopper = _text(data, "shopper")
    if not shopper:
        errors["shopper"] = [_("Name the shopper or the agency.")]
    elif len(shopper) > 200:
        errors["shopper"] = [_("At most %(n)s characters.", n=200)]
    notes = _text(data, "notes")
    if len(notes) > MAX_TEXT:
        errors["notes"] = [_("At most %(n)s characters.", n=MAX_TEXT)]
    answers = []
    missing = 0
    for item in items:
        raw = _text(data, f"answer-{item['id']}")
        allowed = ("0", "1") if item["kind"] == "yes_no" else tuple(str(n) for n in range(MAX_SCORE + 1))
        if not raw:
            missing += 1
            errors[f"answer-{item['id']}"] = [_("Answer this question.")]
        elif raw not in allowed:
            errors[f"answer-{item['id']}"] = [_("Choose one of the answers.")]
        else:
            answers.append((item, int(raw)))
    if missing:
        errors["__all__"] = [_("Answer every question: %(n)s not answered.", n=missing)]
    if not items:
        errors["__all__"] = [_("This checklist has no questions yet.")]
    if errors:
        raise FormInvalid(errors)
    assert visited_on is not None
    score = round(sum(_points(i["kind"], v) for i, v in answers) / len(answers) * 100, 1)
    async with db.write():
        row = Audit(checklist=checklist_id, channel=checklist["channel"], department=department_id, visited_on=visited_on,
                    shopper=shopper, notes=notes, score=score, recorded_by=actor.person_id, created_at=utcnow())
        await row.save().run()
        await AuditAnswer.insert(*[AuditAnswer(audit=row.id, item=i["id"], criterion=i["criterion"], kind=i["kind"], value=v,
                                               points=_points(i["kind"], v)) for i, v in answers]).run()
        await audit.record(actor, "quality.audit_recorded", object_type="quality_audit", object_id=row.id,
                           summary=f"Mystery-shopper audit {score} of department #{department_id}",
                           after={"checklist": checklist_id, "department": department_id, "visited_on": visited_on,
                                  "shopper": shopper, "score": score, "answers": {str(i["id"]): v for i, v in answers}})
    return row.id  # type: ignore[return-value]


async def _department_scope_sql(actor: Actor, alias: str = "d") -> tuple[str, list[Any]]:
    """Departments whose audits and figures the actor may read (see quality_department_for)."""
    scope = await quality_review_scope(actor)
    if scope.reports_all or scope.everyone:
        return "1 = 1", []
    paths = list(scope.paths) + list(await department_paths_headed(actor.person_id)) if actor.is_person else []
    if not paths:
        return "1 = 0", []
    return "(" + " OR ".join(f"{alias}.path LIKE {{}}" for _p in paths) + ")", [p + "%" for p in paths]


async def list_audits(actor: Actor, filters: dict[str, Any]) -> dict[str, Any]:
    """Audits in the departments the actor may read, newest first; filters: department (and
    below), channel, checklist, month. 403 for those who read no department's quality."""
    require(actor, "quality.view")
    condition, args = await _department_scope_sql(actor)
    if condition == "1 = 0":
        raise Forbidden()
    where = [condition]
    chosen: dict[str, Any] = {}
    department_id = parse_id(_text(filters, "department"))
    if department_id:
        dep = await Department.select(Department.path).where(Department.id == department_id).first().run()
        if dep:
            where.append("d.path LIKE {}")
            args.append(dep["path"] + "%")
            chosen["department"] = department_id
    channel = _text(filters, "channel")
    if channel in CHANNELS:
        where.append("a.channel = {}")
        args.append(channel)
        chosen["channel"] = channel
    checklist_id = parse_id(_text(filters, "checklist"))
    if checklist_id:
        where.append("a.checklist = {}")
        args.append(checklist_id)
        chosen["checklist"] = checklist_id
    month = _text(filters, "month")
    if re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        start = first_of_month(month)
        end = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
        where.append("a.visited_on >= {} AND a.visited_on < {}")
        args.extend([start, end])
        chosen["month"] = month
    page = max(1, min(10_000, parse_id(_text(filters, "page")) or 1))
    base = (" FROM quality_audit a JOIN department d ON d.id = a.department JOIN quality_checklist c ON c.id = a.checklist"
            f" WHERE {' AND '.join(where)}")
    summary = (await db.fetch("SELECT COUNT(*) AS n, AVG(a.score) AS m" + base, *args))[0]
    total, mean = summary["n"], summary["m"]
    rows = await db.fetch(
        "SELECT a.id, a.channel, a.visited_on, a.shopper, a.score, d.id AS department_id, d.name_en, d.name_ru,"
        " c.name_en AS c_name_en, c.name_ru AS c_name_ru"
        + base + f" ORDER BY a.visited_on DESC, a.id DESC LIMIT {PAGE_SIZE} OFFSET {(page - 1) * PAGE_SIZE}", *args)
    for r in rows:
        r["department_name"] = department_name(r)
        r["checklist_name"] = localized({"name_en": r["c_name_en"], "name_ru": r["c_name_ru"]}, "name")
        r["channel_name"] = channel_name(r["channel"])
    may_record = True
    try:
        await _audit_scope(actor)
    except Forbidden:
        may_record = False
    return {"rows": rows, "total": total, "page": page, "pages": max(1, -(-total // PAGE_SIZE)), "filters": chosen,
            "mean": mean, "may_record": may_record, "checklists": await list_checklists(actor)}


async def audit_page(actor: Actor, audit_id: int) -> dict[str, Any]:
    row = await Audit.select().where(Audit.id == audit_id).first().run() if audit_id else None
    if row is None:
        raise NotFound()
    try:
        department = await quality_department_for(actor, row["department"])
    except Forbidden:
        raise NotFound() from None
    checklist = await Checklist.select().where(Checklist.id == row["checklist"]).first().run()
    answers = await db.fetch(
        "SELECT x.*, i.text_en, i.text_ru FROM quality_audit_answer x JOIN quality_checklist_item i ON i.id = x.item"
        " WHERE x.audit = {} ORDER BY i.position, i.id", audit_id)
    recorder = await Person.select(Person.full_name).where(Person.id == row["recorded_by"]).first().run() if row["recorded_by"] else None
    return {"audit": row, "department": {**department, "name": department_name(department)},
            "checklist": {**checklist, "name": localized(checklist, "name")} if checklist else None,
            "channel": channel_name(row["channel"]), "recorder": recorder["full_name"] if recorder else "",
            "answers": [{**a, "text": localized(a, "text"), "criterion_name": criterion_name(a["criterion"])} for a in answers]}


# --- figures for the department page and the monthly report ------------------------------------------------


# A figure's sums travel as one flat list: [n, total, then (sum, count) for each criterion], so
# rolling thousands of (department, month) groups up the tree is a loop over numbers.
WIDTH = 2 + 2 * len(CRITERIA)


def _figure(vector: list[float] | None) -> dict[str, Any]:
    vector = vector or [0] * WIDTH
    n, total = int(vector[0]), vector[1]
    return {"score": round(total / n, 1) if n else None, "n": n,
            "criteria": {c: (round(vector[2 + 2 * i] / vector[3 + 2 * i], 1) if vector[3 + 2 * i] else None)
                         for i, c in enumerate(CRITERIA)}}


async def _sums(since: date, until: date, *, path: str | None = None, by_department: bool = True,
                by_month: bool = True) -> tuple[dict[tuple, list[float]], dict[tuple, list[float]]]:
    """QA and mystery-shopper sums keyed by (department or None, month or None): grouped by the
    exact department and/or month as asked, for the departments under ``path`` (or all)."""
    def grouping(alias: str, day: str) -> tuple[str, str, str]:
        month = f"substr(CAST({alias}.{day} AS TEXT), 1, 7)"
        cols = [f"{alias}.department" if by_department else "NULL", month if by_month else "NULL"]
        groups = [g for g, on in ((f"{alias}.department", by_department), (month, by_month)) if on]
        where = f" AND {alias}.department IN (SELECT id FROM department WHERE path LIKE {{}})" if path else ""
        return f"{cols[0]} AS dep, {cols[1]} AS m", where, (" GROUP BY " + ", ".join(groups)) if groups else ""

    extra = [path + "%"] if path else []
    select, where, group = grouping("s", "contact_on")
    crit = ", ".join(f"SUM(s.score_{c}) AS s_{c}, COUNT(s.score_{c}) AS n_{c}" for c in CRITERIA)
    qa: dict[tuple, list[float]] = {}
    for r in await db.fetch(
            f"SELECT {select}, COUNT(*) AS n, SUM(s.score) AS total, {crit} FROM quality_scorecard s"
            f" WHERE s.contact_on >= {{}} AND s.contact_on <= {{}} AND s.department IS NOT NULL{where}{group}",
            since, until, *extra):
        if not r["n"]:
            continue
        vector = [r["n"], r["total"] or 0.0]
        for c in CRITERIA:  # scores are 0-5; figures are 0-100 like the weighted score
            vector += [(r[f"s_{c}"] or 0) * 100 / MAX_SCORE, r[f"n_{c}"]]
        qa[(r["dep"], r["m"])] = vector
    select, where, group = grouping("a", "visited_on")
    ms: dict[tuple, list[float]] = {}
    for r in await db.fetch(
            f"SELECT {select}, COUNT(*) AS n, SUM(a.score) AS total FROM quality_audit a"
            f" WHERE a.visited_on >= {{}} AND a.visited_on <= {{}}{where}{group}", since, until, *extra):
        if r["n"]:
            ms[(r["dep"], r["m"])] = [r["n"], r["total"] or 0.0] + [0.0] * (WIDTH - 2)
    position = {c: 2 + 2 * i for i, c in enumerate(CRITERIA)}
    group = (group + ", x.criterion") if group else " GROUP BY x.criterion"
    for r in await db.fetch(
            f"SELECT {select}, x.criterion AS c, SUM(x.points) AS p, COUNT(*) AS k"
            " FROM quality_audit_answer x JOIN quality_audit a ON a.id = x.audit"
            f" WHERE a.visited_on >= {{}} AND a.visited_on <= {{}}{where}{group}", since, until, *extra):
        vector = ms.get((r["dep"], r["m"]))
        if vector is not None and r["c"] in position:
            vector[position[r["c"]]] = (r["p"] or 0.0) * 100
            vector[position[r["c"]] + 1] = r["k"]
    return qa, ms


def _add(into: list[float] | None, part: list[float]) -> list[float]:
    if into is None:
        return list(part)
    for i, value in enumerate(part):
        into[i] += value
    return into


async def _rolled_up(since: date, until: date, department_ids: Iterable[int] | None, *,
                     by_month: bool) -> tuple[dict[tuple, list[float]], dict[tuple, list[float]], list[int]]:
    """Sums per (department with everything below it, month or None) for the departments asked
    for. One department is read straight off its subtree; several are rolled up the tree."""
    departments = await db.fetch("SELECT id, path FROM department")
    path_of = {d["id"]: d["path"] for d in departments}
    wanted = [d for d in (list(department_ids) if department_ids is not None else list(path_of)) if d in path_of]
    if len(wanted) == 1:
        qa, ms = await _sums(since, until, path=path_of[wanted[0]], by_department=False, by_month=by_month)
        only = wanted[0]
        return {(only, m): v for (_d, m), v in qa.items()}, {(only, m): v for (_d, m), v in ms.items()}, wanted
    common = None
    if department_ids is not None and wanted:  # read only the subtree that holds them all
        paths = [path_of[d] for d in wanted]
        common = paths[0]
        while not all(p.startswith(common) for p in paths):
            common = common[:common.rstrip("/").rfind("/") + 1]
    qa, ms = await _sums(since, until, path=common if common and common != "/" else None, by_month=by_month)
    targets = set(wanted)
    roll_qa: dict[tuple, list[float]] = {}
    roll_ms: dict[tuple, list[float]] = {}
    for source, target in ((qa, roll_qa), (ms, roll_ms)):
        for (dep, month), part in source.items():
            path = path_of.get(dep)
            if path is None:
                continue
            # The department's own path and every ancestor on it: "/1/5/9/" → 1, 5, 9.
            for ancestor in (int(x) for x in path.strip("/").split("/") if x):
                if ancestor in targets:
                    target[(ancestor, month)] = _add(target.get((ancestor, month)), part)
    return roll_qa, roll_ms, wanted


async def monthly_by_department(since: date, until: date, department_ids: Iterable[int] | None = None) -> dict[int, dict[str, Any]]:
    """For the monthly report: per department (with everything below it) and month from ``since``
    to ``until``, ``{"qa": Figure, "ms": Figure}`` (see the module docstring). Months with
    neither scorecards nor audits are left out."""
    roll_qa, roll_ms, wanted = await _rolled_up(since, until, department_ids, by_month=True)
    result: dict[int, dict[str, Any]] = {d: {} for d in wanted}
    for dep, month in set(roll_qa) | set(roll_ms):
        result[dep][month] = {"qa": _figure(roll_qa.get((dep, month))), "ms": _figure(roll_ms.get((dep, month)))}
    return result


async def period_by_department(since: date, until: date, department_ids: Iterable[int] | None = None) -> dict[int, dict[str, Any]]:
    """For the monthly report: the same figures as :func:`monthly_by_department` over the whole
    period, per department (with everything below it)."""
    roll_qa, roll_ms, wanted = await _rolled_up(since, until, department_ids, by_month=False)
    return {d: {"qa": _figure(roll_qa.get((d, None))), "ms": _figure(roll_ms.get((d, None)))} for d in wanted}


def trend_chart(series: list[tuple[str, list[tuple[str, float | None]]]], width: int = 640, height: int = 220) -> Markup:
    """One line per series on 0-100 (``series``: name, [(month "YYYY-MM", value or None)]), gaps
    where a month has no figure; drawn by the analytics charts, the one chart code of the pages
    and the monthly PDF."""
    return charts.line_chart([(name, [(first_of_month(m), v) for m, v in points]) for name, points in series],
                             y_label="", y_range=(0, 100), width=width, height=height, decimals=1,
                             title=_("QA and mystery-shopper scores by month"))


async def department_page(actor: Actor, department_id: int, *, on: date | None = None) -> dict[str, Any]:
    """A department's quality (with everything below it): QA and mystery-shopper scores by
    criterion over the last 12 months, and both by month over two years with a trend chart."""
    department = await quality_department_for(actor, department_id)
    until = on or today()
    months = months_back(until, TREND_MONTHS)
    since = first_of_month(months[0])
    # One read of the subtree by month; the last 12 months' figures are sums of those months.
    roll_qa, roll_ms, _w = await _rolled_up(since, until, [department_id], by_month=True)
    year_since = first_of_month(months[-12])
    period_qa = period_ms = None
    for m in months[-12:]:
        if (department_id, m) in roll_qa:
            period_qa = _add(period_qa, roll_qa[(department_id, m)])
        if (department_id, m) in roll_ms:
            period_ms = _add(period_ms, roll_ms[(department_id, m)])
    period = {"qa": _figure(period_qa), "ms": _figure(period_ms)}
    empty = _figure(None)
    trend = [{"month": m, "qa": _figure(roll_qa.get((department_id, m))), "ms": _figure(roll_ms.get((department_id, m)))}
             for m in months]
    chart = trend_chart([
        (_("QA score"), [(t["month"], t["qa"]["score"]) for t in trend]),
        (_("Mystery shopper"), [(t["month"], t["ms"]["score"]) for t in trend]),
    ])
    children = await Department.select(Department.id, Department.name_en, Department.name_ru).where(
        (Department.parent == department_id) & (Department.active == True)).order_by(Department.name_en).run()  # noqa: E712
    child_figures = await period_by_department(year_since, until, [c["id"] for c in children]) if children else {}
    return {
        "department": {**department, "name": department_name(department)}, "since": year_since, "until": until,
        "period": period,
        "criteria": [(c, criterion_name(c)) for c in CRITERIA], "trend": trend, "chart": chart,
        "children": [{**c, "name": department_name(c), **child_figures.get(c["id"], {"qa": empty, "ms": empty})}
                     for c in children],
    }


async def overview(actor: Actor) -> dict[str, Any]:
    """The quality home: my latest scorecards, and the departments and tools the actor has."""
    require(actor, "quality.view")
    mine = await list_scorecards(actor, {}, mine=True)
    scope = await quality_review_scope(actor)
    headed = await department_paths_headed(actor.person_id) if actor.is_person else []  # type: ignore[arg-type]
    paths = sorted(set(scope.paths) | set(headed))
    departments = []
    if scope.reports_all or scope.everyone:
        departments = await db.fetch("SELECT id, name_en, name_ru, path FROM department WHERE depth <= 1 AND active = {}"
                                     " ORDER BY path", True)
    elif paths:
        departments = await db.fetch(
            "SELECT id, name_en, name_ru, path FROM department WHERE active = {} AND path IN ("
            + ", ".join("{}" for _p in paths) + ") ORDER BY path", True, *paths)
    may_audit = True
    try:
        await _audit_scope(actor)
    except Forbidden:
        may_audit = False
    unanswered = [s for s in mine["rows"] if not s["comments"]]
    return {"mine": mine, "may_score": scope.reviews_anyone, "may_audit": may_audit, "unanswered": len(unanswered),
            "departments": [{**d, "name": department_name(d)} for d in departments],
            "may_manage": can(actor, "quality.manage"), "may_weigh": can(actor, "quality.weights"),
            "sees_team": bool(scope.reach or scope.paths or scope.everyone)}
