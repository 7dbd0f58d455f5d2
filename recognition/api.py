"""Thanks from where people already talk: a chat bot posts a recognition for one of its users.

The token (scope ``recognition:write``) is trusted to speak for the person named in ``from``;
the same rules as the web apply, and the audit log names the token.
"""

from __future__ import annotations

import msgspec
from litestar import Controller, Request, post
from litestar.params import JSONBody
from litestar.exceptions import ValidationException
from litestar.openapi import ResponseSpec

from servicechain.platform.api.schema import ERROR_RESPONSES, ErrorResponse
from servicechain.platform.i18n import gettext as _
from servicechain.platform.security import actor_of
from servicechain.platform.web import DomainError, FormInvalid
from servicechain.recognition import service


class RecognitionIn(msgspec.Struct):
    """A recognition: who thanks whom, for which company values, and why."""

    from_: str = msgspec.field(name="from")
    to: list[str]
    values: list[str]
    message: str
    story: str = ""
    case_ref: str = ""
    visibility: str = "public"


class RecognitionCreated(msgspec.Struct):
    id: int
    url: str


RESPONSES = {
    **ERROR_RESPONSES,
    422: ResponseSpec(data_container=ErrorResponse, generate_examples=False,
                      description="Refused, nothing saved: `errors` names each field (`from`, `to`, `values`, `message`…) "
                                  "with the reason; a sender over the daily limit gets the reason in `detail`"),
}


class RecognitionApi(Controller):
    path = "/api/v1"
    tags = ["recognition"]
    include_in_schema = True

    @post("/recognitions", name="api:recognitions:create", opt={"policy": "api.recognition.write"}, status_code=201,
          responses=RESPONSES, summary="Thank colleagues",
          description="`from` is the sender's email, `to` the recipients' emails, `values` company value codes (the demo's: "
                      "`customer`, `colleagues`, `ownership`, `beyond`). Optional: `story` (an inspiring service story), "
                      "`case_ref`, `visibility` (`public` or `private`). The same rules as the web: no thanking yourself, "
                      "nobody who has left, no retired value, a message of 1-1000 characters, at most 20 recognitions per "
                      "sender in 24 hours. Needs `recognition:write`.")
    async def create(self, request: Request, data: JSONBody[RecognitionIn]) -> RecognitionCreated:
        actor = actor_of(request)
        sender = (await service.find_people([data.from_.strip()])).get(data.from_.strip()) if data.from_.strip() else None
        if sender is None:
            raise ValidationException(extra=[{"key": "from", "message": _("Nobody has the email %(who)s.", who=data.from_)}])
        body = {"to": data.to, "values": data.values, "message": data.message, "story": data.story,
                "case_ref": data.case_ref, "visibility": data.visibility}
        try:
            rid = await service.give_recognition(actor, body, sender_id=sender["id"])
        except FormInvalid as exc:
            if "__all__" in exc.errors:
                raise DomainError(" ".join(exc.errors["__all__"])) from None
            raise ValidationException(extra=[{"key": field, "message": message}
                                             for field, messages in exc.errors.items() for message in messages]) from None
        return RecognitionCreated(id=rid, url=f"/recognition/{rid}")
