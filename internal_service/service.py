"""Internal service: the catalogue, survey rounds, ratings, follow-ups, the matrix and scorecards.

Permissions: everyone reads the catalogue and rates services their department receives (never
their own department's); the head of the providing department (or of one above) and HR/admins
keep the catalogue; HR launches rounds; the matrix and scorecards are for those who lead people
and for the rated department's heads, and only ever show figures with at least the minimum group
size of distinct raters behind them, decided once per period for every page (see ``disclosure``). A follow-up goes to the rated
department's heads and never names the rater.

Side effects: catalogue changes, rounds and follow-up resolutions write an audit entry in the same
transaction. Ratings do not: they are survey answers, and the audit log (read by HR) would name
who rated whom; the rating row keeps its rater only so one person rates once.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import functools
import hashlib
import json
import logging

from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from markupsafe import Markup
from piccolo.engine.sqlite import TransactionType

from servicechain.internal_service import disclosure, summary
from servicechain.internal_service.aggregation import colour_class, index_of
from servicechain.internal_service.disclosure import ALL, GIVEN, MATRIX, RECEIVED, ROUND, SERVICE, SERVICE_QUARTER, Atom, Cell, Universe
from servicechain.internal_service.tables import CRITERIA, FollowUp, InternalService, Rating, RatingRound, ServiceAudience
from servicechain.platform import audit, db, outbox
from servicechain.platform.analytics import charts
from servicechain.platform.config import get_settings
from servicechain.platform.i18n import current_language, use_language
from servicechain.platform.i18n import gettext as _
from servicechain.platform.lib.dates import first_of_month, months_back
from servicechain.platform.lib.forms_dates import date_range
from servicechain.platform.people.service import department_name, today
from servicechain.platform.people.tables import Department, Person
from servicechain.platform.security import (
    Actor,
    Forbidden,
    NotFound,
    can,
    department_paths_headed,
    follow_up_for,
    internal_scorecard_for,
    internal_service_for,
    require,
    utcnow,
)
from servicechain.platform.web import FormInvalid

LOW_SCORE = 2  # this or lower opens a follow-up
WINDOW_MONTHS = 12  # the matrix and scorecards read the same period, so their totals agree
TREND_MONTHS = 24


def service_name(row: dict[str, Any], prefix: str = "") -> str:
    ru, en = row.get(prefix + "name_ru"), row.get(prefix + "name_en")
    return (ru if current_language() == "ru" else en) or ru or en or ""


def service_description(row: dict[str, Any]) -> str:
    ru, en = row.get("description_ru"), row.get("description_en")
    return (ru if current_language() == "ru" else en) or ru or en or ""


async def _person_department(actor: Actor) -> dict[str, Any] | None:
    person = await Person.select(Person.department).where(Person.id == actor.person_id).first().run()
    if not person or not person["department"]:
        return None
    return await Department.select().where(Department.id == person["department"]).first().run()


# --- the catalogue ------------------------------------------------------------------------------


async def maintainable_departments(actor: Actor) -> list[dict[str, Any]]:
    """Departments whose catalogue the actor keeps: all for HR/admins, else those they head and below."""
    rows = await Department.select(Department.id, Department.name_en, Department.name_ru, Department.path,
                                   Department.depth).where(Department.active == True).order_by(Department.path).run()  # noqa: E712
    for r in rows:
        r["name"] = department_name(r)
    if can(actor, "internal_service.catalogue_all"):
        return rows
    headed = await department_paths_headed(actor.person_id) if actor.is_person else []  # type: ignore[arg-type]
    return [r for r in rows if any(r["path"].startswith(h) for h in headed)]


async def catalogue(actor: Actor) -> list[dict[str, Any]]:
    """Active services by provider, each with whom it is for; HR/admins and heads also see retired ones."""
    require(actor, "internal_service.view")
    editable = {d["id"] for d in await maintainable_departments(actor)}
    services = await db.fetch(
        "SELECT s.*, d.name_en AS d_name_en, d.name_ru AS d_name_ru FROM internal_service s"
        " JOIN department d ON d.id = s.provider ORDER BY d.path, s.id"
    )
    audiences = await db.fetch(
        "SELECT a.service, d.name_en, d.name_ru FROM internal_service_audience a JOIN department d ON d.id = a.department"
        " ORDER BY d.path"
    )
    by_service: dict[int, list[str]] = {}
    for a in audiences:
        by_service.setdefault(a["service"], []).append(department_name(a))
    result = []
    for s in services:
        may_edit = s["provider"] in editable
        if not s["active"] and not may_edit:
            continue
        result.append({**s, "name": service_name(s), "description": service_description(s),
                       "provider_name": department_name(s, "d_"), "audience": by_service.get(s["id"], []), "may_edit": may_edit})
    return result


def _service_values(data: dict[str, Any]) -> dict[str, Any]:
    audience = data.get("audience") or []
    if isinstance(audience, str):
        audience = [audience]
    return {
        "provider_id": str(data.get("provider_id", "")).strip(),
        "name_en": str(data.get("name_en", "")).strip(), "name_ru": str(data.get("name_ru", "")).strip(),
        "description_en": str(data.get("description_en", "")).strip(), "description_ru": str(data.get("description_ru", "")).strip(),
        "for_all": str(data.get("for_all", "")) in ("1", "on", "true", "True"),
        "audience": [str(a) for a in audience if str(a).isdigit()],
        "active": str(data.get("active", "1")) in ("1", "on", "true", "True"),
    }


async def save_service(actor: Actor, service_id: int | None, data: dict[str, Any]) -> int:
    """Create (``service_id`` None) or change a catalogue entry. The head of the providing
    department (or one above) and HR/admins may; anyone else gets 403. Audited."""
    require(actor, "internal_service.view")
    before = await internal_service_for(actor, service_id, write=True) if service_id else None
    v = _service_values(data)
    errors: dict[str, list[str]] = {}
    allowed = {d["id"] for d in await maintainable_departments(actor)}
    if not allowed:
        raise Forbidden()
    provider = int(v["provider_id"]) if v["provider_id"].isdigit() else None
    if provider is None:
        errors["provider_id"] = [_("Choose the department that provides the service.")]
    elif provider not in allowed:
        errors["provider_id"] = [_("You keep the catalogue of your own departments only.")]
    for name in ("name_en", "name_ru"):
        if not v[name]:
            errors[name] = [_("Give the service a name in both languages.")]
        elif len(v[name]) > 200:
            errors[name] = [_("At most 200 characters.")]
    for name in ("description_en", "description_ru"):
        if len(v[name]) > 2000:
            errors[name] = [_("At most 2000 characters.")]
    audience = sorted({int(a) for a in v["audience"]})
    if not v["for_all"]:
        if not audience:
            errors["audience"] = [_("Choose the departments the service is for, or make it for everyone.")]
        else:
            found = await Department.count().where(Department.id.is_in(audience) & (Department.active == True)).run()  # noqa: E712
            if found != len(audience):
                errors["audience"] = [_("Choose departments from the list.")]
    if errors:
        raise FormInvalid(errors)
    values = {"provider": provider, "name_en": v["name_en"], "name_ru": v["name_ru"], "description_en": v["description_en"],
              "description_ru": v["description_ru"], "for_all": v["for_all"], "active": v["active"] if before else True}
    now = utcnow()
    async with db.write():
        if before is None:
            row = InternalService(**values, created_at=now, updated_at=now)
            await row.save().run()
            service_id = row.id
        else:
            await InternalService.update({**{getattr(InternalService, k): x for k, x in values.items()},
                                          InternalService.updated_at: now}).where(InternalService.id == service_id).run()
        await ServiceAudience.delete().where(ServiceAudience.service == service_id).run()
        if not v["for_all"]:
            await ServiceAudience.insert(*[ServiceAudience(service=service_id, department=d) for d in audience]).run()
        await audit.record(actor, "internal_service.created" if before is None else "internal_service.changed",
                           object_type="internal_service", object_id=service_id, summary=values["name_en"],
                           before={k: before[k] for k in values} if before else None,
                           after={**values, "audience": [] if v["for_all"] else audience})
    return service_id  # type: ignore[return-value]


async def service_form_values(actor: Actor, service_id: int) -> dict[str, Any]:
    row = await internal_service_for(actor, service_id, write=True)
    audience = await ServiceAudience.select(ServiceAudience.department).where(ServiceAudience.service == service_id).run()
    return {"provider_id": row["provider"], "name_en": row["name_en"], "name_ru": row["name_ru"],
            "description_en": row["description_en"], "description_ru": row["description_ru"], "for_all": row["for_all"],
            "audience": [str(a["department"]) for a in audience], "active": row["active"]}


# --- who receives what --------------------------------------------------------------------------


def _is_own(rater_path: str, provider_path: str) -> bool:
    """The rater works in the providing department or below it."""
    return rater_path.startswith(provider_path)


async def services_received(department: dict[str, Any]) -> list[dict[str, Any]]:
    """Active services provided to this department (for everyone, or to it or a department
    above it), never its own or those of a department above it."""
    rows = await db.fetch(
        "SELECT s.id, s.name_en, s.name_ru, s.provider, s.for_all, d.path AS provider_path,"
        " d.name_en AS d_name_en, d.name_ru AS d_name_ru FROM internal_service s JOIN department d ON d.id = s.provider"
        " WHERE s.active = {} ORDER BY d.path, s.id", True,
    )
    targeted = await db.fetch(
        "SELECT a.service, d.path FROM internal_service_audience a JOIN department d ON d.id = a.department"
    )
    audience: dict[int, list[str]] = {}
    for t in targeted:
        audience.setdefault(t["service"], []).append(t["path"])
    path = department["path"]
    result = []
    for r in rows:
        if _is_own(path, r["provider_path"]):
            continue
        if r["for_all"] or any(path.startswith(p) for p in audience.get(r["id"], [])):
            result.append({**r, "name": service_name(r), "provider_name": department_name(r, "d_")})
    return result


# --- rounds -------------------------------------------------------------------------------------


async def current_round(on: date | None = None) -> dict[str, Any] | None:
    on = on or today()
    return await RatingRound.select().where((RatingRound.opens_on <= on) & (RatingRound.closes_on >= on)
                                            & RatingRound.closed_at.is_null()).order_by(
        RatingRound.opens_on, ascending=False).first().run()


def round_state(row: dict[str, Any], on: date | None = None) -> str:
    """open, planned or closed (by date, or early by HR)."""
    on = on or today()
    if row.get("closed_at") is not None or row["closes_on"] < on:
        return "closed"
    return "planned" if row["opens_on"] > on else "open"


async def list_rounds(actor: Actor) -> list[dict[str, Any]]:
    require(actor, "internal_service.rounds")
    rounds = await RatingRound.select().order_by(RatingRound.opens_on, ascending=False).run()
    counts = {r["round"]: r["n"] for r in await db.fetch(
        "SELECT round, COUNT(*) AS n FROM internal_service_rating WHERE round IS NOT NULL GROUP BY round")}
    on = today()
    for r in rounds:
        r["ratings"] = counts.get(r["id"], 0)
        r["state"] = round_state(r, on)
    return rounds


async def launch_round(actor: Actor, data: dict[str, Any]) -> int:
    """HR opens a survey round; the foundation's minimum group size is copied into it. Rounds may
    not overlap, so everyone has one list at a time. Audited."""
    require(actor, "internal_service.rounds")
    errors: dict[str, list[str]] = {}
    title = str(data.get("title", "")).strip()
    if not title:
        errors["title"] = [_("Give the round a title, e.g. “Q3 2026”.")]
    elif len(title) > 200:
        errors["title"] = [_("At most 200 characters.")]
    opens, closes = date_range(data, errors, today=today(), closes_before_opens=_("The round cannot close before it opens."),
                               already_closed=_("The round would already be closed."))
    if opens and closes and "closes_on" not in errors:
        overlapping = next((r for r in await RatingRound.select().where(
            (RatingRound.opens_on <= closes) & (RatingRound.closes_on >= opens)).run()
            if not _cancelled(r)), None)
        if overlapping:
            errors["opens_on"] = [_("These dates overlap the round “%(title)s”.", title=overlapping["title"])]
    if errors:
        raise FormInvalid(errors)
    k = get_settings().min_group_size
    async with db.write():
        row = RatingRound(title=title, opens_on=opens, closes_on=closes, min_group_size=k, created_by=actor.person_id,
                          created_at=utcnow())
        await row.save().run()
        await audit.record(actor, "internal_service.round_launched", object_type="internal_service_round", object_id=row.id,
                           summary=title, after={"opens_on": opens.isoformat(), "closes_on": closes.isoformat(),  # type: ignore[union-attr]
                                                 "min_group_size": k})
        await summary.bump_version()  # the periods' rounds (and maybe the minimum) change: decide again
    return row.id


def _cancelled(row: dict[str, Any]) -> bool:
    """Closed before it ever opened: its dates hold no place in the calendar."""
    return row.get("closed_at") is not None and row["closed_at"].date() < row["opens_on"]


async def close_round(actor: Actor, round_id: int) -> None:
    """HR closes a round before its last day: from now on it refuses ratings and drops off
    everyone's home page; what was rated stays. A planned round closed this way never opens.
    Audited."""
    require(actor, "internal_service.rounds")
    row = await RatingRound.select().where(RatingRound.id == round_id).first().run()
    if row is None:
        raise NotFound()
    on = today()
    if round_state(row, on) == "closed":
        raise FormInvalid({"__all__": [_("This round is already closed.")]})
    now = utcnow()
    closes = max(row["opens_on"], min(row["closes_on"], on))
    async with db.write():
        await RatingRound.update({RatingRound.closed_at: now, RatingRound.closed_by: actor.person_id,
                                  RatingRound.closes_on: closes}).where(RatingRound.id == round_id).run()
        await audit.record(actor, "internal_service.round_closed", object_type="internal_service_round", object_id=round_id,
                           summary=row["title"], before={"closes_on": row["closes_on"].isoformat()},
                           after={"closes_on": closes.isoformat(), "closed_at": now.isoformat()})
        await summary.bump_version()  # the round's dates decide which periods it belongs to


@dataclass
class Checklist:
    round: dict[str, Any] | None
    items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def done(self) -> int:
        return sum(1 for i in self.items if i["rated"])

    @property
    def percent(self) -> int:
        return int(round(100 * self.done / self.total)) if self.total else 100


async def round_checklist(actor: Actor) -> Checklist:
    """The services the actor's department receives, to rate in the open round, with progress."""
    require(actor, "internal_service.rate")
    current = await current_round()
    department = await _person_department(actor)
    if current is None or department is None:
        return Checklist(round=current)
    services = await services_received(department)
    rated = {r["service"] for r in await Rating.select(Rating.service).where(
        (Rating.rater == actor.person_id) & (Rating.round == current["id"]) & Rating.request_ref.is_null()).run()}
    return Checklist(round=current, items=[{**s, "rated": s["id"] in rated} for s in services])


