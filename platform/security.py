"""Who the actor is, and what they may do: every rule of access lives here.

Three kinds of actor: a signed-in person (session cookie), an integration (API bearer token
with scopes), and nobody. Every route declares the capability it needs in its ``opt`` under
``"policy"``; :func:`policy_guard` runs for all of them and the app refuses to start when a
route declares none, so a new route cannot silently be open. Objects are loaded through the
``*_for`` loaders, which answer 404 for what the actor may not see and 403 for what they may
see but not change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException
from litestar.handlers.base import BaseRouteHandler

from servicechain.platform import db
from servicechain.platform.lib.ids import MAX_ID
from servicechain.platform.people.tables import Department, Person

PUBLIC = "public"


# --- actors ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    kind: Literal["person", "token", "nobody"]
    person_id: int | None = None
    role: str | None = None
    name: str = ""
    language: str | None = None
    department_id: int | None = None
    session_id: int | None = None
    token_id: int | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_person(self) -> bool:
        return self.kind == "person"

    @property
    def label(self) -> str:
        """How the audit log names this actor."""
        if self.kind == "token":
            return f"token:{self.name}"
        if self.kind == "person":
            return f"{self.name} (#{self.person_id})"
        return "system"


NOBODY = Actor(kind="nobody")
SYSTEM = Actor(kind="nobody", name="system")


# --- errors ---------------------------------------------------------------------------------


class NotAuthenticated(HTTPException):
    status_code = 401
    detail = "Sign in to continue"


class Forbidden(HTTPException):
    status_code = 403
    detail = "You may not do this"


class NotFound(HTTPException):
    status_code = 404
    detail = "Not found"


class PolicyMissing(RuntimeError):
    """A route was registered without a policy; the app refuses to start."""


# --- capabilities ---------------------------------------------------------------------------

EVERYONE = {
    "home.view",
    "people.directory",
    "departments.view",
    "account.manage_own",
    "notifications.view_own",
    "goals.view",
}
HR = EVERYONE | {
    "people.view_all",
    "people.edit",
    "people.import",
    "people.invite",
    "departments.edit",
    "audit.view",
}
# Delegated authority: everyone sees and uses their own; those who lead people hand it down
# and see their team's; admins define scopes and root grants.
AUTHORITY_OWN = {"authority.view_own", "authority.use"}
AUTHORITY_LEAD = AUTHORITY_OWN | {"authority.grant", "authority.team"}
ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    "employee": frozenset(EVERYONE | AUTHORITY_OWN),
    "manager": frozenset(EVERYONE | AUTHORITY_LEAD),
    "hr": frozenset(HR | AUTHORITY_OWN),
    "executive": frozenset(EVERYONE | {"people.view_all"} | AUTHORITY_LEAD),
    "admin": frozenset(HR | {"tokens.manage", "roles.grant_admin"} | AUTHORITY_LEAD | {"authority.admin"}),
}

# Recognition and rewards: everyone thanks colleagues and ranks their own reward preferences;
# those who lead people give rewards (to people in their reach only); HR sets reward budgets
# and sees everyone's preferences; admins define the company values.
RECOGNITION_EVERYONE = {"recognition.view", "recognition.give", "rewards.preferences_own"}
RECOGNITION_EXTRA = {
    "manager": {"rewards.give", "rewards.report"},
    "executive": {"rewards.give", "rewards.report"},
    "hr": {"rewards.give", "rewards.budgets", "rewards.preferences_all", "rewards.report"},
    "admin": {"rewards.give", "rewards.budgets", "rewards.preferences_all", "recognition.values_manage", "rewards.report"},
}
ROLE_CAPABILITIES = {
    role: frozenset(caps | RECOGNITION_EVERYONE | RECOGNITION_EXTRA.get(role, set()))
    for role, caps in ROLE_CAPABILITIES.items()
}

# Internal service: everyone reads the catalogue and rates what their department receives;
# department heads maintain their own catalogue and follow-ups (checked by the loaders below);
# those who lead people read the matrix and scorecards; HR launches rounds and keeps the catalogue.
INTERNAL_SERVICE_EVERYONE = {"internal_service.view", "internal_service.rate"}
INTERNAL_SERVICE_EXTRA = {
    "manager": {"internal_service.reports"},
    "executive": {"internal_service.reports"},
    "hr": {"internal_service.reports", "internal_service.rounds", "internal_service.catalogue_all"},
    "admin": {"internal_service.reports", "internal_service.rounds", "internal_service.catalogue_all"},
}
ROLE_CAPABILITIES = {
    role: frozenset(caps | INTERNAL_SERVICE_EVERYONE | INTERNAL_SERVICE_EXTRA.get(role, set()))
    for role, caps in ROLE_CAPABILITIES.items()
}

# Goals: everyone sees and sets their own (goals.view; the rest is decided per goal by
# goal_viewer below); executives, HR and admins set and agree company and department goals.
ROLE_CAPABILITIES = {
    role: frozenset(caps | ({"goals.manage_org"} if role in ("hr", "executive", "admin") else set()))
    for role, caps in ROLE_CAPABILITIES.items()
}


# Quality (QA scorecards, mystery shoppers): everyone sees and answers their own scorecards;
# those who lead people score the people in their reach and read their departments' quality;
# HR and admins score anyone, keep the mystery-shopper checklists and name QA reviewers (people
# of any role who score and audit within a department, see quality_review_scope); executives
# read every department's quality; admins set the criteria's weights.
QUALITY_EXTRA = {
    "manager": {"quality.review_team"},
    "executive": {"quality.reports_all"},
    "hr": {"quality.review_all", "quality.reports_all", "quality.manage"},
    "admin": {"quality.review_all", "quality.reports_all", "quality.manage", "quality.weights"},
}
ROLE_CAPABILITIES = {
    role: frozenset(caps | {"quality.view"} | QUALITY_EXTRA.get(role, set()))
    for role, caps in ROLE_CAPABILITIES.items()
}


# Customer scores: everyone sees and closes the follow-ups assigned to them (the loader below
# decides per follow-up); those who lead people read their departments' scores; HR, executives
# and admins read everyone's; HR and admins import score files.
SCORES_EXTRA = {
    "manager": {"scores.view"},
    "executive": {"scores.view", "scores.view_all"},
    "hr": {"scores.view", "scores.view_all", "scores.import"},
    "admin": {"scores.view", "scores.view_all", "scores.import"},
}
ROLE_CAPABILITIES = {
    role: frozenset(caps | {"scores.follow_ups"} | SCORES_EXTRA.get(role, set()))
    for role, caps in ROLE_CAPABILITIES.items()
}


# Engagement pulses: everyone answers the pulses they are invited to; those who lead people read
# results (managers only their own subtree, checked by pulse_result_scope below); HR and admins
# launch pulses, keep templates and watch participation while a pulse runs.
PULSES_EVERYONE = {"pulses.answer"}
PULSES_EXTRA = {
    "manager": {"pulses.results"},
    "executive": {"pulses.results"},
    "hr": {"pulses.results", "pulses.manage"},
    "admin": {"pulses.results", "pulses.manage"},
}
ROLE_CAPABILITIES = {
    role: frozenset(caps | PULSES_EVERYONE | PULSES_EXTRA.get(role, set()))
    for role, caps in ROLE_CAPABILITIES.items()
}


# Analytics dashboards: executives, HR and admins read the whole company; managers read the
# departments they head with everything below them (analytics_scope below); analytics.view is
# what the routes and the menu ask for: either of the two.
ANALYTICS_EXTRA = {
    "manager": {"analytics.view", "analytics.subtree"},
    "executive": {"analytics.view", "analytics.company"},
    "hr": {"analytics.view", "analytics.company"},
    "admin": {"analytics.view", "analytics.company"},
}
ROLE_CAPABILITIES = {
    role: frozenset(caps | ANALYTICS_EXTRA.get(role, set()))
    for role, caps in ROLE_CAPABILITIES.items()
}


# The monthly executive report: executives and admins generate it and read the archive; HR
# reads the archive.
REPORTS_EXTRA = {
    "executive": {"reports.read", "reports.generate"},
    "admin": {"reports.read", "reports.generate"},
    "hr": {"reports.read"},
}
ROLE_CAPABILITIES = {
    role: frozenset(caps | REPORTS_EXTRA.get(role, set()))
    for role, caps in ROLE_CAPABILITIES.items()
}


def N_(message: str) -> str:
    """Marks a string for the message catalog; it is translated where it is shown."""
    return message


SCOPES: dict[str, str] = {
    "people:read": N_("Read people and departments"),
    "authority:read": N_("Read what people may do without asking (delegated authority)"),
    "authority:use": N_("Record uses of delegated authority"),
}
SCOPE_FOR_CAPABILITY = {
    "api.people.read": "people:read",
    "api.authority.read": "authority:read",
    "api.authority.use": "authority:use",
}

SCOPES["recognition:write"] = N_("Post recognitions on behalf of people (a chat bot)")
SCOPE_FOR_CAPABILITY["api.recognition.write"] = "recognition:write"
SCOPES["scores:write"] = N_("Send customer scores (one token per source system)")
SCOPE_FOR_CAPABILITY["api.scores.write"] = "scores:write"

# Routes anyone may open without signing in. Nothing else is public.
PUBLIC_ROUTES = (
    "/healthz",
    "/login",
    "/language",
    "/password/forgot",
    "/password/reset/{token:str}",
    "/invite/{token:str}",
    "/schema/openapi.json",
    "/static",
)


def can(actor: Actor, capability: str) -> bool:
    if capability == PUBLIC:
        return True
    if actor.kind == "token":
        scope = SCOPE_FOR_CAPABILITY.get(capability)
        return scope is not None and scope in actor.scopes
    if actor.kind == "person":
        return capability in ROLE_CAPABILITIES.get(actor.role or "", frozenset())
    return False


def require(actor: Actor, capability: str) -> None:
    if capability == PUBLIC:
        return
    if actor.kind == "nobody":
        raise NotAuthenticated()
    if not can(actor, capability):
        raise Forbidden()


# Roles whose holders only admins may create, edit or invite (see person_for).
PRIVILEGED_ROLES = ("hr", "executive", "admin")


def assignable_roles(actor: Actor) -> tuple[str, ...]:
    """HR gives the everyday roles; only admins give roles with more rights than HR's own
    or with HR's own (otherwise HR could mint an executive account and sign in as it)."""
    if can(actor, "roles.grant_admin"):
        return ("employee", "manager", "hr", "executive", "admin")
    if can(actor, "people.edit"):
        return ("employee", "manager")
    return ()


