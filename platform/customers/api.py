"""Systems push customer scores: ``POST /api/v1/customer-scores`` with a JSON list.

The token's name is the source (one token per source system), so external ids are unique per
token. A batch is saved whole or refused whole: 422 names every bad item by its index, 409 the
external ids already stored with different content. Items already stored with the same content
are skipped, so a replayed batch adds nothing and answers 200 with the counts.

The body is read here rather than by Litestar's validation, whose errors cannot say which item
of a list was wrong; the OpenAPI document describes it through :class:`_Documented`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, post
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.response import Response

from servicechain.platform.api.schema import ERROR_RESPONSES, ErrorResponse
from servicechain.platform.customers import service
from servicechain.platform.i18n import gettext as _
from servicechain.platform.i18n import ngettext
from servicechain.platform.security import actor_of
from servicechain.platform.web import api_error

MAX_ITEMS = 5_000
MAX_BODY = 8 * 1024 * 1024
TEXT_FIELDS = ("external_id", "date", "channel", "case_ref", "department", "employee", "comment")


@dataclass
class ScoresSaved:
    """What the batch did: `created` new scores, `skipped` ones stored before with the same
    content, and `follow_ups` opened for low scores."""

    received: int
    created: int
    skipped: int
    follow_ups: int


def _string(description: str, max_length: int | None = None, **extra: Any) -> Schema:
    return Schema(type=OpenAPIType.STRING, description=description, max_length=max_length, **extra)


ITEM_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    required=["external_id", "date", "channel"],
    properties={
        "external_id": _string("Unique per source (the token): a replay with the same content is skipped", 200,
                               min_length=1, pattern=r"\S"),
        "date": _string("The day the customer gave the score", format="date"),  # type: ignore[arg-type]
        "channel": _string("phone, chat, email, courier or store", enum=["phone", "chat", "email", "courier", "store"]),
        "department": _string("Department code (or name, or path such as “Support / First line”); may be left out "
                              "when the employee is given", 1000),
        "employee": _string("Employee number or email; the department is then the employee's on that day", 254),
        "csat": Schema(type=OpenAPIType.INTEGER, minimum=1, maximum=5, description="CSAT 1–5"),
        "csat_good": Schema(type=OpenAPIType.BOOLEAN, description="Instead of `csat`: satisfied (true) or not (false)"),
        "nps": Schema(type=OpenAPIType.INTEGER, minimum=0, maximum=10, description="Likelihood to recommend, 0–10"),
        "case_ref": _string("The case, ticket or order the score is about", 200),
        "comment": _string("What the customer wrote", 4000),
    },
    additional_properties=False,  # an unknown field is refused, naming the known ones
    description="One score; give `csat` (or `csat_good`) and/or `nps`. A CSAT of 3 or less, `csat_good: false` or "
                "an NPS of 6 or less opens a follow-up for the team's manager.",
)


@dataclass
class _Documented(Operation):
    """The operation as Litestar documents it, with the request body we read ourselves."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            required=True, description=f"A list of 1 to {MAX_ITEMS} scores",
            content={"application/json": OpenAPIMediaType(schema=Schema(type=OpenAPIType.ARRAY, items=ITEM_SCHEMA,
                                                                  min_items=1, max_items=MAX_ITEMS))},
        )


