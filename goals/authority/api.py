"""Authority where the work happens: a helpdesk or CRM asks before an agent compensates a
customer, and records the use when it is made. Amounts are roubles (two decimals at most) for
monetary scopes and whole numbers for counted ones; errors have the API's one shape."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.exceptions import ValidationException
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody, QueryParameter

from servicechain.goals.authority import service
from servicechain.goals.authority.forms import amount_in_range
from servicechain.platform import db
from servicechain.platform.api.schema import ERROR_RESPONSES, ErrorResponse
from servicechain.platform.i18n import gettext as _
from servicechain.platform.security import actor_of
from servicechain.platform.web import DomainError


@dataclass
class AuthorityItem:
    scope: str
    per_case_limit: float
    remaining_budget: float
    remaining_for_case: float
    valid_until: date | None


@dataclass
class AuthorityAnswer:
    items: list[AuthorityItem]


@dataclass
class UseRequest:
    employee: str
    scope: str
    amount: float
    case_ref: str
    request_id: str | None = None
    note: str = ""
    customer: str = ""


@dataclass
class UseAnswer:
    use_id: int
    scope: str
    amount: float
    case_ref: str
    remaining_budget: float


def _responses(**extra: str) -> dict[int, ResponseSpec]:
    responses = dict(ERROR_RESPONSES)
    for code, description in extra.items():
        responses[int(code.removeprefix("s"))] = ResponseSpec(data_container=ErrorResponse, description=description,
                                                              generate_examples=False)
    return responses


async def _employee(email: str) -> dict[str, Any]:
    # Raw SQL for the two columns needed: the ORM's whole person row cost more CPU than the query.
    rows = await db.fetch("SELECT id, active FROM person WHERE email = {}", email.strip().lower())
    if not rows or not rows[0]["active"]:
        raise DomainError(_("No employee has this email."), 404)
    return rows[0]


async def _scope(code: str) -> dict[str, Any]:
    scope = await service.active_scope(code)
    if scope is None:
        raise DomainError(_("No scope has this code."), 404)
    return scope


def _invalid(field: str, message: str) -> ValidationException:
    return ValidationException(extra=[{"key": field, "message": message}])


class AuthorityApi(Controller):
    path = "/api/v1/authority"
    tags = ["authority"]
    include_in_schema = True

    @get("/", name="api:authority", opt={"policy": "api.authority.read"},
         responses=_responses(s404="Unknown employee"), summary="What an employee may do without asking",
         description="One item per valid grant the employee holds: the per-case limit (the smallest up the chain), "
                     "the budget left this period (the least left anywhere up the chain) and, with `case_ref`, what is "
                     "left for that case. Roubles for monetary scopes, whole numbers for counted ones. "
                     "Needs `authority:read`.")
    async def authority(self, employee: Annotated[str, QueryParameter(description="The employee's email")],
                        case_ref: Annotated[str | None, QueryParameter(description="A case reference")] = None
                        ) -> AuthorityAnswer:
        person = await _employee(employee)
        items = await service.authority_of(person["id"], case_ref=case_ref or None)
        return AuthorityAnswer(items=[
            AuthorityItem(scope=i["scope"]["code"],
                          per_case_limit=service.amount_to_api(i["scope"], i["per_case_limit"]),  # type: ignore[arg-type]
                          remaining_budget=service.amount_to_api(i["scope"], i["remaining_budget"]),  # type: ignore[arg-type]
                          remaining_for_case=service.amount_to_api(i["scope"], i["remaining_for_case"]),  # type: ignore[arg-type]
                          valid_until=i["valid_until"])
            for i in items
        ])

    @post("/uses", name="api:authority:use", opt={"policy": "api.authority.use"}, status_code=201,
          responses=_responses(s404="Unknown employee or scope", s409="The request_id was used for another request",
                               s422="Refused: `detail` says which limit and what remains; or the body is not valid"),
          summary="Record a use of authority",
          description="Records the use under the employee's grant that allows it and expires first, or refuses it "
                      "(422, nothing recorded). With `request_id`, a retry with the same body records nothing new and "
                      "gets the first answer; the same `request_id` with another body gets 409. Needs `authority:use`.")
    async def record_use(self, request: Request, data: JSONBody[UseRequest]) -> UseAnswer:
        person = await _employee(data.employee)
        scope = await _scope(data.scope)
        try:
            amount = service.amount_from_api(scope, data.amount)
        except ValueError:
            raise _invalid("amount", _("Give the amount in roubles with at most two decimals.") if scope["kind"] == "money"
                           else _("Give a whole number.")) from None
        if not amount_in_range(amount):
            raise _invalid("amount", _("The amount must be above zero."))
        case_ref = data.case_ref.strip()[:200]
        if not case_ref:
            raise _invalid("case_ref", _("This is required."))
        request_id = (data.request_id or "").strip() or None
        if request_id and len(request_id) > 200:
            raise _invalid("request_id", _("At most 200 characters."))
        body = {"employee": person["id"], "scope": scope["code"], "amount": amount, "case_ref": case_ref,
                "note": data.note, "customer": data.customer}
        result = await service.record_use(
            actor_of(request), grantee_id=person["id"], scope_id=scope["id"], amount=amount, case_ref=case_ref,
            customer=data.customer[:300], action=data.note[:2000], request_id=request_id,
            fingerprint=service.request_fingerprint(body),
        )
        return UseAnswer(use_id=result.use_id, scope=scope["code"], amount=service.amount_to_api(scope, amount),  # type: ignore[arg-type]
                         case_ref=case_ref, remaining_budget=service.amount_to_api(scope, result.remaining_budget))  # type: ignore[arg-type]