# --- ratings ------------------------------------------------------------------------------------


def _score(raw: Any) -> int | None:
    text = str(raw if raw is not None else "").strip()
    if text.isdigit() and 1 <= int(text) <= 5:
        return int(text)
    return None


async def rate(actor: Actor, service_id: int, data: dict[str, Any], *, on: date | None = None) -> int:
    """Record one rating. Refused, with nothing saved: a score outside 1-5, a service of the
    rater's own department or one their department does not receive, a closed round, a second
    rating of the same request (or, without a request, in the same round). A rating of
    ``LOW_SCORE`` or lower opens a follow-up for the rated department's heads."""
    require(actor, "internal_service.rate")
    service = await internal_service_for(actor, service_id)
    on = on or today()
    errors: dict[str, list[str]] = {}
    scores: dict[str, int] = {}
    for name in ("overall", *CRITERIA):
        value = _score(data.get(name))
        if value is None:
            errors[name] = [_("Choose a score from 1 to 5.")]
        else:
            scores[name] = value
    comment = str(data.get("comment", "")).strip()
    if len(comment) > 2000:
        errors["comment"] = [_("At most 2000 characters.")]
    request_ref = str(data.get("request_ref", "")).strip() or None
    if request_ref and len(request_ref) > 100:
        errors["request_ref"] = [_("At most 100 characters.")]
    department = await _person_department(actor)
    provider = await Department.select().where(Department.id == service["provider"]).first().run()
    general: list[str] = []
    if department is None:
        general.append(_("You are not in a department, so there is nothing for you to rate."))
    elif _is_own(department["path"], provider["path"]):
        general.append(_("You cannot rate a service of your own department."))
    elif not service["active"] or service["id"] not in {s["id"] for s in await services_received(department)}:
        general.append(_("Your department does not receive this service."))
    round_id: int | None = None
    raw_round = str(data.get("round_id", "")).strip()
    if raw_round:
        chosen = await RatingRound.select().where(RatingRound.id == int(raw_round)).first().run() if raw_round.isdigit() else None
        if chosen is None or round_state(chosen, on) != "open":
            general.append(_("This survey round is closed; ratings are no longer accepted."))
        else:
            round_id = chosen["id"]
    else:
        current = await current_round(on)
        round_id = current["id"] if current else None
        if round_id is None and not request_ref:
            errors.setdefault("request_ref", []).append(
                _("No survey round is open: name the request you are rating."))
    if general:
        errors["__all__"] = general
    if not errors:
        if await _already_rated(actor.person_id, service_id, request_ref, round_id):  # type: ignore[arg-type]
            errors["__all__"] = [_("You have already rated this request.") if request_ref
                                 else _("You have already rated this service in this round.")]
    if errors:
        raise FormInvalid(errors)
    try:
        async with db.write():
            row = Rating(service=service_id, rater=actor.person_id, rater_department=department["id"],  # type: ignore[index]
                         provider_department=service["provider"], round=round_id, request_ref=request_ref, comment=comment,
                         may_contact=str(data.get("may_contact", "")) in ("1", "on", "true"), rated_on=on,
                         created_at=utcnow(), **scores)
            await row.save().run()
            await summary.add_rating(rater=actor.person_id, rater_department=department["id"],  # type: ignore[arg-type,index]
                                     provider_department=service["provider"], service=service_id, round_id=round_id,
                                     rated_on=on, scores=scores)
            if scores["overall"] <= LOW_SCORE:
                await FollowUp(rating=row.id, provider_department=service["provider"], status="open", created_at=utcnow()).save().run()
    except Exception as exc:  # the unique index: a second tab or a double click got there first
        if "unique" in str(exc).lower():
            raise FormInvalid({"__all__": [_("You have already rated this request.") if request_ref
                                           else _("You have already rated this service in this round.")]}) from None
        raise
    return row.id


