"""The import wizards' request handling that does not depend on what is imported."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import UploadFile


async def read_upload_form(request: Request) -> tuple[dict[str, Any], bytes, str]:
    """The upload step's form, the file's bytes and its name; no file reads as empty bytes,
    which the wizard refuses with "Choose a CSV or XLSX file."."""
    form = await request.form()
    file = form.get("file")
    data, filename = b"", ""
    if isinstance(file, UploadFile):
        data, filename = await file.read(), file.filename or ""
    return dict(form), data, filename


def field_options(fields: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, label in the reader's language) for the mapping page's selects."""
    return [(name, str(label)) for name, label in fields.items()]