def _item_values(index: int, item: Any, problems: list[dict[str, Any]]) -> dict[str, str]:
    """The item's values as texts by field, the way a file gives them; type errors noted."""
    if not isinstance(item, dict):
        problems.append({"index": index, "field": None, "message": _("Each item must be an object.")})
        return {}
    values: dict[str, str] = {}
    for name in TEXT_FIELDS:
        value = item.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or (name == "external_id" and not value.strip()):
            if isinstance(value, int) and not isinstance(value, bool) and name in ("external_id", "employee", "case_ref"):
                value = str(value)  # ids that systems send as numbers
            else:
                problems.append({"index": index, "field": name, "message": _("Give a text.")})
                continue
        values["given_on" if name == "date" else name] = value
    for name in ("csat", "nps"):
        value = item.get(name)
        if value is None:
            continue
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # JSON has one number type: 4.0 is the whole number 4
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append({"index": index, "field": name, "message": _("Give a whole number.")})
        else:
            values[name] = str(value)
    good = item.get("csat_good")
    if good is not None:
        if not isinstance(good, bool):
            problems.append({"index": index, "field": "csat_good", "message": _("Write true or false.")})
        else:
            values["csat_good"] = "yes" if good else "no"
    unknown = sorted(set(item) - set(TEXT_FIELDS) - {"csat", "nps", "csat_good"})
    if unknown:
        problems.append({"index": index, "field": unknown[0],
                         "message": _("Unknown field; the fields are: %(fields)s.",
                                      fields=", ".join((*TEXT_FIELDS, "csat", "csat_good", "nps")))})
    return values


_FIELD_NAMES = {"given_on": "date"}


class CustomerScoresApi(Controller):
    path = "/api/v1/customer-scores"
    tags = ["customer scores"]
    include_in_schema = True

    @post("/", name="api:customer_scores", opt={"policy": "api.scores.write"}, status_code=200,
          operation_class=_Documented,
          responses={
              **ERROR_RESPONSES,
              409: ResponseSpec(data_container=ErrorResponse, generate_examples=False,
                                description="An external id is already stored with different content; `errors` "
                                            "names each by `index`. Nothing was saved."),
              422: ResponseSpec(data_container=ErrorResponse, generate_examples=False,
                                description="Some items are not valid; `errors` names each by `index` and `field`. "
                                            "Nothing was saved."),
          },
          summary="Send customer scores",
          description="Saves a batch of scores from one source (the token's name), whole or not at all. Items "
                      "already stored with the same content are skipped, so a replayed batch adds nothing. The "
                      "employee and department are kept as they were on the score's date. Needs `scores:write`.")
    async def create(self, request: Request) -> ScoresSaved:
        actor = actor_of(request)
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return api_error(413, _("The batch is too large; send at most %(n)s scores at a time.", n=MAX_ITEMS))  # type: ignore[return-value]
        try:
            body = json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError):
            return api_error(422, _("The body is not valid JSON."))  # type: ignore[return-value]
        if not isinstance(body, list) or not body:
            return api_error(422, _("Send a JSON list of scores."))  # type: ignore[return-value]
        if len(body) > MAX_ITEMS:
            return api_error(422, _("Send at most %(n)s scores at a time.", n=MAX_ITEMS))  # type: ignore[return-value]
        problems: list[dict[str, Any]] = []
        items = [_item_values(i, item, problems) for i, item in enumerate(body)]
        if problems:
            return self._refused(422, problems)  # type: ignore[return-value]
        checksum = hashlib.sha256(raw).hexdigest()
        try:
            counts = await service.save_batch(actor, items, source=actor.name[:100] or "api", checksum=checksum,
                                              via="api")
        except service.ScoresRefused as exc:
            return self._refused(exc.status, [{"index": i, "field": _FIELD_NAMES.get(f, f), "message": m}
                                              for i, f, m in exc.problems])  # type: ignore[return-value]
        return ScoresSaved(**counts)

    def _refused(self, status: int, problems: list[dict[str, Any]]) -> Response:
        indexes = sorted({p["index"] for p in problems})
        shown = ", ".join(str(i) for i in indexes[:20]) + ("…" if len(indexes) > 20 else "")
        if status == 409:
            detail = ngettext("Item %(items)s has an external id already stored with different content; nothing was saved.",
                              "Items %(items)s have external ids already stored with different content; nothing was saved.",
                              len(indexes), items=shown)
        else:
            detail = ngettext("Item %(items)s is not valid; nothing was saved.",
                              "Items %(items)s are not valid; nothing was saved.", len(indexes), items=shown)
        return api_error(status, detail, problems[:1000])