def policy_of(handler: BaseRouteHandler) -> str | None:
    # Litestar adds an OPTIONS handler to every path; it only lists the allowed methods.
    if getattr(handler, "http_methods", None) == {"OPTIONS"} and "policy" not in handler.opt:
        return PUBLIC
    return handler.opt.get("policy")


async def policy_guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    capability = policy_of(handler)
    if capability is None:
        raise PolicyMissing(f"route {connection.scope['path']} declares no policy")
    require(actor_of(connection), capability)


def check_every_route_has_policy(route_handlers: list[BaseRouteHandler]) -> None:
    missing = [str(h) for h in route_handlers if policy_of(h) is None]
    if missing:
        raise PolicyMissing("routes without a policy: " + ", ".join(missing))


def actor_of(connection: ASGIConnection) -> Actor:
    return connection.scope.get("user") or NOBODY  # type: ignore[return-value]


# --- reach: whom a manager's rules cover ------------------------------------------------------


# A reporting line longer than this reaches no further up: it bounds the walk on a cycle of
# managers (A reports to B, B to A) and on a line an import got wrong, on both engines.
REACH_DEPTH = 50


async def department_paths_headed(person_id: int) -> list[str]:
    rows = await Department.select(Department.path).where(Department.head == person_id).run()
    return [r["path"] for r in rows]