async def _already_rated(rater: int, service_id: int, request_ref: str | None, round_id: int | None) -> bool:
    query = Rating.count().where((Rating.rater == rater) & (Rating.service == service_id))
    if request_ref:
        query = query.where(Rating.request_ref == request_ref)
    else:
        query = query.where(Rating.request_ref.is_null() & (Rating.round == round_id))
    return await query.run() > 0


async def rating_page(actor: Actor, service_id: int) -> dict[str, Any]:
    require(actor, "internal_service.rate")
    service = await internal_service_for(actor, service_id)
    provider = await Department.select().where(Department.id == service["provider"]).first().run()
    return {"service": {**service, "name": service_name(service), "description": service_description(service),
                        "provider_name": department_name(provider or {})},
            "round": await current_round()}


# --- follow-ups ---------------------------------------------------------------------------------


async def follow_ups(actor: Actor, status: str = "open") -> list[dict[str, Any]]:
    """Follow-ups of the departments the actor heads (and those below); no rater named."""
    require(actor, "internal_service.view")
    headed = await department_paths_headed(actor.person_id) if actor.is_person else []  # type: ignore[arg-type]
    if not headed:
        return []
    where = " OR ".join(["d.path LIKE {}"] * len(headed))
    rows = await db.fetch(
        "SELECT f.id, f.status, f.created_at, f.resolved_at, r.overall, s.name_en, s.name_ru, d.name_en AS d_name_en,"
        " d.name_ru AS d_name_ru FROM internal_service_follow_up f JOIN internal_service_rating r ON r.id = f.rating"
        " JOIN internal_service s ON s.id = r.service JOIN department d ON d.id = f.provider_department"
        f" WHERE ({where}) AND f.status = {{}} ORDER BY f.created_at DESC, f.id DESC LIMIT 200",
        *[h + "%" for h in headed], "open" if status != "resolved" else "resolved",
    )
    for r in rows:
        r["service_name"] = service_name(r)
        r["department_name"] = department_name(r, "d_")
    return rows


async def follow_up_card(actor: Actor, follow_up_id: int) -> dict[str, Any]:
    """What the head may see: the service and the scores; the comment and the request reference
    only when the rater agreed to be contacted. Never the rater or their department."""
    follow_up = await follow_up_for(actor, follow_up_id)
    rating = await Rating.select().where(Rating.id == follow_up["rating"]).first().run()
    service = await InternalService.select().where(InternalService.id == rating["service"]).first().run()
    consent = rating["may_contact"]
    return {
        "follow_up": follow_up,
        "service_name": service_name(service),
        "scores": {name: rating[name] for name in ("overall", *CRITERIA)},
        "rated_on": rating["rated_on"],
        "consent": consent,
        "comment": rating["comment"] if consent else None,
        "request_ref": rating["request_ref"] if consent else None,
    }


