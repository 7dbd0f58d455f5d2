"""The API's OpenAPI document, served at /schema/openapi.json and nowhere else.

Only the JSON document is published: no documentation UI, since Litestar's UIs load their
scripts from a CDN, which our Content-Security-Policy (rightly) refuses. Every other path under
/schema answers 404 through the app's own error handler.

Litestar documents a 400 "ValidationException" for every handler with parameters; ours answer
422 in the shape of :class:`ErrorResponse` instead (see ``platform.web.exception_handler``), so
the document says that.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from litestar import Request, Router
from litestar.exceptions import NotFoundException
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from servicechain.platform.security import PUBLIC

SCHEMA_PATH = "/schema"
SCHEMA_DOCUMENT = SCHEMA_PATH + "/openapi.json"


@dataclass
class ErrorItem:
    """One problem: with the query or body field it concerns, or the index of a list item."""

    message: str
    field: str | None = None
    index: int | None = None


@dataclass
class ErrorResponse:
    """Every error under /api/v1 has this shape; `detail` is in the request's language."""

    detail: str
    errors: list[ErrorItem]


def _error(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=ErrorResponse, description=description, generate_examples=False)


ERROR_RESPONSES: dict[int, ResponseSpec] = {
    401: _error("No token, or the token is unknown or revoked"),
    403: _error("The token lacks the scope this endpoint needs"),
    422: _error("A query parameter is not valid; `errors` names each one"),
    429: _error("Too many requests; wait for the number of seconds in Retry-After"),
}


class ApiJsonRenderPlugin(JsonRenderPlugin):
    """The JSON document, with Litestar's generic 400 replaced by our 422 where we declare it."""

    def __init__(self) -> None:
        super().__init__(path="/openapi.json")
        self._document: dict[str, Any] | None = None

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        if self._document is None:
            document = copy.deepcopy(openapi_schema)
            for item in document.get("paths", {}).values():
                for operation in item.values():
                    responses = operation.get("responses") if isinstance(operation, dict) else None
                    if responses and "422" in responses:
                        responses.pop("400", None)
            self._document = document
        return self.render_json(request, self._document)


def only_the_document(request: Request) -> None:
    """Litestar's schema router also answers /schema and /schema/{anything}; we publish one file."""
    if request.url.path != SCHEMA_DOCUMENT:
        raise NotFoundException()


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="servicechain API",
        version="1",
        description="Read access for integrations. Authenticate with `Authorization: Bearer <token>`; "
        "tokens are created by administrators with the scopes they need.",
        path=SCHEMA_PATH,
        render_plugins=[ApiJsonRenderPlugin()],
        openapi_router=Router(path=SCHEMA_PATH, route_handlers=[], opt={"policy": PUBLIC}, include_in_schema=False,
                              before_request=only_the_document),
        components=Components(security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}),
        security=[{"bearer": []}],
    )
