"""The authorization matrix: every route of the app, and the status each kind of actor gets.

A route that is in the app but not in MATRIX fails the build: a new route needs a rule here
before it ships. Expectations follow platform/security.py:
- anonymous on a page → 303 to /login?next=… ("login"); anonymous on the API → 401;
- a signed-in person without the capability → 403; an object they may not see → 404;
- API tokens authenticate only /api/…; session cookies never authenticate the API.
POSTs carry a valid CSRF token, so what is tested is authorization and not CSRF, and send
empty or harmless data (a 422 means "allowed in, and the input was refused"); the ones that
end sessions run last, each on a session of its own.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date

import pytest

from servicechain.platform import db
from servicechain.platform.accounts import service as accounts
from servicechain.platform.people.tables import Department, Person
from servicechain.platform.security import token_hash, utcnow
from servicechain.platform.tables import ApiToken
from tests.api.helpers import on_app_loop
from tests.cast import EMAILS, PASSWORD
from tests.customers.helpers import authorization_fixtures as customers_fixtures
from tests.internal_service.helpers import authorization_fixtures as internal_service_fixtures
from tests.quality.helpers import quality_fixtures
from tests.recognition.helpers import recognition_fixtures
from tests.surveys.helpers import authorization_fixtures as pulse_fixtures

PEOPLE = ("employee", "manager", "hr", "ceo", "admin", "outsider")
TOKENS = ("token_read", "token_other")
ACTORS = ("anonymous", *PEOPLE, *TOKENS)
LOGIN = "login"  # 303 to /login?next=<the page>


def everyone(status) -> dict:
    return {actor: status for actor in ACTORS}


def page(default=200, **people) -> dict:
    """An HTML page behind sign-in: nobody and tokens are sent to sign in."""
    expected = {actor: LOGIN for actor in ("anonymous", *TOKENS)}
    expected.update({person: people.get(person, default) for person in PEOPLE})
    return expected


def staff_only(allowed: dict[str, int], others: int = 403) -> dict:
    """A page for some roles: the others get `others` (403: the guard refuses them first)."""
    return page(others, **allowed)


HR_AND_ADMIN = ("hr", "admin")


def hr(status: int) -> dict:
    return staff_only({who: status for who in HR_AND_ADMIN})


def api(ok: int = 200) -> dict:
    expected = {actor: 401 for actor in ("anonymous", *PEOPLE)}  # cookies do not count
    expected.update(token_read=ok, token_other=403)
    return expected


@dataclass
class Case:
    url: str  # formatted with the ids of the cast and the fixtures below
    expect: dict
    data: dict = field(default_factory=dict)
    last: bool = False  # ends sessions: runs after everything else, on a fresh session


C = Case
MATRIX: dict[tuple[str, str], list[Case]] = {
    # public
    ("GET", "/healthz"): [C("/healthz", everyone(200))],
    ("GET", "/login"): [C("/login", everyone(200))],
    ("POST", "/login"): [C("/login", everyone(422))],
    ("POST", "/language"): [C("/language", everyone(303), {"language": "en", "next": "/"})],
    ("GET", "/password/forgot"): [C("/password/forgot", everyone(200))],
    ("POST", "/password/forgot"): [C("/password/forgot", everyone(200), {"identifier": ""})],
    ("GET", "/password/reset/{token:str}"): [C("/password/reset/not-a-real-link", everyone(410))],
    ("POST", "/password/reset/{token:str}"): [C("/password/reset/not-a-real-link", everyone(422))],
    ("GET", "/invite/{token:str}"): [C("/invite/not-a-real-link", everyone(410))],
    ("POST", "/invite/{token:str}"): [C("/invite/not-a-real-link", everyone(422))],
    ("GET", "/schema/openapi.json"): [C("/schema/openapi.json", everyone(200))],
    ("GET", "/schema"): [C("/schema", everyone(404))],
    ("GET", "/schema/{path:str}"): [C("/schema/swagger", everyone(404)), C("/schema/openapi.yaml", everyone(404))],
    # every signed-in person
    ("GET", "/"): [C("/", page())],
    ("GET", "/account"): [C("/account", page())],
    ("POST", "/logout"): [C("/logout", page(303), last=True)],
    ("POST", "/account/sign-out-everywhere"): [C("/account/sign-out-everywhere", page(303), last=True)],
    # people
    ("GET", "/people"): [C("/people", page()), C("/people?status=left", page())],
    ("GET", "/people/{person_id:int}"): [
        C("/people/{employee}", page()),  # the employee's own profile: everyone sees active colleagues
        C("/people/{outsider}", page()),  # another team's person
        C("/people/{left}", page(200, employee=404, outsider=404)),  # has left: only HR, executives, admins, their managers
        C("/people/{missing}", page(404)),
    ],
    ("GET", "/people/new"): [C("/people/new", hr(200))],
    ("POST", "/people/new"): [C("/people/new", hr(422))],
    ("GET", "/people/{person_id:int}/edit"): [
        C("/people/{employee}/edit", hr(200)),
        C("/people/{left}/edit", hr(200)),
        C("/people/{missing}/edit", hr(404)),
    ],
    ("POST", "/people/{person_id:int}/edit"): [
        C("/people/{employee}/edit", hr(422)),
        C("/people/{admin}/edit", staff_only({"hr": 403, "admin": 422})),  # HR may not change an administrator
        C("/people/{missing}/edit", hr(404)),
    ],
    ("POST", "/people/{person_id:int}/invite"): [
        C("/people/{invitee}/invite", hr(200)),
        C("/people/{left}/invite", hr(422)),  # has left: a clear refusal, no link
        C("/people/{admin}/invite", staff_only({"hr": 403, "admin": 409})),  # HR may not take over an admin; nobody re-invites a person with a password
        C("/people/{missing}/invite", hr(404)),
    ],
    # org import: HR and admins; an upload between steps is its uploader's alone (404 for anyone else)
    ("GET", "/people/import"): [C("/people/import", hr(200))],
    ("POST", "/people/import"): [C("/people/import", hr(422))],  # no file
    ("GET", "/people/import/{token:str}/mapping"): [
        C("/people/import/{hr_upload}/mapping", staff_only({"hr": 200, "admin": 404})),
        C("/people/import/no-such-upload/mapping", hr(404)),
    ],
    ("POST", "/people/import/{token:str}/preview"): [
        C("/people/import/{hr_upload}/preview", staff_only({"hr": 422, "admin": 404})),  # no mapping chosen
        C("/people/import/no-such-upload/preview", hr(404)),
    ],
    ("POST", "/people/import/{token:str}/apply"): [
        C("/people/import/{hr_upload}/apply", staff_only({"hr": 422, "admin": 404})),  # no mapping: nothing written
        C("/people/import/no-such-upload/apply", hr(404)),
    ],
    ("GET", "/people/import/{token:str}/done"): [
        C("/people/import/{hr_upload}/done", staff_only({"hr": 303, "admin": 404})),  # not applied: back to the mapping
        C("/people/import/no-such-upload/done", hr(404)),
    ],
    # departments
    ("GET", "/departments"): [C("/departments", page())],
    ("GET", "/departments/{department_id:int}"): [
        C("/departments/{support}", page()),
        C("/departments/{closed}", page(404, hr=200, admin=200)),  # closed: only those who edit the tree
        C("/departments/{missing}", page(404)),
    ],
    ("GET", "/departments/new"): [C("/departments/new", hr(200))],
    ("POST", "/departments/new"): [C("/departments/new", hr(422))],
    ("GET", "/departments/{department_id:int}/edit"): [
        C("/departments/{support}/edit", hr(200)),
        C("/departments/{closed}/edit", hr(200)),
        C("/departments/{missing}/edit", hr(404)),
    ],
    ("POST", "/departments/{department_id:int}/edit"): [
        C("/departments/{support}/edit", hr(422)),
        C("/departments/{missing}/edit", hr(404)),
    ],
    # HR and admins
    ("GET", "/audit"): [C("/audit", hr(200))],
    # admins only
    ("GET", "/admin/tokens"): [C("/admin/tokens", staff_only({"admin": 200}))],
    ("POST", "/admin/tokens"): [C("/admin/tokens", staff_only({"admin": 422}))],
    ("POST", "/admin/tokens/{name:str}/revoke"): [C("/admin/tokens/no-such-token/revoke", staff_only({"admin": 303}))],
    # goals: everyone has their own; a person's goal is 404 outside the owner's line of managers
    ("GET", "/goals"): [C("/goals", page())],
    ("GET", "/goals/team"): [C("/goals/team", page())],
    ("GET", "/goals/tree"): [C("/goals/tree", page()), C("/goals/tree?department={support}", page())],
    ("GET", "/goals/new"): [C("/goals/new", page()), C("/goals/new?level=department", page())],
    ("POST", "/goals/new"): [C("/goals/new", page(422))],
    ("GET", "/goals/{goal_id:int}"): [
        C("/goals/{goal_company}", page()),
        C("/goals/{goal_person}", page(200, outsider=404)),
        C("/goals/{missing}", page(404)),
    ],
    ("GET", "/goals/{goal_id:int}/children"): [
        C("/goals/{goal_company}/children", page()),
        C("/goals/{goal_person}/children", page(200, outsider=404)),
    ],
    ("GET", "/goals/{goal_id:int}/edit"): [
        C("/goals/{goal_draft}/edit", page(200, outsider=404)),
        C("/goals/{goal_company}/edit", page(403, hr=409, ceo=409, admin=409)),  # agreed: fixed
    ],
    ("POST", "/goals/{goal_id:int}/edit"): [
        C("/goals/{goal_draft}/edit", page(422, outsider=404)),
        C("/goals/{goal_company}/edit", page(403, hr=409, ceo=409, admin=409)),
    ],
    ("POST", "/goals/{goal_id:int}/status"): [
        C("/goals/{goal_draft}/status", page(422, outsider=404)),  # no status chosen
        C("/goals/{missing}/status", page(404)),
    ],
    ("POST", "/goals/{goal_id:int}/check-ins"): [
        C("/goals/{goal_person}/check-ins", page(422, outsider=404)),
        C("/goals/{goal_company}/check-ins", page(403, hr=422, ceo=422, admin=422)),
    ],
    ("POST", "/goals/carry-over"): [C("/goals/carry-over", page(303))],  # one's own goals only: nothing to refuse
    ("POST", "/goals/{goal_id:int}/carry-over"): [
        # HR carries it first; after that it is carried already
        C("/goals/{goal_company}/carry-over", page(403, hr=303, ceo=409, admin=409)),
        C("/goals/{missing}/carry-over", page(404)),
    ],
    # delegated authority: everyone has their own; managers, executives and admins grant and see their team's
    ("GET", "/authority"): [C("/authority", page())],
    ("POST", "/authority/uses"): [C("/authority/uses", page(422))],  # no scope chosen
    ("GET", "/authority/team"): [C("/authority/team", page(200, employee=403, hr=403, outsider=403))],
    ("GET", "/authority/grants/new"): [C("/authority/grants/new", page(200, employee=403, hr=403, outsider=403))],
    ("POST", "/authority/grants"): [C("/authority/grants", page(422, employee=403, hr=403, outsider=403))],
    ("POST", "/authority/grants/{grant_id:int}/revoke"): [
        C("/authority/grants/{missing}/revoke", page(404, employee=403, hr=403, outsider=403)),
    ],
    # a grant is changed by those above it in its chain (its grantor, theirs…) and admins
    ("GET", "/authority/grants/{grant_id:int}/edit"): [
        C("/authority/grants/{grant_employee}/edit", page(200, employee=403, hr=403, outsider=403)),
        C("/authority/grants/{grant_manager}/edit", page(200, manager=403, employee=403, hr=403, outsider=403)),
        C("/authority/grants/{missing}/edit", page(404, employee=403, hr=403, outsider=403)),
    ],
    ("POST", "/authority/grants/{grant_id:int}/edit"): [
        C("/authority/grants/{grant_employee}/edit", page(422, employee=403, hr=403, outsider=403)),
        C("/authority/grants/{grant_manager}/edit", page(422, manager=403, employee=403, hr=403, outsider=403)),
    ],
    ("GET", "/authority/ledger"): [C("/authority/ledger", page()), C("/authority/ledger?since=yesterday", page(422))],
    ("GET", "/authority/ledger.csv"): [C("/authority/ledger.csv", page())],
    ("GET", "/authority/escalations"): [C("/authority/escalations", page())],
    ("POST", "/authority/escalations"): [C("/authority/escalations", page(422))],
    ("POST", "/authority/escalations/{request_id:int}/decide"): [
        C("/authority/escalations/{missing}/decide", page(404), {"decision": "decline"}),  # only its approver decides
    ],
    ("GET", "/authority/admin"): [C("/authority/admin", staff_only({"admin": 200}))],
    ("POST", "/authority/admin/scopes"): [C("/authority/admin/scopes", staff_only({"admin": 422}))],
    ("POST", "/authority/admin/roots"): [C("/authority/admin/roots", staff_only({"admin": 422}))],
    ("GET", "/api/v1/authority"): [C("/api/v1/authority?employee=employee@test.local", api()),
                                   C("/api/v1/authority?employee=nobody@test.local", api(404))],
    ("POST", "/api/v1/authority/uses"): [C("/api/v1/authority/uses", api(422))],  # no JSON body
    # API: bearer tokens with the scope
    ("GET", "/api/v1/people"): [C("/api/v1/people?limit=5", api())],
    ("GET", "/api/v1/departments"): [C("/api/v1/departments?limit=5", api())],
    # internal service: everyone reads the catalogue, rates and sees their follow-ups (none but
    # a head's); heads keep their departments' catalogue; those who lead people read the figures
    ("GET", "/internal-service"): [C("/internal-service", page())],
    ("GET", "/internal-service/services/new"): [C("/internal-service/services/new", page(200, employee=403, outsider=403))],
    ("POST", "/internal-service/services/new"): [C("/internal-service/services/new", page(422, employee=403, outsider=403))],
    ("GET", "/internal-service/services/{service_id:int}/edit"): [
        C("/internal-service/services/{is_service}/edit", page(200, employee=403, manager=403, outsider=403)),  # a warehouse service
        C("/internal-service/services/{missing}/edit", page(404)),
    ],
    ("POST", "/internal-service/services/{service_id:int}/edit"): [
        C("/internal-service/services/{is_service}/edit", page(422, employee=403, manager=403, outsider=403)),
        C("/internal-service/services/{missing}/edit", page(404)),
    ],
    ("GET", "/internal-service/round"): [C("/internal-service/round", page())],
    ("GET", "/internal-service/services/{service_id:int}/rate"): [
        C("/internal-service/services/{is_service}/rate", page()),
        C("/internal-service/services/{missing}/rate", page(404)),
    ],
    ("POST", "/internal-service/services/{service_id:int}/rate"): [
        C("/internal-service/services/{is_service}/rate", page(422)),  # no scores: refused, nothing saved
        C("/internal-service/services/{missing}/rate", page(404)),
    ],
    ("GET", "/internal-service/rounds"): [C("/internal-service/rounds", hr(200))],
    ("POST", "/internal-service/rounds"): [C("/internal-service/rounds", hr(422))],
    ("POST", "/internal-service/rounds/{round_id:int}/close"): [
        C("/internal-service/rounds/{is_closed_round}/close", hr(422)),  # already closed: refused, nothing changes
        C("/internal-service/rounds/{missing}/close", hr(404)),
    ],
    ("GET", "/internal-service/matrix"): [C("/internal-service/matrix", page(200, employee=403, outsider=403))],
    ("GET", "/internal-service/departments/{department_id:int}"): [
        C("/internal-service/departments/{warehouse}", page(200, employee=403, outsider=403)),
        C("/internal-service/departments/{missing}", page(404)),
    ],
    ("GET", "/internal-service/follow-ups"): [C("/internal-service/follow-ups", page())],
    ("GET", "/internal-service/follow-ups/{follow_up_id:int}"): [
        C("/internal-service/follow-ups/{is_follow_up}", page(404, manager=200, ceo=200)),  # heads of the rated department only
        C("/internal-service/follow-ups/{missing}", page(404)),
    ],
    ("POST", "/internal-service/follow-ups/{follow_up_id:int}"): [
        C("/internal-service/follow-ups/{is_follow_up}", page(404, manager=422, ceo=422)),
        C("/internal-service/follow-ups/{missing}", page(404)),
    ],
    # pulses: everyone answers what they were asked (the cast's company was); results are for those who
    # lead people (the manager heads support, in the snapshot); HR and admins launch, close and keep templates
    ("GET", "/pulses"): [C("/pulses", page())],
    ("GET", "/pulses/new"): [C("/pulses/new", hr(200))],
    ("POST", "/pulses/new"): [C("/pulses/new", hr(422))],
    ("GET", "/pulses/{pulse_id:int}"): [
        C("/pulses/{pulse_closed}", page(200, employee=403, outsider=403)),
        C("/pulses/{missing}", page(404)),
    ],
    ("GET", "/pulses/{pulse_id:int}/answer"): [C("/pulses/{pulse_closed}/answer", page()), C("/pulses/{missing}/answer", page(404))],
    ("POST", "/pulses/{pulse_id:int}/answer"): [
        C("/pulses/{pulse_closed}/answer", page(422)),  # closed: refused, nothing saved
        C("/pulses/{missing}/answer", page(404)),
    ],
    ("POST", "/pulses/{pulse_id:int}/close"): [C("/pulses/{pulse_closed}/close", hr(303))],  # already closed: stays closed
    ("GET", "/pulses/templates"): [C("/pulses/templates", hr(200))],
    ("GET", "/pulses/templates/{template_id:int}"): [
        C("/pulses/templates/{pulse_template}", hr(200)), C("/pulses/templates/{missing}", hr(404))],
    ("POST", "/pulses/templates/{template_id:int}"): [C("/pulses/templates/{pulse_template}", hr(422))],  # the default never changes
    ("POST", "/pulses/templates/{template_id:int}/copy"): [
        C("/pulses/templates/{pulse_template}/copy", hr(303)), C("/pulses/templates/{missing}/copy", hr(404))],
    # recognition: everyone thanks and reads feeds; a private thanks is for the sender, the recipient and
    # their managers (the ceo heads the company); values are the admins'; rewards are for those who lead people
    ("GET", "/recognition"): [C("/recognition", page()), C("/recognition?value=customer&days=30", page())],
    ("GET", "/recognition/departments/{department_id:int}"): [
        C("/recognition/departments/{support}", page()), C("/recognition/departments/{missing}", page(404))],
    ("GET", "/recognition/people/{person_id:int}"): [
        C("/recognition/people/{employee}", page()), C("/recognition/people/{missing}", page(404))],
    ("GET", "/recognition/new"): [C("/recognition/new", page())],
    ("GET", "/recognition/picker"): [C("/recognition/picker?find=test", page())],
    ("GET", "/recognition/people/{person_id:int}/recent"): [
        C("/recognition/people/{employee}/recent", page()), C("/recognition/people/{missing}/recent", page(404))],
    ("POST", "/recognition/new"): [C("/recognition/new", page(422))],
    ("GET", "/recognition/{recognition_id:int}"): [
        C("/recognition/{rec_public}", page()),
        C("/recognition/{rec_private}", page(404, employee=200, manager=200, ceo=200, outsider=200)),
        C("/recognition/{missing}", page(404)),
    ],
    ("POST", "/recognition/{recognition_id:int}/reactions"): [
        C("/recognition/{rec_public}/reactions", page(422)),  # no reaction named: refused, nothing saved
        C("/recognition/{rec_private}/reactions", page(404, employee=422, manager=422, ceo=422, outsider=422)),
    ],
    ("GET", "/recognition/values"): [C("/recognition/values", staff_only({"admin": 200}))],
    ("GET", "/recognition/values/new"): [C("/recognition/values/new", staff_only({"admin": 200}))],
    ("POST", "/recognition/values/new"): [C("/recognition/values/new", staff_only({"admin": 422}))],
    ("GET", "/recognition/values/{value_id:int}/edit"): [
        C("/recognition/values/{mx_value}/edit", staff_only({"admin": 200})),
        C("/recognition/values/{missing}/edit", staff_only({"admin": 404})),
    ],
    ("POST", "/recognition/values/{value_id:int}/edit"): [C("/recognition/values/{mx_value}/edit", staff_only({"admin": 422}))],
    ("POST", "/recognition/values/{value_id:int}/retire"): [
        C("/recognition/values/{mx_value}/retire", staff_only({"admin": 303})),
        C("/recognition/values/{missing}/retire", staff_only({"admin": 404})),
    ],
    ("POST", "/recognition/values/{value_id:int}/restore"): [C("/recognition/values/{mx_value}/restore", staff_only({"admin": 303}))],
    ("GET", "/rewards"): [C("/rewards", page())],
    ("GET", "/rewards/new"): [C("/rewards/new", staff_only({who: 200 for who in ("manager", "hr", "ceo", "admin")}))],
    ("POST", "/rewards/new"): [C("/rewards/new", staff_only({who: 422 for who in ("manager", "hr", "ceo", "admin")}))],
    ("GET", "/rewards/picker"): [C("/rewards/picker?find=test", staff_only({who: 200 for who in ("manager", "hr", "ceo", "admin")}))],
    ("GET", "/rewards/top-three"): [C("/rewards/top-three", staff_only({who: 200 for who in ("manager", "hr", "ceo", "admin")}))],
    ("GET", "/rewards/budgets/{budget_id:int}/edit"): [
        C("/rewards/budgets/{mx_budget}/edit", hr(200)), C("/rewards/budgets/{missing}/edit", hr(404))],
    # the matrix's budget has a reward given from it: it cannot be removed, and empty data changes nothing
    ("POST", "/rewards/budgets/{budget_id:int}/edit"): [C("/rewards/budgets/{mx_budget}/edit", hr(422))],
    ("POST", "/rewards/budgets/{budget_id:int}/remove"): [
        C("/rewards/budgets/{mx_budget}/remove", hr(422)), C("/rewards/budgets/{missing}/remove", hr(404))],
    ("GET", "/rewards/budgets"): [C("/rewards/budgets", hr(200))],
    ("POST", "/rewards/budgets"): [C("/rewards/budgets", hr(422))],
    ("GET", "/rewards/preferences"): [C("/rewards/preferences", page())],
    ("POST", "/rewards/preferences"): [C("/rewards/preferences", page(422), {"rank_gift": "0"})],  # refused: nothing changes
    ("GET", "/rewards/preferences/{person_id:int}"): [
        C("/rewards/preferences/{employee}", page(200, outsider=404)),  # the person, their managers, HR
        C("/rewards/preferences/{missing}", page(404)),
    ],
    # quality: everyone reads and answers their own scorecards; a scorecard is for the employee, the reviewer, the
    # line above (the manager, the ceo heading the company) and HR/admins who review anyone; the outsider's not
    ("GET", "/quality"): [C("/quality", page())],
    ("GET", "/quality/scorecards"): [C("/quality/scorecards", page()), C("/quality/scorecards?channel=chat&month=2025-01", page())],
    ("GET", "/quality/scorecards/new"): [C("/quality/scorecards/new", page(403, manager=200, hr=200, admin=200))],
    ("POST", "/quality/scorecards/new"): [C("/quality/scorecards/new", page(403, manager=422, hr=422, admin=422))],
    ("GET", "/quality/scorecards/{scorecard_id:int}"): [
        C("/quality/scorecards/{q_scorecard}", page(200, outsider=404)), C("/quality/scorecards/{missing}", page(404))],
    ("POST", "/quality/scorecards/{scorecard_id:int}/comments"): [
        C("/quality/scorecards/{q_scorecard}/comments", page(422, outsider=404)),  # empty: refused, nothing saved
        C("/quality/scorecards/{missing}/comments", page(404))],
    ("GET", "/quality/weights"): [C("/quality/weights", staff_only({"admin": 200}))],
    ("POST", "/quality/weights"): [C("/quality/weights", staff_only({"admin": 422}))],
    ("GET", "/quality/reviewers"): [C("/quality/reviewers", hr(200))],
    ("POST", "/quality/reviewers"): [C("/quality/reviewers", hr(422))],
    ("POST", "/quality/reviewers/{reviewer_id:int}/remove"): [C("/quality/reviewers/{missing}/remove", hr(404))],
    ("GET", "/quality/checklists"): [C("/quality/checklists", hr(200))],
    ("GET", "/quality/checklists/new"): [C("/quality/checklists/new", hr(200))],
    ("POST", "/quality/checklists/new"): [C("/quality/checklists/new", hr(422))],
    ("GET", "/quality/checklists/{checklist_id:int}/edit"): [
        C("/quality/checklists/{q_checklist}/edit", hr(200)), C("/quality/checklists/{missing}/edit", hr(404))],
    ("POST", "/quality/checklists/{checklist_id:int}/edit"): [C("/quality/checklists/{q_checklist}/edit", hr(422))],
    # audits and department figures: executives, HR and admins; the heads of a department (the manager heads support)
    ("GET", "/quality/audits"): [C("/quality/audits", page(200, employee=403, outsider=403))],
    ("GET", "/quality/audits/new"): [C("/quality/audits/new", hr(200)), C("/quality/audits/new?checklist={q_checklist}", hr(200))],
    ("POST", "/quality/audits/new"): [C("/quality/audits/new", hr(422))],  # no checklist named: refused
    ("GET", "/quality/audits/{audit_id:int}"): [
        C("/quality/audits/{q_audit}", page(404, hr=200, admin=200, ceo=200)),  # a warehouse audit
        C("/quality/audits/{missing}", page(404))],
    ("GET", "/quality/departments/{department_id:int}"): [
        C("/quality/departments/{support}", page(200, employee=403, outsider=403)),
        C("/quality/departments/{warehouse}", page(200, employee=403, outsider=403, manager=403)),
        C("/quality/departments/{missing}", page(404))],
    # customer scores: figures for those who lead people and those who see everyone; follow-ups
    # for their assignee (the manager) and the heads above (the CEO); HR and admins see them but
    # only the line acts (403); everyone else 404. Importing is HR's and admins'.
    ("GET", "/customers"): [C("/customers", staff_only({"manager": 200, "hr": 200, "ceo": 200, "admin": 200}))],
    ("GET", "/customers/scores"): [C("/customers/scores?low=true", staff_only({"manager": 200, "hr": 200, "ceo": 200,
                                                                               "admin": 200}))],
    ("GET", "/customers/follow-ups"): [C("/customers/follow-ups", page()),
                                       C("/customers/follow-ups?status=overdue", page())],
    ("GET", "/customers/follow-ups/{follow_up_id:int}"): [
        C("/customers/follow-ups/{cs_follow_up}", page(200, employee=404, outsider=404)),
        C("/customers/follow-ups/{missing}", page(404)),
    ],
    ("POST", "/customers/follow-ups/{follow_up_id:int}/close"): [
        C("/customers/follow-ups/{cs_follow_up}/close", page(422, employee=404, outsider=404, hr=403, admin=403)),
        C("/customers/follow-ups/{missing}/close", page(404)),
    ],
    ("POST", "/customers/follow-ups/{follow_up_id:int}/assign"): [
        C("/customers/follow-ups/{cs_follow_up}/assign", page(422, employee=404, outsider=404, hr=403, admin=403)),
    ],
    ("POST", "/customers/follow-ups/{follow_up_id:int}/compensate"): [
        C("/customers/follow-ups/{cs_follow_up}/compensate", page(422, employee=404, outsider=404, hr=403, admin=403)),
    ],
    ("GET", "/customers/import"): [C("/customers/import", hr(200))],
    ("POST", "/customers/import"): [C("/customers/import", hr(422))],  # no file
    ("GET", "/customers/import/{token:str}/mapping"): [
        C("/customers/import/{cs_upload}/mapping", staff_only({"hr": 200, "admin": 404})),
        C("/customers/import/no-such-upload/mapping", hr(404)),
    ],
    ("POST", "/customers/import/{token:str}/preview"): [
        C("/customers/import/{cs_upload}/preview", staff_only({"hr": 422, "admin": 404})),  # no mapping chosen
    ],
    ("POST", "/customers/import/{token:str}/apply"): [
        C("/customers/import/{cs_upload}/apply", staff_only({"hr": 422, "admin": 404})),  # no mapping: nothing saved
    ],
    ("GET", "/customers/import/{token:str}/done"): [
        C("/customers/import/{cs_upload}/done", staff_only({"hr": 303, "admin": 404})),  # not imported: back to mapping
    ],
    # analytics: the company for executives, HR and admins; a manager their own subtree; nobody else
    ("GET", "/analytics"): [C("/analytics", page(200, employee=403, outsider=403))],
    ("GET", "/analytics/departments/{department_id:int}"): [
        C("/analytics/departments/{support}", page(200, employee=403, outsider=403)),
        C("/analytics/departments/{warehouse}", page(200, employee=403, outsider=403, manager=403)),
        C("/analytics/departments/{missing}", page(404, employee=403, outsider=403))],
    # monthly reports: executives and admins generate; HR also reads; the rest may not see them
    ("GET", "/reports"): [C("/reports", staff_only({"hr": 200, "ceo": 200, "admin": 200}))],
    ("GET", "/reports/{report_id:int}/download"): [
        C("/reports/{missing}/download", staff_only({"hr": 404, "ceo": 404, "admin": 404}))],
    ("POST", "/reports/generate"): [C("/reports/generate", staff_only({"ceo": 422, "admin": 422}))],  # no month: refused
    ("POST", "/api/v1/customer-scores"): [C("/api/v1/customer-scores", {**api(), "token_read": 403})],  # needs scores:write
    ("POST", "/api/v1/recognitions"): [C("/api/v1/recognitions", {**api(), "token_read": 403})],  # needs recognition:write
}


def app_routes(app) -> set[tuple[str, str]]:
    """Every (method, path) the app answers, but the automatic OPTIONS and the static files."""
    found = set()
    for route in app.routes:
        if route.path.startswith("/static"):
            continue
        for handler in getattr(route, "route_handlers", []):
            for method in handler.http_methods:
                if handler.http_methods == {"OPTIONS"} and handler.fn.__name__ == "options_handler":
                    continue  # Litestar adds one to every path; it only lists the allowed methods
                found.add((method, route.path))
    return found


def test_every_route_has_a_row_and_every_row_a_route(app):
    routes = app_routes(app)
    missing = sorted(routes - set(MATRIX))
    stale = sorted(set(MATRIX) - routes)
    assert not missing, f"routes without a row in MATRIX (add the status each actor gets): {missing}"
    assert not stale, f"rows in MATRIX for routes the app no longer has: {stale}"


def test_the_matrix_is_complete_for_every_actor():
    for key, cases in MATRIX.items():
        assert cases, key
        for case in cases:
            assert set(case.expect) == set(ACTORS), (key, case.url)


# --- running it ---------------------------------------------------------------------------------


async def _fixtures(cast) -> dict[str, int | str]:
    """A person who has left (in the manager's reach), one to invite, a closed department, and an
    org file HR uploaded."""
    now, tag = utcnow(), uuid.uuid4().hex[:6]
    async with db.write():
        left = Person(full_name="Матрица Ушедшая", employee_number=f"MX-LEFT-{tag}", position="Courier", role="employee",
                      language="ru", department=cast.departments["support.line1"], manager=cast.ids["manager"],
                      active=False, hired_on=date(2020, 1, 1), left_on=date(2024, 1, 31), search_name="матрица ушедшая",
                      created_at=now, updated_at=now)
        invitee = Person(full_name="Матрица Приглашённая", employee_number=f"MX-INVITE-{tag}", position="Picker", role="employee",
                         language="ru", department=cast.departments["warehouse"], search_name="матрица приглашенная",
                         created_at=now, updated_at=now)
        company = await Department.select().where(Department.id == cast.departments["company"]).first().run()
        closed = Department(code=f"mx.closed.{tag}", name_en="Closed office", name_ru="Закрытый офис", parent=company["id"],
                            depth=1, active=False)
        for row in (left, invitee, closed):
            await row.save().run()
        await Department.update({Department.path: f"{company['path']}{closed.id}/"}).where(Department.id == closed.id).run()
    from servicechain.platform.people import importing

    upload = await importing.store_upload(cast.actor("hr"), "org.csv", f"employee_number,full_name\nMX-{tag},Матрица Файл\n".encode())
    from servicechain.goals import service as goals
    from tests.goals.helpers import goal_data, make_cascade

    cascade = await make_cascade(cast)
    draft = await goals.create_goal(cast.actor("employee"), goal_data(cast, standalone_reason="Matrix: a draft of its own"))
    from tests.goals.authority.helpers import make_chain

    chain = await make_chain(cast)
    return {"left": left.id, "invitee": invitee.id, "closed": closed.id, "hr_upload": upload,
            "goal_company": cascade["company"], "goal_person": cascade["person"], "goal_draft": draft,
            "grant_employee": chain.employee, "grant_manager": chain.manager}


async def _token(name: str, scopes: str) -> str:
    """Written directly: "goals:read" stands for any scope that does not cover the route."""
    raw = f"sc_matrix_{name}_{uuid.uuid4().hex}"
    async with db.write():
        await ApiToken.insert(ApiToken(name=raw[3:40], token_hash=token_hash(raw), prefix=raw[:8], scopes=scopes,
                                       created_at=utcnow())).run()
    return raw


async def _session(who: str) -> str:
    signed = await accounts.sign_in(EMAILS[who], PASSWORD, ip="192.0.2.1", user_agent="matrix")
    return signed.raw_token


def _outcome(response) -> object:
    location = response.headers.get("location", "")
    if response.status_code == 303 and location.startswith("/login?next="):
        return LOGIN
    return response.status_code


@pytest.fixture
async def matrix_client(client, cast):
    ids = {**cast.ids, **cast.departments, "missing": 999_999}
    ids.update(await on_app_loop(client, _fixtures, cast))
    ids.update(await on_app_loop(client, internal_service_fixtures, cast))
    ids.update(await on_app_loop(client, customers_fixtures, cast))
    ids.update(await on_app_loop(client, quality_fixtures, cast))
    ids.update(await on_app_loop(client, recognition_fixtures, cast))
    ids.update(await on_app_loop(client, pulse_fixtures, cast))
    tokens = {"token_read": await on_app_loop(client, _token, "read", "people:read,authority:read,authority:use"),
              "token_other": await on_app_loop(client, _token, "other", "goals:read")}
    sessions = {who: await on_app_loop(client, _session, who) for who in PEOPLE}
    await client.get("/login")
    csrf = client.cookies.get("sc_csrf")
    assert csrf
    return client, ids, tokens, sessions, csrf


async def test_authorization_matrix(matrix_client):
    client, ids, tokens, sessions, csrf = matrix_client
    plan = [(key, case) for key, cases in MATRIX.items() for case in cases]
    plan.sort(key=lambda item: item[1].last)  # the session-ending ones at the end
    wrong = []
    for (method, _path), case in plan:
        url = case.url.format(**ids)
        for actor in ACTORS:
            client.cookies.clear()
            client.cookies.set("sc_csrf", csrf)
            headers = {"x-csrftoken": csrf}
            if actor in PEOPLE:
                session = await on_app_loop(client, _session, actor) if case.last else sessions[actor]
                client.cookies.set("sc_session", session)
            elif actor in TOKENS:
                headers["Authorization"] = f"Bearer {tokens[actor]}"
            response = await client.request(method, url, data=case.data if method == "POST" else None, headers=headers,
                                            follow_redirects=False)
            got = _outcome(response)
            if got != case.expect[actor]:
                wrong.append(f"{method} {url} as {actor}: expected {case.expect[actor]}, got {got}")
            if url.startswith("/api/") and isinstance(got, int) and got >= 400:
                assert set(response.json()) == {"detail", "errors"}, (url, actor)
    assert not wrong, "\n".join(wrong)


async def test_hr_cannot_take_over_an_admin_through_edit_or_invite(matrix_client):
    """The rule behind two rows above, seen from the data: nothing changed, no link was issued."""
    from servicechain.platform.tables import OneTimeLink

    client, ids, _tokens, sessions, csrf = matrix_client
    admin_id = ids["admin"]
    before = await on_app_loop(client, Person.select(Person.email, Person.role).where(Person.id == admin_id).first().run)
    links = await on_app_loop(client, OneTimeLink.count().where(OneTimeLink.person == admin_id).run)
    client.cookies.clear()
    client.cookies.set("sc_csrf", csrf)
    client.cookies.set("sc_session", sessions["hr"])
    data = {"full_name": "Админ Админов", "employee_number": "T-001", "email": "hr-owns-this@test.local",
            "language": "en", "role": "employee"}
    edit = await client.post(f"/people/{admin_id}/edit", data=data, headers={"x-csrftoken": csrf}, follow_redirects=False)
    invite = await client.post(f"/people/{admin_id}/invite", headers={"x-csrftoken": csrf}, follow_redirects=False)
    assert (edit.status_code, invite.status_code) == (403, 403)
    assert "You do not have permission to do this." in edit.text
    assert await on_app_loop(client, Person.select(Person.email, Person.role).where(Person.id == admin_id).first().run) == before
    assert await on_app_loop(client, OneTimeLink.count().where(OneTimeLink.person == admin_id).run) == links