async def resolve_follow_up(actor: Actor, follow_up_id: int, data: dict[str, Any]) -> None:
    """The head records the response and the resolution; the rater is told it was resolved
    (a notification only they see) and the department never learns who they are. Audited."""
    follow_up = await follow_up_for(actor, follow_up_id)
    errors: dict[str, list[str]] = {}
    response = str(data.get("response", "")).strip()
    resolution = str(data.get("resolution", "")).strip()
    if follow_up["status"] == "resolved":
        errors["__all__"] = [_("This follow-up is already resolved.")]
    if not response:
        errors["response"] = [_("Write what you found out.")]
    if not resolution:
        errors["resolution"] = [_("Write what was done about it.")]
    for name, value in (("response", response), ("resolution", resolution)):
        if len(value) > 4000:
            errors[name] = [_("At most 4000 characters.")]
    if errors:
        raise FormInvalid(errors)
    rating = await Rating.select(Rating.rater, Rating.service).where(Rating.id == follow_up["rating"]).first().run()
    service = await InternalService.select().where(InternalService.id == rating["service"]).first().run()
    rater = await Person.select(Person.language).where(Person.id == rating["rater"]).first().run()
    with use_language((rater or {}).get("language") or get_settings().default_language):
        text = _("Your low rating of “%(service)s” was followed up and resolved: %(resolution)s",
                 service=service_name(service), resolution=resolution)
    async with db.write():
        await FollowUp.update({FollowUp.status: "resolved", FollowUp.response: response, FollowUp.resolution: resolution,
                               FollowUp.resolved_by: actor.person_id, FollowUp.resolved_at: utcnow()}).where(
            FollowUp.id == follow_up_id).run()
        await outbox.notify(rating["rater"], text, link="/internal-service/round")
        # The entry names the follow-up, never the rating or the rater.
        await audit.record(actor, "internal_service.follow_up_resolved", object_type="internal_service_follow_up",
                           object_id=follow_up_id, summary=service["name_en"], after={"resolution": resolution})


# --- figures: the matrix, scorecards and the index ----------------------------------------------


def window(on: date | None = None, months: int = WINDOW_MONTHS) -> tuple[date, date]:
    """The period the matrix and scorecards show: whole months, the current one included."""
    on = on or today()
    year, month = on.year, on.month - (months - 1)
    while month < 1:
        month += 12
        year -= 1
    return date(year, month, 1), on


async def min_group(since: date | None = None, until: date | None = None) -> int:
    """The minimum for every figure: today's setting, or a round's snapshot if one is larger.
    One value for all periods and pages, so the same figure is hidden or shown everywhere."""
    k = get_settings().min_group_size
    rows = await db.fetch("SELECT MAX(min_group_size) AS k FROM internal_service_round")
    return max(k, (rows[0]["k"] or 0) if rows else 0)


@dataclass
class Tree:
    """The department tree in memory: ids by parent, and each department's path as ids."""

    rows: dict[int, dict[str, Any]]
    children: dict[int | None, list[int]]

    @classmethod
    async def load(cls) -> Tree:
        rows = await db.fetch("SELECT id, parent, path, depth, name_en, name_ru, active FROM department ORDER BY path")
        by_id = {r["id"]: {**r, "ids": [int(x) for x in r["path"].strip("/").split("/") if x]} for r in rows}
        children: dict[int | None, list[int]] = {}
        for r in rows:  # closed departments too: their old ratings still add up into their parent's
            children.setdefault(r["parent"], []).append(r["id"])
        return cls(by_id, children)

    @property
    def parents(self) -> dict[int, int | None]:
        return {d: r["parent"] for d, r in self.rows.items()}

    @property
    def fingerprint(self) -> int:
        """Changes when a department is added, moved, closed or reopened: part of a decision's key."""
        return hash(tuple((d, r["parent"], bool(r["active"])) for d, r in sorted(self.rows.items())))

    def shown(self, key: tuple) -> bool:
        """Open departments always have a row; closed ones, and a node's own people, only when
        they have figures."""
        return key[0] == "s" and bool(self.rows.get(key[1], {}).get("active"))

    def groups_at(self, node: int | None) -> list[tuple]:
        kids = [("s", c) for c in self.children.get(node, [])]
        return kids + ([("a", node)] if node is not None else [])

    def label(self, key: tuple) -> str:
        if key[0] == "all":
            return _("All departments")
        name = department_name(self.rows[key[1]]) if key[1] in self.rows else ""
        return _("%(name)s itself", name=name) if key[0] == "a" else name

    def trail(self, node: int | None) -> list[dict[str, Any]]:
        if node is None or node not in self.rows:
            return []
        return [{"id": i, "name": department_name(self.rows[i])} for i in self.rows[node]["ids"] if i in self.rows]



# --- one decision per period, made by the worker ---------------------------------------------------
#
# Deciding what to hide costs up to seconds of CPU (the search for witnesses, ``disclosure``), so no
# request pays for it: every change of the summary schedules the job ``FIGURES_JOB`` in its own
# transaction (``summary.bump_version``; one job per 5-second bucket, run after the bucket ends,
# so a burst of ratings is decided once), which decides the period and stores the decided figures
# (``internal_service_figures``, one row per digest of the inputs). Pages read the newest stored
# figures of their period — every figure from that one decision, never the live summary next to an
# older hidden set, which could give a hidden figure back — and say how many newer ratings are
# still being counted. Only a period that was never decided (a fresh database, a past month a
# report asks for first, a raised minimum) is decided in the request, once per process: showing
# "being prepared" instead would leave a fresh installation's and the monthly report's first
# reader with nothing, for a cost (well under a second on round-shaped data) paid once.

FIGURES_JOB = summary.FIGURES_JOB
KEEP_DECISIONS = 6  # decoded figures kept in memory per process (the current period, a few rounds)
KEEP_STORED = 3  # rows kept per period: the newest, and two a page may still be reading
_figures: OrderedDict[str, disclosure.Figures] = OrderedDict()  # by digest
_pending: dict[tuple, asyncio.Future] = {}
# Figures of the current period this much older than the summary: its bucket's job was lost.
FIGURES_OVERDUE = timedelta(minutes=1)
_nudged: dict[str, None] = {}  # bucket keys this process scheduled for overdue figures
_CODE = hashlib.sha256(Path(disclosure.__file__).read_bytes()).hexdigest()  # a new rule never reads an old decision
log = logging.getLogger("servicechain.internal_service")


def _round_sets(rows: list[dict[str, Any]], first: date) -> tuple[list[int], date]:
    """The rounds whose ratings reach into the universe's months, and the first month their
    ratings may have (a round that began before the trend's first month)."""
    inside = [r for r in rows if r["closes_on"] >= first]
    start = min([first, *(summary.month_of(r["opens_on"]) for r in inside)])
    return sorted(r["id"] for r in inside), start


@dataclass
class Period:
    """What one decision covers: the 12-month window ending with ``until``'s month, the 24 months
    of the trend and every round with ratings in them (``name`` "2026-11"), or one round wholly
    before them (``name`` "round:12"). ``since`` is the first month whose ratings ``counted``
    counts (None: the round's ratings, whatever the month)."""

    name: str
    until: date
    round_id: int | None
    rounds: list[int]
    first: date | None
    since: date | None
    months: list[str]
    options: dict[str, Any]


