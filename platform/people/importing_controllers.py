"""The org import in the browser: upload → column mapping → preview → apply → result.

No state is kept in process memory between steps: the file waits in the database under a
random token that only its uploader can open, and the mapping travels in the forms.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Template

from servicechain.platform.imports import web as wizard_web
from servicechain.platform.imports.wizard import mapping_as_form, mapping_from_form, mapping_to_show
from servicechain.platform.people import importing
from servicechain.platform.security import actor_of
from servicechain.platform.web import FormInvalid, redirect, render

POLICY = {"policy": "people.import"}


def _samples(upload: importing.Upload, limit: int = 3) -> list[list[str]]:
    """A few values of each column, so the person sees what a column holds."""
    return [[r.cells.get(h, "") for r in upload.rows[:limit]] for h in upload.headers]


class ImportController(Controller):
    path = "/people/import"

    @get("/", name="people_import:start", opt=POLICY)
    async def start(self, request: Request) -> Template:
        return render(request, "people/import_upload.html", {"values": {}, "errors": {}})

    @post("/", name="people_import:upload", opt=POLICY)
    async def upload(self, request: Request) -> Any:
        form, data, filename = await wizard_web.read_upload_form(request)
        sheet = str(form.get("sheet") or "")
        try:
            token = await importing.store_upload(actor_of(request), filename, data, sheet)
        except FormInvalid as exc:
            return render(request, "people/import_upload.html", {"values": {"sheet": sheet}, "errors": exc.errors},
                          status_code=422)
        return redirect(request, f"/people/import/{token}/mapping")

    @get("/{token:str}/mapping", name="people_import:mapping", opt=POLICY)
    async def mapping(self, request: Request, token: FromPath[str]) -> Any:
        upload = await importing.load_upload(actor_of(request), token)
        if upload.applied:
            return redirect(request, f"/people/import/{token}/done")
        query = dict(request.query_params)
        mapping = mapping_to_show(upload.headers, query, importing.guess_mapping)
        return self._mapping_page(request, upload, mapping_as_form(upload.headers, mapping),
                                  bool(query.get("full")), {})

    @post("/{token:str}/preview", name="people_import:preview", opt=POLICY)
    async def preview(self, request: Request, token: FromPath[str]) -> Any:
        actor = actor_of(request)
        upload = await importing.load_upload(actor, token)
        if upload.applied:
            return redirect(request, f"/people/import/{token}/done")
        form = dict(await request.form())
        mapping, full = mapping_from_form(upload.headers, form), bool(form.get("full"))
        try:
            plan = await importing.preview_upload(actor, upload, mapping, full)
        except FormInvalid as exc:
            return self._mapping_page(request, upload, mapping_as_form(upload.headers, mapping), full, exc.errors)
        return self._preview_page(request, upload, mapping, plan, {})

    @post("/{token:str}/apply", name="people_import:apply", opt=POLICY)
    async def apply(self, request: Request, token: FromPath[str]) -> Any:
        actor = actor_of(request)
        upload = await importing.load_upload(actor, token)
        form = dict(await request.form())
        mapping, full = mapping_from_form(upload.headers, form), bool(form.get("full"))
        try:
            await importing.apply_upload(actor, upload, mapping, full, confirmed=bool(form.get("confirm")))
        except FormInvalid as exc:
            return self._mapping_page(request, upload, mapping_as_form(upload.headers, mapping), full, exc.errors)
        except importing.ImportRejected as exc:
            errors = {"confirm": [importing.confirmation_message(exc.plan)]} if not exc.plan.problems else {}
            return self._preview_page(request, upload, mapping, exc.plan, errors, status_code=422)
        return redirect(request, f"/people/import/{token}/done")

    @get("/{token:str}/done", name="people_import:done", opt=POLICY)
    async def done(self, request: Request, token: FromPath[str]) -> Any:
        upload = await importing.load_upload(actor_of(request), token)
        if not upload.applied:
            return redirect(request, f"/people/import/{token}/mapping")
        return render(request, "people/import_done.html", {"upload": upload, "counts": upload.result})

    def _mapping_page(self, request: Request, upload: importing.Upload, values: dict[str, str], full: bool,
                      errors: dict[str, list[str]]) -> Template:
        context = {"upload": upload, "values": values, "full": full, "errors": errors, "options": wizard_web.field_options(importing.FIELDS),
                   "samples": _samples(upload), "row_count": len(upload.rows)}
        return render(request, "people/import_mapping.html", context, status_code=422 if errors else 200)

    def _preview_page(self, request: Request, upload: importing.Upload, mapping: dict[str, str], plan: importing.ImportPlan,
                      errors: dict[str, list[str]], status_code: int = 200) -> Template:
        context = {
            "upload": upload, "plan": plan, "counts": plan.counts(), "errors": errors,
            "hidden": mapping_as_form(upload.headers, mapping), "full": plan.full,
            "confirmation": importing.confirmation_message(plan) if plan.needs_confirmation else "",
        }
        return render(request, "people/import_preview.html", context, status_code=status_code)