async def people_in_reach(actor: Actor) -> set[int] | None:
    """Ids of everyone the actor manages; None means everyone (HR, executives, admins)."""
    if can(actor, "people.view_all"):
        return None
    if not actor.is_person:
        return set()
    paths = await department_paths_headed(actor.person_id)  # type: ignore[arg-type]
    ids: set[int] = set()
    for path in paths:
        rows = await db.fetch(
            "SELECT p.id FROM person p JOIN department d ON d.id = p.department "
            "WHERE d.path LIKE {}",
            path + "%",
        )
        ids.update(r["id"] for r in rows)
    # The reporting lines down from the actor, as far as ``_reach_sql`` walks up them.
    rows = await db.fetch(
        "WITH RECURSIVE below(id, depth) AS ("
        " SELECT id, 1 FROM person WHERE manager = {}"
        " UNION SELECT p.id, b.depth + 1 FROM person p JOIN below b ON p.manager = b.id"
        f" WHERE b.depth < {REACH_DEPTH})"
        " SELECT id FROM below",
        actor.person_id,
    )
    ids.update(r["id"] for r in rows)
    ids.discard(actor.person_id)  # type: ignore[arg-type]
    return ids


async def is_in_reach(actor: Actor, person_id: int) -> bool:
    """Whether one person is in the actor's reach, without computing the whole reach (a
    profile page asks this for every visitor): ``reach_among`` asked about one person."""
    if can(actor, "people.view_all"):
        return True
    if not actor.is_person:
        return False
    return person_id in await reach_among(actor.person_id, [person_id])  # type: ignore[arg-type]


