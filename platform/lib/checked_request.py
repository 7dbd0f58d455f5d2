"""The app's request class: the texts a form or a JSON body brings in hold no control characters.

Checked once, where the body is parsed, not field by field in each form: a NUL or another C0
control character (tab, line feed and carriage return are text) is refused with 422 and a
message in the reader's language before any handler sees it, so SQLite and PostgreSQL get the
same input (PostgreSQL refuses a NUL in any text; SQLite would store it). Uploaded files are
not texts: their contents are the imports' to read, and they refuse control bytes themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from litestar.datastructures import FormMultiDict, UploadFile
from litestar.enums import RequestEncodingType
from litestar.plugins.htmx import HTMXRequest

from servicechain.platform.lib.text import control_character, control_character_message
from servicechain.platform.web import DomainError


# How a JSON text carries a control character: \u0000-\u001f, \b or \f (a raw one is invalid
# JSON). A body with none of these is not decoded a second time: a 1,000-score batch (1 MB) costs
# ~10 ms CPU to decode and scan, and 1-4 ms to look for them. A false alarm ("\u00e9", "\\b")
# only means the full check runs.
_JSON_CONTROL_ESCAPES = (b"\\u00", b"\\b", b"\\f")


class CheckedRequest(HTMXRequest):
    async def body(self) -> bytes:
        body = await super().body()
        self._check_once("body", lambda: self._texts_of(body))
        return body

    async def form(self) -> FormMultiDict:
        form = await super().form()
        self._check_once("form", lambda: [(k, v) for k, v in form.multi_items() if not isinstance(v, UploadFile)])
        return form

    def _check_once(self, what: str, texts: Callable[[], Any]) -> None:
        """Each request object of a request reads the same body, so it is checked once."""
        checked = self.scope.setdefault("servicechain_checked", set())  # type: ignore[typeddict-item]
        if what not in checked:
            checked.add(what)
            self._refuse(texts())

    def _texts_of(self, body: bytes) -> Any:
        """What a body says as texts: a URL-encoded form's fields, or a JSON body's values
        (a body that is not JSON is the handler's to refuse). Multipart bodies are read as a
        form, and their files are not texts."""
        content_type = self.content_type[0]
        if not body or content_type == RequestEncodingType.MULTI_PART:
            return None
        if content_type == RequestEncodingType.URL_ENCODED:
            return parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        if content_type.endswith("json") or self.url.path.startswith("/api/"):
            if not any(escape in body for escape in _JSON_CONTROL_ESCAPES):
                return None
            try:
                return msgspec.json.decode(body)
            except msgspec.DecodeError:
                return None
        return None

    def _refuse(self, texts: Any) -> None:
        found = control_character(texts)
        if found is None:
            return
        # A page, or the API's error shape with the message as its detail (the answer
        # PostgreSQL's refusal of a NUL got before this check, on that engine only).
        raise DomainError(control_character_message(found[1]), 422)