async def period_of(until: date, round_id: int | None = None) -> Period:
    months = months_back(until, TREND_MONTHS)
    trend_first = first_of_month(months[0])
    rounds = await db.fetch("SELECT id, opens_on, closes_on FROM internal_service_round WHERE opens_on <= {}", until)
    in_rounds, first = _round_sets(rounds, trend_first)
    if round_id is not None and round_id not in in_rounds:
        return Period(f"round:{int(round_id)}", until, round_id, [round_id], None, None, months,
                      {"window": (), "rounds": [round_id], "kinds": (ROUND,)})
    window = months[-WINDOW_MONTHS:]
    return Period(months[-1], until, None, in_rounds, first, trend_first, months,
                  {"window": window, "trend": months, "rounds": in_rounds,
                   "quarters": {m: i // 3 for i, m in enumerate(window)}})


async def _atoms(where: str, args: list[Any], k: int, tree: Tree) -> list[Atom]:
    """The summary rows as atoms; rater lists only of rows under the minimum (a figure with a
    row of ``k`` people has them, whatever its other rows)."""
    rows = await db.fetch(
        "SELECT rater_department AS r, provider_department AS p, service AS s, CAST(month AS TEXT) AS m, round AS n,"
        " ratings, overall, speed, quality, courtesy, willingness, people,"
        f" CASE WHEN people < {int(k)} THEN raters END AS raters FROM internal_service_monthly WHERE {where}"
        " ORDER BY month, rater_department, provider_department, service, round", *args)
    known = tree.rows
    return [Atom(r["r"], r["p"], r["s"], str(r["m"])[:7], r["n"], r["ratings"],
                 (r["overall"], r["speed"], r["quality"], r["courtesy"], r["willingness"]), r["people"], r["raters"] or "")
            for r in rows if r["r"] in known and r["p"] in known and r["ratings"]]


async def _period_atoms(period: Period, k: int, tree: Tree) -> list[Atom]:
    if period.first is None:
        return await _atoms("round = {}", [period.round_id], k, tree)
    rows = await _atoms("month >= {} AND month <= {}", [period.first, period.until], k, tree)
    wanted = set(period.rounds)
    return [a for a in rows if a.month >= period.months[0] or a.round in wanted]


def _counted(period: Period, atoms: Iterable[Atom]) -> int:
    """The ratings a decision holds, as ``_count_now`` counts them today."""
    if period.since is None:
        return sum(a.count for a in atoms)
    return sum(a.count for a in atoms if a.month >= period.months[0])


async def _count_now(period: Period) -> int:
    if period.since is None:
        rows = await db.fetch("SELECT COALESCE(SUM(ratings), 0) AS n FROM internal_service_monthly WHERE round = {}",
                              period.round_id)
    else:
        rows = await db.fetch("SELECT COALESCE(SUM(ratings), 0) AS n FROM internal_service_monthly"
                              " WHERE month >= {} AND month <= {}", period.since, period.until)
    return int(rows[0]["n"])


def _decision_digest(parents: dict[int, int | None], atoms: list[Atom], k: int, options: dict[str, Any]) -> str:
    """Content address of a decision: the rule's code, the minimum, the period's options, the
    tree and every summary row it reads. Equal digests mean equal inputs, so stored figures can
    never be read for other data (no reliance on the version row)."""
    h = hashlib.sha256()
    h.update(repr((_CODE, k, sorted((name, repr(value)) for name, value in options.items()),
                   sorted(parents.items(), key=lambda item: item[0]))).encode())
    for a in atoms:
        h.update(repr(a).encode())
    return h.hexdigest()


def _when(value: Any) -> datetime:
    """A stored timestamp (SQLite hands back text)."""
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@dataclass
class Lag:
    """How far the figures a page shows are behind the ratings: ``newer`` ratings of the period
    came after the decision read the summary at ``as_of`` (0: the figures are current)."""

    as_of: datetime | None = None
    newer: int = 0


def _writing() -> bool:
    """Whether the caller holds a write transaction, whose changes no worker can see yet (a
    command, a rolled-back test). Pages on SQLite hold a read snapshot instead (``db.read``)."""
    current = db.engine().current_transaction.get()
    return current is not None and getattr(current, "transaction_type", None) is not TransactionType.deferred


async def _outside(write: Callable[[], Awaitable[None]]) -> None:
    """``write`` in a transaction of its own, also from inside a page's read snapshot (on SQLite a
    reader does not block the one writer); never from inside a write transaction, which holds
    the lock that write would wait for."""
    if not _writing():
        await _outside_result(write)


async def _outside_result(work: Callable[[], Awaitable[Any]]) -> Any:
    """``work`` outside the caller's transaction (a read snapshot), returning its result."""
    context = contextvars.copy_context()
    context.run(db.engine().current_transaction.set, None)
    return await asyncio.create_task(work(), context=context)


def _keep(digest: str, figures: disclosure.Figures) -> disclosure.Figures:
    _figures[digest] = figures
    _figures.move_to_end(digest)
    while len(_figures) > KEEP_DECISIONS:
        _figures.popitem(last=False)
    return figures


async def _stored(digest: str) -> disclosure.Figures | None:
    """The stored figures of ``digest``, decoded once per process; None when the row is gone.
    Raises ``disclosure.Damaged`` when its bytes are not what was stored."""
    found = _figures.get(digest)
    if found is not None:
        _figures.move_to_end(digest)
        return found
    rows = await db.fetch("SELECT checksum, payload FROM internal_service_figures WHERE digest = {}", digest)
    if not rows:
        return None
    try:
        blob = base64.b64decode(rows[0]["payload"], validate=True)
    except ValueError as exc:
        raise disclosure.Damaged("the stored figures are not base64") from exc
    figures = await asyncio.to_thread(disclosure.Figures.from_bytes, blob, rows[0]["checksum"])
    return _keep(digest, figures)


async def _drop_damaged(digest: str, error: Exception) -> None:
    log.warning("internal service: stored figures %s refused (%s); deciding again", digest, error)
    _figures.pop(digest, None)

    async def drop() -> None:
        async with db.write():
            await db.fetch("DELETE FROM internal_service_figures WHERE digest = {}", digest)

    await _outside(drop)


async def make_figures(period: Period, k: int, tree: Tree) -> tuple[str, disclosure.Figures]:
    """Decide ``period`` from the summary as it is now and store the decided figures (unless
    the caller holds a write transaction: see ``_outside``). Stored figures of the
    same inputs are reused: their row only learns the newer version and time. Two workers
    deciding the same inputs at once store one row (the digest is the primary key)."""
    async with db.read():  # on SQLite the version and the rows from one snapshot
        as_of = utcnow()
        version = await summary.version()
        atoms = await _period_atoms(period, k, tree)
    digest = _decision_digest(tree.parents, atoms, k, period.options)
    meta = {"period": period.name, "k": k, "version": version, "tree": tree.fingerprint,
            "rounds": json.dumps(period.rounds), "since": period.since or period.until, "counted": _counted(period, atoms),
            "as_of": as_of}
    try:
        made = await _stored(digest)
    except disclosure.Damaged as exc:
        await _drop_damaged(digest, exc)
        made = None
    if made is not None and await db.fetch("SELECT digest FROM internal_service_figures WHERE digest = {}", digest):
        async def learn() -> None:
            async with db.write():
                await db.fetch("UPDATE internal_service_figures SET version = {}, tree = {}, rounds = {}, as_of = {}"
                               " WHERE digest = {} AND as_of < {}", version, meta["tree"], meta["rounds"], as_of,
                               digest, as_of)

        await _outside(learn)
        return digest, made
    if made is not None:
        # Known to this process but its row is gone (pruned as older figures of the period, then
        # the same inputs came back): stored again, or the period would stay behind for good.
        blob = await asyncio.to_thread(made.to_bytes)
    else:
        # CPU work of up to seconds: in a thread, so the process keeps answering.
        made = await asyncio.to_thread(functools.partial(Universe, tree.parents, atoms, k, keep_parts=False,
                                                         **period.options))
        blob = made.to_bytes()

    async def store() -> None:
        async with db.write():
            await db.fetch(
                "INSERT INTO internal_service_figures (digest, period, k, version, tree, rounds, since, counted, as_of,"
                " made_at, checksum, payload) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})"
                " ON CONFLICT (digest) DO NOTHING", digest, meta["period"], k, version, meta["tree"], meta["rounds"],
                meta["since"], meta["counted"], as_of, utcnow(), disclosure.Figures.checksum(blob),
                base64.b64encode(blob).decode())
            # Older figures of the period are never read again once newer are stored: keep a few.
            await db.fetch("DELETE FROM internal_service_figures WHERE period = {} AND digest NOT IN (SELECT digest FROM"
                           " internal_service_figures WHERE period = {} ORDER BY as_of DESC LIMIT {})",
                           period.name, period.name, KEEP_STORED)

    await _outside(store)
    return digest, _keep(digest, made)


def _pending_key(period: Period, k: int, tree: Tree) -> tuple:
    return (period.name, tuple(period.rounds), k, tree.fingerprint)


async def _decide_now(period: Period, k: int, tree: Tree) -> disclosure.Figures:
    """``make_figures``, once per process when several callers need it at once (requests for a
    period with nothing stored, the job)."""
    key = _pending_key(period, k, tree)
    pending = _pending.get(key)
    if pending is not None and pending.get_loop() is asyncio.get_running_loop():
        return await asyncio.shield(pending)
    future: asyncio.Future[disclosure.Figures] = asyncio.get_running_loop().create_future()
    _pending[key] = future
    try:
        _digest, made = await make_figures(period, k, tree)
    except Exception as exc:
        future.set_exception(exc)
        future.exception()  # read, so a failure nobody waited for is not reported twice
        raise
    except BaseException:  # cancelled: whoever waits asks again
        future.cancel()
        raise
    finally:
        _pending.pop(key, None)
    future.set_result(made)
    return made


async def decide_figures(until: date | None = None, round_id: int | None = None) -> bool:
    """The figures job (``FIGURES_JOB``; nothing else calls it): decide the period ending with
    ``until``'s month (today's by default) unless its newest stored figures were decided for the
    summary, tree, minimum and rounds as they are now. Returns whether it decided (or re-read)
    anything. A decision of the same period already under way in this process (a request for
    a period with nothing stored) is awaited first: it may cover this run."""
    until = until or today()
    k = await min_group()
    tree = await Tree.load()
    period = await period_of(until, round_id)
    pending = _pending.get(_pending_key(period, k, tree))
    if pending is not None and pending.get_loop() is asyncio.get_running_loop():
        await asyncio.wait([pending])  # however it ends: what it stored is read below
    newest = await _newest(period, k)
    if newest is not None and not _behind(newest, period, k, tree):
        return False
    # Registered as this process's decision of the period: a request that finds nothing stored
    # meanwhile waits for it instead of deciding the same again.
    await _decide_now(period, k, tree)
    return True


class FiguresPending(RuntimeError):
    """The period's figures did not catch up with the summary in time (no worker took the job)."""


CATCH_UP_POLL = 0.2  # seconds between looks while another worker runs the job


async def refresh_figures(until: date | None = None, round_id: int | None = None, *,
                          patience: timedelta = outbox.CLAIM_FOR) -> None:
    """For readers that sum the summary themselves next to the decision's hidden figures (the
    analytics panel): return once the newest stored figures of the period ending with ``until``'s
    month were decided from the summary as it was at the call, so a newly small group is hidden
    by a decision that knows it. Decides nothing the job decides: a period with nothing stored
    at all is decided here once per process (``_decide_now``), like a page does; stored figures
    that are behind are caught up by the figures job, which this call runs through the job
    queue's claim when it is due and unclaimed (so it still runs once in all processes: a
    worker busy with the caller's own job cannot deadlock it) or else waits for. Raises
    ``FiguresPending`` after ``patience`` (a claim held that long has lapsed)."""
    from servicechain.internal_service import jobs  # noqa: F401  (the job's handler, also in a CLI)

    until = until or today()
    entered = utcnow()
    k = await min_group()
    tree = await Tree.load()
    period = await period_of(until, round_id)
    newest = await _newest(period, k)
    if newest is None:
        await _decide_now(period, k, tree)
        return
    if not _behind(newest, period, k, tree) or _writing():
        return  # current; or the caller's own transaction, which ``decided`` decides from itself
    seen = int(newest["now"])

    def caught_up(row: dict[str, Any] | None) -> bool:
        return row is not None and not _inputs_changed(row, period, k, tree) and (
            int(row["version"]) in (seen, int(row["now"])) or _when(row["as_of"]) >= entered)

    state = hashlib.sha256(repr((period.name, seen, k, tree.fingerprint, period.rounds)).encode()).hexdigest()[:40]

    async def schedule() -> None:
        async with db.write():
            await outbox.schedule(FIGURES_JOB, {"until": until.isoformat(), "round": round_id},
                                  unique_key=f"{FIGURES_JOB}:{state}")

    await _outside(schedule)
    while not caught_up(await _newest(period, k)):
        if utcnow() - entered > patience:
            raise FiguresPending(f"the internal service's figures of {period.name} are still being decided")
        if not await _outside_result(lambda: outbox.run_jobs(limit=1, kinds=(FIGURES_JOB,))):
            await asyncio.sleep(CATCH_UP_POLL)


async def _newest(period: Period, k: int) -> dict[str, Any] | None:
    """The newest stored figures of ``period`` decided with at least the minimum ``k`` (a
    larger one only hides more), with the summary's version now."""
    rows = await db.fetch(
        "SELECT f.digest, f.k, f.version, f.tree, f.rounds, f.counted, f.as_of, v.version AS now"
        " FROM internal_service_figures f CROSS JOIN internal_service_version v"
        " WHERE v.id = 1 AND f.period = {} AND f.k >= {} ORDER BY f.as_of DESC LIMIT 1", period.name, k)
    return rows[0] if rows else None


def _inputs_changed(row: dict[str, Any], period: Period, k: int, tree: Tree) -> bool:
    """Decided for another minimum, tree or set of rounds: no rating's job covers that."""
    return int(row["k"]) != k or int(row["tree"]) != tree.fingerprint or set(period.rounds) != set(json.loads(row["rounds"]))


def _behind(row: dict[str, Any], period: Period, k: int, tree: Tree) -> bool:
    return int(row["version"]) != int(row["now"]) or _inputs_changed(row, period, k, tree)


async def decided(until: date, k: int, tree: Tree, round_id: int | None = None) -> tuple[disclosure.Figures, Lag]:
    """The figures every page of the period ending with ``until``'s month reads (see the section
    text), and how far they are behind the ratings. Reads one row's metadata (and, once per
    process, its figures); when they are behind for a reason no rating's job covers (the tree,
    the rounds, the minimum, a month other than the current one), schedules the job."""
    period = await period_of(until, round_id)
    for _attempt in range(2):
        row = await _newest(period, k)
        if row is None:
            return await _decide_now(period, k, tree), Lag()
        try:
            figures = await _stored(row["digest"])
        except disclosure.Damaged as exc:
            await _drop_damaged(row["digest"], exc)
            return await _decide_now(period, k, tree), Lag()
        if figures is not None:
            break
    else:  # replaced twice while we read: decide rather than loop
        return await _decide_now(period, k, tree), Lag()
    lag = Lag(as_of=_when(row["as_of"]))
    if _behind(row, period, k, tree) and _writing():
        # The caller's own transaction (a command's snapshot, a rolled-back test) may hold changes
        # no worker can see: decided here, from what this transaction reads.
        return await _decide_now(period, k, tree), Lag()
    if _behind(row, period, k, tree):
        if int(row["version"]) != int(row["now"]):
            lag.newer = max(0, await _count_now(period) - int(row["counted"]))
        ratings_scheduled = period.name == months_back(today(), 1)[0] and int(row["version"]) != int(row["now"])
        # A past month or a round's period has no rating's job after it, and a new tree, minimum
        # or set of rounds none at all, even when ratings elsewhere moved the version meanwhile.
        if not ratings_scheduled and (lag.newer or _inputs_changed(row, period, k, tree)):
            state = hashlib.sha256(repr((period.name, int(row["now"]), k, tree.fingerprint, period.rounds)).encode())

            async def schedule() -> None:
                async with db.write():
                    await outbox.schedule(FIGURES_JOB, {"until": until.isoformat(), "round": round_id},
                                          unique_key=f"{FIGURES_JOB}:{state.hexdigest()[:40]}")

            await _outside(schedule)
        elif ratings_scheduled and utcnow() - lag.as_of > FIGURES_OVERDUE:
            # The rating's bucket job should have run by now: one whose transaction committed
            # only after its bucket's job had read the summary (PostgreSQL) has no job after it
            # until the next rating. Schedule the bucket's job (the same key a rating would use).
            key, _run_at = summary.figures_bucket(utcnow())
            if key not in _nudged:
                _nudged[key] = None
                while len(_nudged) > 16:
                    _nudged.pop(next(iter(_nudged)))

                async def nudge() -> None:
                    async with db.write():
                        await summary.schedule_figures()

                await _outside(nudge)
    return figures, lag


async def decision(until: date, k: int, tree: Tree, round_id: int | None = None) -> disclosure.Figures:
    """The decided figures of the period (see ``decided``), for readers that do not say how far
    they are behind (the index, the analytics panel, the monthly report)."""
    figures, _lag = await decided(until, k, tree, round_id)
    return figures


def _lag(lag: Lag) -> dict[str, Any] | None:
    return {"as_of": lag.as_of, "newer": lag.newer} if lag.newer else None


def _group(tree: Tree, node: int | None) -> tuple:
    return ("s", node) if node is not None else ALL


def _cell(figure: Cell) -> dict[str, Any]:
    if figure.hidden:
        return {"hidden": True, "mean": None, "count": None, "css": "is-hidden"}
    return {"hidden": False, "mean": figure.mean, "count": figure.count, "css": colour_class(figure.mean)}


async def matrix_periods(actor: Actor) -> list[dict[str, Any]]:
    """The periods the matrix can show: the last 12 months, or one round that has opened."""
    require(actor, "internal_service.reports")
    rounds = await RatingRound.select(RatingRound.id, RatingRound.title, RatingRound.opens_on).where(
        RatingRound.opens_on <= today()).order_by(RatingRound.opens_on, ascending=False).run()
    return [{"id": r["id"], "title": r["title"]} for r in rounds]


async def matrix(actor: Actor, rater_node: int | None = None, provider_node: int | None = None, *,
                 on: date | None = None, round_id: int | None = None) -> dict[str, Any]:
    """Who rates whom, one level of the tree at a time: rows are the groups of raters under
    ``rater_node`` (its child departments with everything below them, and the node's own
    people), columns the same for providers under ``provider_node``; with row and column totals.
    The period is the last 12 months, or one round's ratings (``round_id``).

    Nothing is decided here: every figure is read from the period's one decision
    (:func:`decision`), which covers every level of both trees, the scorecards, the service
    breakdowns, the index and the rounds' matrices together, so no combination of pages gives
    a hidden figure back. Reads the monthly summary and the tree only."""
    require(actor, "internal_service.reports")
    since, until = window(on)
    tree = await Tree.load()
    roots = tree.children.get(None, [])
    if len(roots) == 1:  # one company at the top: its departments are the first level worth reading
        rater_node = roots[0] if rater_node is None else rater_node
        provider_node = roots[0] if provider_node is None else provider_node
    for node in (rater_node, provider_node):
        if node is not None and node not in tree.rows:
            raise NotFound()
    k = await min_group(since, until)
    chosen_round = None
    if round_id is not None:
        chosen_round = await RatingRound.select().where((RatingRound.id == round_id)
                                                        & (RatingRound.opens_on <= (on or today()))).first().run()
        if chosen_round is None:
            raise NotFound()
    u, lag = await decided(until, k, tree, round_id)
    if chosen_round is None:
        def fig(r: tuple, c: tuple) -> Cell:
            return u.cell(MATRIX, r, c)
        period_since, period_until = since, until
    else:
        def fig(r: tuple, c: tuple) -> Cell:
            return u.cell(ROUND, r, c, round_id=round_id)
        period_since, period_until = chosen_round["opens_on"], chosen_round["closes_on"]
    r_total, p_total = _group(tree, rater_node), _group(tree, provider_node)
    rows = [g for g in tree.groups_at(rater_node) if tree.shown(g) or fig(g, p_total).count]
    cols = [g for g in tree.groups_at(provider_node) if tree.shown(g) or fig(r_total, g).count]
    return {
        "k": k, "since": period_since, "until": period_until, "rater_node": rater_node, "provider_node": provider_node,
        "round": chosen_round, "stale": not await summary.is_current(since, until), "source": "summary", "lag": _lag(lag),
        "rater_trail": tree.trail(rater_node), "provider_trail": tree.trail(provider_node),
        "rows": [{"key": r, "id": r[1], "label": tree.label(r), "drill": r[0] == "s" and bool(tree.children.get(r[1])),
                  "cells": [_cell(fig(r, c)) for c in cols], "total": _cell(fig(r, p_total))} for r in rows],
        "cols": [{"key": c, "id": c[1], "label": tree.label(c), "drill": c[0] == "s" and bool(tree.children.get(c[1]))}
                 for c in cols],
        "totals": [_cell(fig(r_total, c)) for c in cols], "grand": _cell(fig(r_total, p_total)),
    }


@dataclass
class Monthly:
    """Every department's figures by month on one side (``given``: the service it gave, from all
    raters; ``received``: the service its people rated, from all providers), each with
    everything below it, and its 12-month period, as the period's decision has them."""

    months: list[str]
    period_months: list[str]
    figures: dict[tuple[int, str], Cell]
    criteria: dict[tuple[int, str], dict[str, int]]
    period: dict[int, Cell]

    def figure(self, department: int, month: str) -> Cell:
        return self.figures.get((department, month)) or Cell()


async def monthly_figures(side: str, until: date, k: int, tree: Tree | None = None) -> Monthly:
    """Read from the period's decision (for scorecards, the index and the analytics panel)."""
    tree = tree or await Tree.load()
    u = await decision(until, k, tree)
    months = months_back(until, TREND_MONTHS)
    figures: dict[tuple[int, str], Cell] = {}
    criteria: dict[tuple[int, str], dict[str, int]] = {}
    period: dict[int, Cell] = {}
    for d in tree.rows:
        group = ("s", d)
        whole = u.cell(MATRIX, ALL, group) if side == "given" else u.cell(MATRIX, group, ALL)
        if whole.count:
            period[d] = whole
        for m in months:
            f = u.cell(GIVEN, None, group, month=m) if side == "given" else u.cell(RECEIVED, group, None, month=m)
            if f.count:
                figures[(d, m)] = f
                criteria[(d, m)] = {name: f.sums[i + 1] for i, name in enumerate(CRITERIA)}
    return Monthly(months, months[-WINDOW_MONTHS:], figures, criteria, period)


async def scorecard(actor: Actor, department_id: int, *, on: date | None = None) -> dict[str, Any]:
    """A department's internal service as a provider (with everything below it): the mean and
    criteria over the matrix's period, the monthly trend over two years, each service it
    provides, comments without names when the period has at least the minimum raters, and how
    many follow-ups are open. Every figure is read from the period's one decision, the same
    the matrix and the index read."""
    department = await internal_scorecard_for(actor, department_id)
    until = on or today()
    since, _until = window(until)
    trend_since, _x = window(until, TREND_MONTHS)
    k = await min_group(trend_since, until)
    tree = await Tree.load()
    u, lag = await decided(until, k, tree)
    group = ("s", department_id)
    period = u.cell(MATRIX, ALL, group)
    months = {m: u.cell(GIVEN, None, group, month=m) for m in months_back(until, TREND_MONTHS)}
    shown = not period.hidden and period.count > 0
    withheld = False
    if shown and period.people >= k:
        comments = [r["comment"] for r in await db.fetch(
            "SELECT r.comment FROM internal_service_rating r WHERE r.provider_department IN"
            " (SELECT id FROM department WHERE path LIKE {}) AND r.rated_on >= {} AND r.rated_on <= {} AND r.comment <> ''",
            department["path"] + "%", since, until)]
    else:
        comments = []
        withheld = bool(await db.fetch(
            "SELECT 1 AS x FROM internal_service_rating r WHERE r.provider_department IN"
            " (SELECT id FROM department WHERE path LIKE {}) AND r.rated_on >= {} AND r.rated_on <= {} AND r.comment <> ''"
            " LIMIT 1", department["path"] + "%", since, until))
    open_follow_ups = await FollowUp.count().where((FollowUp.provider_department.is_in(
        [d["id"] for d in await db.fetch("SELECT id FROM department WHERE path LIKE {}", department["path"] + "%")]))
        & (FollowUp.status == "open")).run()
    return {
        "department": {**department, "name": department_name(department)},
        "k": k, "since": since, "until": until,
        # Scorecards read the summary only; when it is behind the ratings, the page says so.
        "stale": not await summary.is_current(trend_since, until),
        "lag": _lag(lag),
        "period": _cell(period),
        "index": index_of(period.mean) if shown else None,
        "criteria": [{"name": name, "mean": period.criterion(i + 1) if shown else None} for i, name in enumerate(CRITERIA)],
        # Criteria of a month are sums of the same ratings as its overall figure: shown with it.
        "trend": [{"month": m, **_cell(f), "criteria": {name: f.criterion(i + 1) if f.count and not f.hidden else None
                                                         for i, name in enumerate(CRITERIA)}} for m, f in months.items()],
        "chart": trend_chart([(m, None if f.hidden else f.mean) for m, f in months.items()]),
        "services": await service_breakdown(department, until, tree, u),
        # Sorted by text, not by date, so order cannot tie a comment to a month or a person.
        "comments": sorted(Counter(comments).items()),
        "comments_withheld": not comments and not (shown and period.people >= k) and withheld,
        "open_follow_ups": open_follow_ups,
        "may_follow_up": actor.is_person and any(department["path"].startswith(h) for h in
                                                 await department_paths_headed(actor.person_id)),  # type: ignore[arg-type]
    }


QUARTERS = 4  # the period's services, three months at a time


async def service_breakdown(department: dict[str, Any], until: date, tree: Tree, u: disclosure.Figures) -> list[dict[str, Any]]:
    """Each service the department and those below it provided in the period: mean, ratings,
    criteria, and the trend three months at a time, as the period's decision has them (a
    service is a part of its department's own figure, its quarters parts of the service and of
    the months: all decided together)."""
    departments = {d for d, row in tree.rows.items() if row["path"].startswith(department["path"])}
    wanted = [(d, svc) for d, svc in u.services() if d in departments]
    month_keys = months_back(until, WINDOW_MONTHS)
    blocks = [month_keys[i:i + 3] for i in range(0, len(month_keys), 3)][:QUARTERS]
    entries = []
    for d, svc in wanted:
        f = u.cell(SERVICE, service=(d, svc))
        if f.count:
            entries.append((d, svc, f, [u.cell(SERVICE_QUARTER, service=(d, svc), quarter=i) for i in range(len(blocks))]))
    if not entries:
        return []
    names = {r["id"]: r for r in await InternalService.select(InternalService.id, InternalService.name_en,
                                                              InternalService.name_ru).where(
        InternalService.id.is_in(list({svc for _d, svc, _f, _q in entries}))).run()}
    result = []
    for d, svc, f, quarters in sorted(entries, key=lambda e: (tree.rows[e[0]]["path"], service_name(names.get(e[1], {})))):
        visible = not f.hidden
        result.append({
            "id": svc, "name": service_name(names.get(svc, {})), "provider": department_name(tree.rows[d]), **_cell(f),
            "criteria": {name: f.criterion(i + 1) if visible else None for i, name in enumerate(CRITERIA)},
            "quarters": [{"label": _block_label(blocks[i]), **_cell(q)} for i, q in enumerate(quarters)],
        })
    return result


def _index_entry(figure: Cell | None) -> dict[str, Any]:
    if figure is None or not figure.count:
        return {"index": None, "ratings": 0, "suppressed": False}
    if figure.hidden:
        return {"index": None, "ratings": None, "suppressed": True}
    return {"index": index_of(figure.mean), "ratings": figure.count, "suppressed": False}


async def service_index(department_ids: Iterable[int] | None = None, *, on: date | None = None) -> dict[int, dict[str, Any]]:
    """The internal service index for reports, per department (with everything below it): the
    mean overall score on 0-100 (``index_of``) of the service it *gave* (rated by other
    departments) and of the service it *received* (as its people rated it), over the matrix's
    12 months and for each of the last 24 months. A figure under the minimum, or one that would
    give such a figure back by subtraction, has ``index`` and ``ratings`` None and
    ``suppressed`` True; read from the period's one decision, so the same figures are hidden
    here as on the scorecards and in the matrix. No permission check: the caller (a report)
    decides who reads it.

    Returns ``{department: {"given": entry, "received": entry, "months": [{"month": "2026-11",
    "given": entry, "received": entry}, ...]}}``, entry = ``{"index", "ratings", "suppressed"}``.
    """
    until = on or today()
    trend_since, _x = window(until, TREND_MONTHS)
    k = await min_group(trend_since, until)
    tree = await Tree.load()
    u = await decision(until, k, tree)
    months = months_back(until, TREND_MONTHS)
    wanted = list(department_ids) if department_ids is not None else list(tree.rows)
    result = {}
    for d in wanted:
        if d not in tree.rows:
            continue
        group = ("s", d)
        result[d] = {
            "given": _index_entry(u.cell(MATRIX, ALL, group)), "received": _index_entry(u.cell(MATRIX, group, ALL)),
            "months": [{"month": m, "given": _index_entry(u.cell(GIVEN, None, group, month=m)),
                        "received": _index_entry(u.cell(RECEIVED, group, None, month=m))} for m in months],
        }
    return result



def _block_label(months: list[str]) -> str:
    first, last = months[0], months[-1]
    return f"{first[5:7]}.{first[:4]}–{last[5:7]}.{last[:4]}" if first != last else f"{first[5:7]}.{first[:4]}"


def trend_chart(points: list[tuple[str, float | None]], width: int = 640, height: int = 200) -> Markup:
    """The monthly mean on 1-5 (``points``: month "YYYY-MM", mean or None where hidden), drawn by
    analytics/charts, the one chart code of the pages and the PDF. One line through the months
    that have a figure: rounds are quarterly, so most months have none."""
    return charts.line_chart([("", [(first_of_month(m), v) for m, v in points])], y_label="", y_range=(1, 5),
                             width=width, height=height, decimals=2, join_gaps=True,
                             title=_("Mean overall score by month"))



async def reminder(actor: Actor) -> Checklist | None:
    """For the home page: the open round's checklist when something is left to rate."""
    if not can(actor, "internal_service.rate"):
        return None
    checklist = await round_checklist(actor)
    if checklist.round is None or checklist.total == 0 or checklist.done == checklist.total:
        return None
    return checklist