def _reach_sql(listed: str) -> str:
    """The one definition of "X is in A's reach", for the people ``listed`` (inlined ints) and
    the actor A (the two ``{}``): a line of managers up from X reaches A within REACH_DEPTH
    steps, or X's department lies in (or below) one that A heads. The same ids come out
    whether the people are asked about one at a time or all together."""
    return ("WITH RECURSIVE up(start, id, depth) AS ("
            f" SELECT id, manager, 1 FROM person WHERE id IN ({listed}) AND manager IS NOT NULL"
            " UNION SELECT u.start, p.manager, u.depth + 1 FROM up u JOIN person p ON p.id = u.id"
            f" WHERE p.manager IS NOT NULL AND u.depth < {REACH_DEPTH})"
            " SELECT start AS id FROM up WHERE id = {}"
            " UNION SELECT p.id FROM person p JOIN department d ON d.id = p.department"
            " JOIN department h ON h.head = {} AND d.path LIKE h.path || '%'"
            f" WHERE p.id IN ({listed})")


async def reach_among(person_id: int, among: Iterable[int | None]) -> frozenset[int]:
    """Which of ``among`` the person manages (``_reach_sql``), in one query: ``people_in_reach``
    asked of a few people instead of listing everyone below. Seeing everyone (HR, executives)
    is the callers' to decide; the person themself is never in their own reach."""
    ids = sorted({int(i) for i in among if i is not None and i != person_id})
    if not ids:
        return frozenset()
    listed = ", ".join(str(i) for i in ids)  # ints: safe to inline, and one plan for any count
    return frozenset(r["id"] for r in await db.fetch(_reach_sql(listed), person_id, person_id))


# --- loaders ----------------------------------------------------------------------------------


async def person_for(actor: Actor, person_id: int, *, write: bool = False) -> dict[str, Any]:
    """The person row, if the actor may see it (and change it, with ``write=True``).

    Everyone sees active colleagues in the directory; people who have left are visible only to
    those who see everyone and to managers whose reach covers them.
    """
    row = await Person.select().where(Person.id == person_id).first().run() if person_id <= MAX_ID else None
    if row is None:
        raise NotFound()
    visible = row["active"] or can(actor, "people.view_all") or row["id"] == actor.person_id
    if not visible and actor.is_person:
        visible = await is_in_reach(actor, row["id"])
    if not visible:
        raise NotFound()
    if write and not can(actor, "people.edit"):
        raise Forbidden()
    if write and row["role"] in PRIVILEGED_ROLES and not can(actor, "roles.grant_admin"):
        # HR may edit and invite people, but not administrators, executives or other HR:
        # changing their email (then "forgot password") or issuing them an invitation link
        # would let HR take over an account with more rights than its own.
        raise Forbidden()
    return row


async def may_see_person_details(actor: Actor, person: dict[str, Any]) -> bool:
    """Employment details (dates, role, history) are for HR, executives, the person and managers."""
    if can(actor, "people.view_all") or person["id"] == actor.person_id:
        return True
    return actor.is_person and await is_in_reach(actor, person["id"])


async def department_for(actor: Actor, department_id: int, *, write: bool = False) -> dict[str, Any]:
    row = await Department.select().where(Department.id == department_id).first().run() if department_id <= MAX_ID else None
    if row is None or (not row["active"] and not can(actor, "departments.edit")):
        raise NotFound()
    if write and not can(actor, "departments.edit"):
        raise Forbidden()
    return row


async def import_upload_for(actor: Actor, token: str) -> dict[str, Any]:
    """An uploaded org file between import steps: only its uploader sees it (404 for others)."""
    from servicechain.platform.people.tables import ImportUpload

    require(actor, "people.import")
    row = await ImportUpload.select().where(ImportUpload.token == token).first().run()
    if row is None or row["uploader"] != actor.person_id:
        raise NotFound()
    return row


# --- goals ------------------------------------------------------------------------------------
# Company goals: everyone sees them; executives, HR and admins set and agree them.
# Department goals: seen by the department's people (and those of the departments below), its
# head and those above; set by its head, agreed by the head of a department above or by
# executives/HR/admins. Person goals: seen by the owner and those whose reach covers the owner
# (404 for anyone else); the owner drafts and proposes, a manager in reach agrees.


async def _department_path(department_id: int | None) -> str | None:
    if not department_id:
        return None
    row = await Department.select(Department.path).where(Department.id == department_id).first().run()
    return row["path"] if row else None


@dataclass(frozen=True)
class GoalViewer:
    """What one actor may do with goals, worked out once so a list or tree of goals is
    filtered without a query per row. ``reach`` None means everyone."""

    person_id: int | None
    org: bool
    view_all: bool
    headed: tuple[str, ...]
    mine: str
    reach: frozenset[int] | None

    def roles(self, goal: dict[str, Any], department_path: str | None = None) -> dict[str, bool]:
        """``department_path`` is the path of the goal's owner department (department goals)."""
        if self.person_id is None:
            return {"see": False, "own": False, "approve": False}
        if goal["level"] == "company":
            return {"see": True, "own": self.org, "approve": self.org}
        if goal["level"] == "department":
            path = department_path or "/"
            own = self.org or path in self.headed
            approve = self.org or any(path.startswith(h) and h != path for h in self.headed)
            see = own or approve or self.view_all or self.mine.startswith(path) or any(path.startswith(h) for h in self.headed)
            return {"see": see, "own": own, "approve": approve}
        owner = goal["owner_person"]
        if owner == self.person_id:
            return {"see": True, "own": True, "approve": False}
        in_reach = self.reach is None or owner in self.reach
        return {"see": in_reach, "own": False, "approve": in_reach}


async def goal_viewer(actor: Actor, among: Iterable[int | None] | None = None) -> GoalViewer:
    """The actor's goal roles, worked out once per request and passed down.

    With ``among`` (the owners of the goals about to be judged: one goal's page, its parent and
    children), ``reach`` holds only those of them in the actor's reach, found by one query that
    walks up from them; ``roles()`` then treats any other person's goal as out of reach (hidden,
    never shown by mistake). Without it, ``reach`` is everyone the actor manages, which lists
    and filters of many goals need (for a head of a large department, thousands of ids)."""
    if not actor.is_person:
        return GoalViewer(None, False, False, (), "", frozenset())
    view_all = can(actor, "people.view_all")
    # The departments they head and their own department's path, in one query.
    rows = await db.fetch(
        "SELECT d.id, d.path, d.head, p.department AS mine FROM person p JOIN department d"
        " ON d.head = p.id OR d.id = p.department WHERE p.id = {}", actor.person_id)
    headed = tuple(sorted(r["path"] for r in rows if r["head"] == actor.person_id))
    mine = next((r["path"] for r in rows if r["id"] == r["mine"]), "")
    if view_all:
        reach: frozenset[int] | None = None
    elif among is None:
        found = await people_in_reach(actor)
        reach = None if found is None else frozenset(found)
    else:
        reach = await reach_among(actor.person_id, among)  # type: ignore[arg-type]
    return GoalViewer(person_id=actor.person_id, org=can(actor, "goals.manage_org"), view_all=view_all,
                      headed=headed, mine=mine, reach=reach)


def goal_access(viewer: GoalViewer, goal: dict[str, Any], department_path: str | None = None, *,
                write: bool = False) -> dict[str, bool]:
    """The viewer's roles on a loaded goal row: NotFound when they may not see it, Forbidden
    with ``write=True`` when they may neither draft nor agree it. For pages that load the goal
    with more than ``goal_for`` does and judge it with a viewer they already have."""
    roles = viewer.roles(goal, department_path)
    if not roles["see"]:
        raise NotFound()
    if write and not (roles["own"] or roles["approve"]):
        raise Forbidden()
    return roles


async def goal_roles(actor: Actor, goal: dict[str, Any]) -> dict[str, bool]:
    """May the actor see the goal, are they its owner (who drafts and proposes) and its
    approver (who agrees and closes)."""
    viewer = await goal_viewer(actor, among=[goal.get("owner_person")])
    return viewer.roles(goal, await _department_path(goal.get("owner_department")))


async def goal_for(actor: Actor, goal_id: int, *, write: bool = False) -> dict[str, Any]:
    """The goal row with the actor's roles under ``"_roles"``; 404 when they may not see it,
    403 with ``write=True`` when they may neither draft nor agree it."""
    from servicechain.goals.tables import Goal

    require(actor, "goals.view")
    row = await Goal.select().where(Goal.id == goal_id).first().run() if goal_id <= MAX_ID else None
    if row is None:
        raise NotFound()
    viewer = await goal_viewer(actor, among=[row["owner_person"]])
    row["_roles"] = goal_access(viewer, row, await _department_path(row["owner_department"]), write=write)
    return row


# --- recognition and rewards ------------------------------------------------------------------


async def manages(actor: Actor, person_id: int) -> bool:
    """Is the actor one of the person's managers up the chain (their manager, that manager's
    manager…, or the head of their department or of one above it)? That is reach
    (``reach_among``) without its first rule: seeing everyone (HR, executives) does not count
    here, private things are for the line only."""
    if not actor.is_person:
        return False
    return person_id in await reach_among(actor.person_id, [person_id])  # type: ignore[arg-type]


async def recognition_for(actor: Actor, recognition_id: int) -> dict[str, Any]:
    """A recognition the actor may see: public ones to everyone signed in; private ones to the
    sender, the recipients and the recipients' managers only (404 for anyone else)."""
    from servicechain.recognition.tables import Recognition, RecognitionRecipient

    require(actor, "recognition.view")
    row = await Recognition.select().where(Recognition.id == recognition_id).first().run()
    if row is None:
        raise NotFound()
    if row["public"] or row["sender"] == actor.person_id:
        return row
    recipients = await RecognitionRecipient.select(RecognitionRecipient.person).where(
        RecognitionRecipient.recognition == recognition_id).run()
    for r in recipients:
        if r["person"] == actor.person_id or await manages(actor, r["person"]):
            return row
    raise NotFound()


async def preferences_for(actor: Actor, person_id: int) -> dict[str, Any]:
    """The person whose reward preferences the actor may read: themselves, their managers up the
    chain, and HR (404 for anyone else, so the page does not say whether the person exists)."""
    row = await Person.select().where(Person.id == person_id).first().run()
    if row is None or not actor.is_person:
        raise NotFound()
    if row["id"] == actor.person_id or can(actor, "rewards.preferences_all") or await manages(actor, row["id"]):
        return row
    raise NotFound()


@dataclass(frozen=True)
class RewardReportScope:
    """Whose rewards the top-three metric may show the actor: ``givers`` and ``paths`` (department
    subtrees, by the recipient's department) are None for everyone (HR, executives, admins)."""

    givers: frozenset[int] | None
    paths: tuple[str, ...] | None

    def covers_giver(self, giver_id: int) -> bool:
        return self.givers is None or giver_id in self.givers

    def covers_path(self, path: str) -> bool:
        return self.paths is None or any(path.startswith(p) for p in self.paths)


async def reward_report_scope(actor: Actor) -> RewardReportScope:
    """The top-three metric is for managers up the chain, HR and executives: a manager sees
    themselves and the managers below them, and the departments they head (and those below)."""
    require(actor, "rewards.report")
    if can(actor, "people.view_all"):
        return RewardReportScope(None, None)
    reach = await people_in_reach(actor)
    givers = frozenset((reach or set()) | {actor.person_id})  # type: ignore[operator]
    return RewardReportScope(givers, tuple(await department_paths_headed(actor.person_id)))  # type: ignore[arg-type]


async def reward_budget_for(actor: Actor, budget_id: int) -> dict[str, Any]:
    """A reward budget HR (and admins) may change or remove; 404 when there is none."""
    from servicechain.recognition.tables import RewardBudget

    require(actor, "rewards.budgets")
    row = await RewardBudget.select().where(RewardBudget.id == budget_id).first().run() if budget_id <= MAX_ID else None
    if row is None:
        raise NotFound()
    return row


# --- internal service -------------------------------------------------------------------------


async def heads_department(actor: Actor, department_id: int) -> bool:
    """Is the actor the head of this department or of one above it?"""
    if not actor.is_person:
        return False
    path = await _department_path(department_id)
    if not path:
        return False
    return any(path.startswith(h) for h in await department_paths_headed(actor.person_id))  # type: ignore[arg-type]


async def internal_service_for(actor: Actor, service_id: int, *, write: bool = False) -> dict[str, Any]:
    """A catalogue entry: everyone sees active ones; changing it takes the head of the providing
    department (or one above) or HR/admins (403), who also see retired ones."""
    from servicechain.internal_service.tables import InternalService

    require(actor, "internal_service.view")
    row = await InternalService.select().where(InternalService.id == service_id).first().run()
    if row is None:
        raise NotFound()
    may_edit = can(actor, "internal_service.catalogue_all") or await heads_department(actor, row["provider"])
    if not row["active"] and not may_edit:
        raise NotFound()
    if write and not may_edit:
        raise Forbidden()
    return row


async def internal_scorecard_for(actor: Actor, department_id: int) -> dict[str, Any]:
    """A department's internal service scorecard: for those who read reports and for its heads."""
    row = await department_for(actor, department_id)
    if not (can(actor, "internal_service.reports") or await heads_department(actor, department_id)):
        raise Forbidden()
    return row


async def follow_up_for(actor: Actor, follow_up_id: int) -> dict[str, Any]:
    """A follow-up of a low rating: only the head of the rated department (or one above) sees
    and answers it (404 for anyone else, HR included: it is the department's to fix)."""
    from servicechain.internal_service.tables import FollowUp

    require(actor, "internal_service.view")
    row = await FollowUp.select().where(FollowUp.id == follow_up_id).first().run()
    if row is None or not await heads_department(actor, row["provider_department"]):
        raise NotFound()
    return row


# --- quality: QA scorecards and mystery-shopper audits ---------------------------------------------


@dataclass(frozen=True)
class QualityScope:
    """Whom the actor may score (and whose scorecards and departments they see as a reviewer):
    ``everyone`` (HR, admins), the people in ``reach`` (those who lead people), and everyone in
    the departments under ``paths`` (QA reviewers HR named, and the departments the actor heads)."""

    person_id: int | None
    everyone: bool
    reach: frozenset[int]
    paths: tuple[str, ...]
    reports_all: bool

    @property
    def reviews_anyone(self) -> bool:
        return self.everyone or bool(self.reach) or bool(self.paths)

    def covers(self, person_id: int, department_path: str | None) -> bool:
        if person_id == self.person_id:
            return False  # nobody scores their own work
        return self.everyone or person_id in self.reach or any((department_path or "").startswith(p) for p in self.paths)

    def sees_department(self, path: str, headed: tuple[str, ...] = ()) -> bool:
        return self.reports_all or self.everyone or any(path.startswith(p) for p in (*self.paths, *headed))


async def quality_review_scope(actor: Actor) -> QualityScope:
    if not actor.is_person:
        return QualityScope(None, False, frozenset(), (), False)
    everyone = can(actor, "quality.review_all")
    reach: set[int] = set()
    paths: list[str] = []
    if not everyone:
        if can(actor, "quality.review_team"):
            reach = (await people_in_reach(actor)) or set()
            paths.extend(await department_paths_headed(actor.person_id))  # type: ignore[arg-type]
        rows = await db.fetch(
            "SELECT d.path FROM quality_reviewer r JOIN department d ON d.id = r.department WHERE r.person = {}",
            actor.person_id,
        )
        paths.extend(r["path"] for r in rows)
    return QualityScope(actor.person_id, everyone, frozenset(reach), tuple(sorted(set(paths))), can(actor, "quality.reports_all"))


async def may_review(actor: Actor, person_id: int, scope: QualityScope | None = None) -> bool:
    """May the actor score this person's calls and chats (never their own)?"""
    scope = scope or await quality_review_scope(actor)
    rows = await db.fetch("SELECT d.path FROM person p LEFT JOIN department d ON d.id = p.department WHERE p.id = {}", person_id)
    return bool(rows) and scope.covers(person_id, rows[0]["path"])


async def scorecard_for(actor: Actor, scorecard_id: int) -> dict[str, Any]:
    """A QA scorecard: for the employee scored, its reviewer, the employee's managers up the chain
    and whoever may review the employee (HR, QA reviewers of their department); 404 for others."""
    from servicechain.platform.customers.quality.tables import Scorecard

    require(actor, "quality.view")
    row = await Scorecard.select().where(Scorecard.id == scorecard_id).first().run() if scorecard_id <= MAX_ID else None
    if row is None or not actor.is_person:
        raise NotFound()
    if actor.person_id in (row["employee"], row["reviewer"]):
        return row
    if await manages(actor, row["employee"]) or await may_review(actor, row["employee"]):
        return row
    raise NotFound()


async def quality_department_for(actor: Actor, department_id: int) -> dict[str, Any]:
    """A department's quality figures: for executives, HR and admins, the department's heads (and
    those above) and QA reviewers of it; 403 for other people."""
    row = await department_for(actor, department_id)
    require(actor, "quality.view")
    scope = await quality_review_scope(actor)
    if scope.sees_department(row["path"]) or await heads_department(actor, department_id):
        return row
    raise Forbidden()


# --- customer scores --------------------------------------------------------------------------


async def score_departments_for(actor: Actor) -> list[str] | None:
    """Department paths whose customer scores the actor reads (those they head, with everything
    below); None means every department."""
    if can(actor, "scores.view_all"):
        return None
    if not actor.is_person or not can(actor, "scores.view"):
        return []
    return await department_paths_headed(actor.person_id)  # type: ignore[arg-type]


async def score_follow_up_for(actor: Actor, follow_up_id: int, *, write: bool = False) -> dict[str, Any]:
    """A follow-up of a low customer score. Seen by its assignee, by the heads of its department
    (or of one above) and by those who read every score; closed and reassigned by the assignee
    and those heads only (403 for the others who see it, 404 for everyone else)."""
    from servicechain.platform.customers.tables import ScoreFollowUp

    require(actor, "scores.follow_ups")
    row = await ScoreFollowUp.select().where(ScoreFollowUp.id == follow_up_id).first().run() \
        if follow_up_id <= MAX_ID else None
    if row is None:
        raise NotFound()
    acts = row["assignee"] == actor.person_id or await heads_department(actor, row["department"])
    if not acts and not can(actor, "scores.view_all"):
        raise NotFound()
    if write and not acts:
        raise Forbidden()
    row["_acts"] = acts
    return row


async def score_upload_for(actor: Actor, token: str) -> dict[str, Any]:
    """A scores file between import steps: only its uploader sees it (404 for others)."""
    from servicechain.platform.customers.tables import ScoreUpload

    require(actor, "scores.import")
    row = await ScoreUpload.select().where(ScoreUpload.token == token).first().run()
    if row is None or row["uploader"] != actor.person_id:
        raise NotFound()
    return row


# --- engagement pulses ------------------------------------------------------------------------


async def pulse_for(actor: Actor, pulse_id: int) -> dict[str, Any]:
    """A pulse the actor may open: HR/admins and those who read results see every pulse; anyone
    else only the pulses they were invited to (404 otherwise)."""
    from servicechain.platform.surveys.tables import Pulse, PulseParticipant

    require(actor, "pulses.answer")
    row = await Pulse.select().where(Pulse.id == pulse_id).first().run() if pulse_id <= MAX_ID else None
    if row is None:
        raise NotFound()
    if can(actor, "pulses.manage") or can(actor, "pulses.results"):
        return row
    invited = await PulseParticipant.exists().where(
        (PulseParticipant.pulse == pulse_id) & (PulseParticipant.person == actor.person_id)).run()
    if not invited:
        raise NotFound()
    return row


async def pulse_result_scope(actor: Actor, pulse_id: int) -> list[int] | None:
    """The snapshot departments of a pulse whose results (with everything below them) the actor
    may read: None means all (HR, executives, admins); a manager gets the snapshot departments
    whose department they head today (or one below it); anyone else nothing (403)."""
    from servicechain.platform.surveys.tables import PulseDepartment

    require(actor, "pulses.results")
    if can(actor, "people.view_all"):
        return None
    headed = await department_paths_headed(actor.person_id) if actor.is_person else []  # type: ignore[arg-type]
    if not headed:
        raise Forbidden()
    rows = await db.fetch(
        "SELECT pd.id, pd.path, d.path AS source_path FROM pulse_department pd JOIN department d ON d.id = pd.source"
        " WHERE pd.pulse = {}", pulse_id)
    mine = [r for r in rows if any(r["source_path"].startswith(h) for h in headed)]
    # Keep the top ones only: a department below one already in scope adds nothing.
    tops = [r for r in mine if not any(o is not r and r["path"].startswith(o["path"]) for o in mine)]
    if not tops:
        raise Forbidden()
    return sorted(r["id"] for r in tops)


# --- analytics dashboards ---------------------------------------------------------------------


@dataclass(frozen=True)
class AnalyticsScope:
    """Whose figures the dashboards show the actor: every department (``company``), or the
    subtrees under ``paths`` (the departments a manager heads)."""

    company: bool
    paths: tuple[str, ...]

    def covers(self, path: str | None) -> bool:
        return self.company or any((path or "").startswith(p) for p in self.paths)


async def analytics_scope(actor: Actor) -> AnalyticsScope:
    """Company-wide for analytics.company; a manager's headed subtrees for analytics.subtree
    (empty when they head none); 403 for anyone else."""
    if can(actor, "analytics.company"):
        return AnalyticsScope(True, ())
    if can(actor, "analytics.subtree") and actor.is_person:
        return AnalyticsScope(False, tuple(sorted(await department_paths_headed(actor.person_id))))  # type: ignore[arg-type]
    raise Forbidden()


async def analytics_department_for(actor: Actor, department_id: int) -> tuple[dict[str, Any], AnalyticsScope]:
    """A department's analytics page: 404 when it does not exist, 403 outside the actor's scope."""
    row = await department_for(actor, department_id)
    scope = await analytics_scope(actor)
    if not scope.covers(row["path"]):
        raise Forbidden()
    return row, scope


# --- secrets ----------------------------------------------------------------------------------


def token_hash(raw: str) -> str:
    """Session cookies, API tokens and one-time links are random; storing a hash means a
    leaked table cannot be replayed."""
    return hashlib.sha256(raw.encode()).hexdigest()


def utcnow() -> datetime:
    return datetime.now(UTC)


SESSION_LIFETIME = timedelta(days=14)
SESSION_TOUCH_EVERY = timedelta(minutes=5)
