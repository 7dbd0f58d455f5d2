"""Customer scores in the browser: the figures by department, the latest scores, the follow-ups
of low ones, and the import wizard (upload → column mapping → dry run → import → result)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Template

from servicechain.platform import db
from servicechain.platform.customers import importing, metrics, service
from servicechain.platform.customers.channels import CHANNELS
from servicechain.platform.customers.tables import OUTCOMES
from servicechain.platform.i18n import lazy_gettext
from servicechain.platform.imports import web as wizard_web
from servicechain.platform.imports.wizard import mapping_as_form, mapping_from_form, mapping_to_show
from servicechain.platform.people.service import today
from servicechain.platform.security import actor_of, score_departments_for
from servicechain.platform.web import DomainError, FormInvalid, redirect, render
from servicechain.platform.lib.dates import first_of_month, months_back

OUTCOME_LABELS = {
    "called_back": lazy_gettext("Called the customer back"),
    "resolved": lazy_gettext("Resolved the problem"),
    "compensated": lazy_gettext("Compensated the customer"),
}
PERIODS = (3, 6, 12, 24)
IMPORT = {"policy": "scores.import"}


async def _visible_departments(paths: list[str] | None) -> list[dict[str, Any]]:
    if paths is None:
        return await db.fetch("SELECT id, code, name_en, name_ru, path, depth, parent FROM department ORDER BY path")
    if not paths:
        return []
    return await db.fetch(
        "SELECT id, code, name_en, name_ru, path, depth, parent FROM department WHERE "
        + " OR ".join(["path LIKE {}"] * len(paths)) + " ORDER BY path", *[p + "%" for p in paths])


def _tree_order(departments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Parents before children, siblings by name (paths sort by id, not by name)."""
    from servicechain.platform.people.service import department_name

    children: dict[Any, list[dict[str, Any]]] = {}
    ids = {d["id"] for d in departments}
    for d in departments:
        children.setdefault(d["parent"] if d["parent"] in ids else None, []).append(d)
    ordered: list[dict[str, Any]] = []

    def walk(parent: Any, level: int) -> None:
        for d in sorted(children.get(parent, []), key=lambda d: department_name(d).casefold()):
            d["level"] = level
            ordered.append(d)
            walk(d["id"], level + 1)

    walk(None, 0)
    return ordered


class CustomersController(Controller):
    path = "/customers"

    @get("/", name="customers:overview", opt={"policy": "scores.view"})
    async def overview(self, request: Request, months: Annotated[int, QueryParameter(ge=1, le=24)] = 3) -> Template:
        """Each department's own scores, in tree order, with the subtree's totals on the heads' rows."""
        actor = actor_of(request)
        months = months if months in PERIODS else 3
        until = today()
        since = first_of_month(months_back(until, months)[0])
        paths = await score_departments_for(actor)
        departments = _tree_order(await _visible_departments(paths))
        rows = await metrics.department_months(since, until, paths=paths)
        by_department: dict[int, list[dict[str, Any]]] = {}
        for row in rows:
            by_department.setdefault(row["department"], []).append(row)
        table = []
        for d in departments:
            below = [r for other in departments if other["path"].startswith(d["path"])
                     for r in by_department.get(other["id"], [])]
            if not below:
                continue
            table.append({"department": d, "figures": metrics.totals(below),
                          "own": metrics.totals(by_department.get(d["id"], []))})
        total = metrics.totals(rows)
        follow_ups = await service.follow_ups_for(actor, status="open", limit=0)
        return render(request, "customers/overview.html", {
            "table": table, "total": total, "months": months, "periods": PERIODS, "since": since, "until": until,
            "open_follow_ups": follow_ups["open"], "overdue_follow_ups": follow_ups["overdue"],
        })

    @get("/scores", name="customers:scores", opt={"policy": "scores.view"})
    async def scores(self, request: Request, channel: FromQuery[str] = "", low: FromQuery[bool] = False,
                     department: FromQuery[str] = "",
                     page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1) -> Template:
        actor = actor_of(request)
        paths = await score_departments_for(actor)
        departments = _tree_order(await _visible_departments(paths))
        conditions, args = [], []
        if paths is not None:
            conditions.append("(" + " OR ".join(["d.path LIKE {}"] * len(paths)) + ")" if paths else "1 = 0")
            args += [p + "%" for p in paths]
        department_id = int(department) if department.isdigit() and len(department) < 10 else None
        chosen = next((d for d in departments if d["id"] == department_id), None)
        if chosen:
            conditions.append("d.path LIKE {}")
            args.append(chosen["path"] + "%")
        if channel in CHANNELS:
            conditions.append("s.channel = {}")
            args.append(channel)
        if low:
            conditions.append("s.low = {}")
            args.append(True)
        per_page = 50
        rows = await db.fetch(
            "SELECT s.id, s.given_on, s.channel, s.case_ref, s.csat, s.csat_good, s.nps, s.low, s.comment, s.source,"
            " d.name_en, d.name_ru, p.full_name AS employee_name, f.id AS follow_up"
            " FROM customer_score s JOIN department d ON d.id = s.department LEFT JOIN person p ON p.id = s.employee"
            " LEFT JOIN customer_follow_up f ON f.score = s.id"
            f" WHERE {' AND '.join(conditions) or '1 = 1'} ORDER BY s.given_on DESC, s.id DESC"
            f" LIMIT {per_page + 1} OFFSET {(page - 1) * per_page}", *args)
        for row in rows:
            if isinstance(row["given_on"], str):
                row["given_on"] = date.fromisoformat(row["given_on"])
        return render(request, "customers/scores.html", {
            "rows": rows[:per_page], "more": len(rows) > per_page, "page": page, "channel": channel, "low": low,
            "department": department_id, "departments": departments, "channels": CHANNELS,
        })

    @get("/follow-ups", name="customers:follow_ups", opt={"policy": "scores.follow_ups"})
    async def follow_ups(self, request: Request, status: FromQuery[str] = "open") -> Template:
        status = status if status in ("open", "overdue", "closed") else "open"
        found = await service.follow_ups_for(actor_of(request), status=status)
        return render(request, "customers/follow_ups.html", {**found, "status": status, "outcomes": OUTCOME_LABELS,
                                                             "channels": CHANNELS})

    @get("/follow-ups/{follow_up_id:int}", name="customers:follow_up", opt={"policy": "scores.follow_ups"})
    async def follow_up(self, request: Request, follow_up_id: FromPath[int]) -> Template:
        return await self._follow_up_page(request, follow_up_id, {}, {})

    @post("/follow-ups/{follow_up_id:int}/close", name="customers:follow_up_close", opt={"policy": "scores.follow_ups"})
    async def close(self, request: Request, follow_up_id: FromPath[int]) -> Any:
        form = dict(await request.form())
        try:
            await service.close_follow_up(actor_of(request), follow_up_id, form)
        except FormInvalid as exc:
            return await self._follow_up_page(request, follow_up_id, form, exc.errors, status_code=422)
        return redirect(request, f"/customers/follow-ups/{follow_up_id}?closed=1")

    @post("/follow-ups/{follow_up_id:int}/compensate", name="customers:follow_up_compensate",
          opt={"policy": "scores.follow_ups"})
    async def compensate(self, request: Request, follow_up_id: FromPath[int]) -> Any:
        from servicechain.goals.authority.service import UseRefused

        form = dict(await request.form())
        try:
            await service.compensate(actor_of(request), follow_up_id, form)
        except FormInvalid as exc:
            return await self._follow_up_page(request, follow_up_id, form, exc.errors, status_code=422)
        except UseRefused as exc:
            return await self._follow_up_page(request, follow_up_id, form, {}, status_code=422, refusal=exc.message)
        return redirect(request, f"/customers/follow-ups/{follow_up_id}?closed=1")

    @post("/follow-ups/{follow_up_id:int}/assign", name="customers:follow_up_assign", opt={"policy": "scores.follow_ups"})
    async def assign(self, request: Request, follow_up_id: FromPath[int]) -> Any:
        form = dict(await request.form())
        try:
            await service.reassign_follow_up(actor_of(request), follow_up_id, form.get("assignee"))
        except FormInvalid as exc:
            return await self._follow_up_page(request, follow_up_id, form, exc.errors, status_code=422)
        return redirect(request, f"/customers/follow-ups/{follow_up_id}?assigned=1")

    async def _follow_up_page(self, request: Request, follow_up_id: int, values: dict[str, Any],
                              errors: dict[str, list[str]], status_code: int = 200, refusal: str | None = None
                              ) -> Template:
        from servicechain.goals.authority.service import format_amount, scope_name

        actor = actor_of(request)
        detail = await service.follow_up_detail(actor, follow_up_id)
        colleagues = await service.may_reassign_to(actor, detail["follow_up"])
        return render(request, "customers/follow_up.html", {
            **detail, "values": values, "errors": errors, "outcomes": OUTCOME_LABELS, "outcome_codes": OUTCOMES,
            "channels": CHANNELS, "colleagues": colleagues, "scope_name": scope_name, "format_amount": format_amount,
            "closed_now": request.query_params.get("closed") == "1",
            "assigned_now": request.query_params.get("assigned") == "1", "refusal": refusal,
            "actor_id": actor.person_id,
        }, status_code=status_code)


class ScoreImportController(Controller):
    path = "/customers/import"

    @get("/", name="customers_import:start", opt=IMPORT)
    async def start(self, request: Request) -> Template:
        return render(request, "customers/import_upload.html", {"values": {"source": importing.DEFAULT_SOURCE},
                                                                "errors": {}})

    @post("/", name="customers_import:upload", opt=IMPORT)
    async def upload(self, request: Request) -> Any:
        form, data, filename = await wizard_web.read_upload_form(request)
        sheet, source = str(form.get("sheet") or ""), str(form.get("source") or "")
        try:
            token = await importing.store_upload(actor_of(request), filename, data, sheet, source)
        except FormInvalid as exc:
            return render(request, "customers/import_upload.html",
                          {"values": {"sheet": sheet, "source": source}, "errors": exc.errors}, status_code=422)
        return redirect(request, f"/customers/import/{token}/mapping")

    @get("/{token:str}/mapping", name="customers_import:mapping", opt=IMPORT)
    async def mapping(self, request: Request, token: FromPath[str]) -> Any:
        upload = await importing.load_upload(actor_of(request), token)
        if upload.applied:
            return redirect(request, f"/customers/import/{token}/done")
        mapping = mapping_to_show(upload.headers, dict(request.query_params), importing.guess_mapping)
        return self._mapping_page(request, upload, mapping_as_form(upload.headers, mapping), {})

    @post("/{token:str}/preview", name="customers_import:preview", opt=IMPORT)
    async def preview(self, request: Request, token: FromPath[str]) -> Any:
        actor = actor_of(request)
        upload = await importing.load_upload(actor, token)
        if upload.applied:
            return redirect(request, f"/customers/import/{token}/done")
        mapping = mapping_from_form(upload.headers, dict(await request.form()))
        try:
            result = await importing.preview_upload(actor, upload, mapping)
        except FormInvalid as exc:
            return self._mapping_page(request, upload, mapping_as_form(upload.headers, mapping), exc.errors)
        return self._preview_page(request, upload, mapping, result)

    @post("/{token:str}/apply", name="customers_import:apply", opt=IMPORT)
    async def apply(self, request: Request, token: FromPath[str]) -> Any:
        actor = actor_of(request)
        upload = await importing.load_upload(actor, token)
        mapping = mapping_from_form(upload.headers, dict(await request.form()))
        try:
            await importing.apply_upload(actor, upload, mapping)
        except FormInvalid as exc:
            return self._mapping_page(request, upload, mapping_as_form(upload.headers, mapping), exc.errors)
        except importing.ImportRejected as exc:
            return self._preview_page(request, upload, mapping, exc.result, status_code=422)
        except DomainError:
            return redirect(request, f"/customers/import/{token}/done")
        return redirect(request, f"/customers/import/{token}/done")

    @get("/{token:str}/done", name="customers_import:done", opt=IMPORT)
    async def done(self, request: Request, token: FromPath[str]) -> Any:
        upload = await importing.load_upload(actor_of(request), token)
        if not upload.applied:
            return redirect(request, f"/customers/import/{token}/mapping")
        return render(request, "customers/import_done.html", {"upload": upload, "counts": upload.result})

    def _mapping_page(self, request: Request, upload: importing.Upload, values: dict[str, str],
                      errors: dict[str, list[str]]) -> Template:
        samples = [[row[i] if i < len(row) else "" for row in upload.samples] for i in range(len(upload.headers))]
        context = {"upload": upload, "values": values, "errors": errors, "options": wizard_web.field_options(importing.FIELDS),
                   "samples": samples, "row_count": upload.row_count}
        return render(request, "customers/import_mapping.html", context, status_code=422 if errors else 200)

    def _preview_page(self, request: Request, upload: importing.Upload, mapping: dict[str, str],
                      result: importing.ImportResult, status_code: int = 200) -> Template:
        context = {"upload": upload, "result": result, "counts": result.counts,
                   "hidden": mapping_as_form(upload.headers, mapping)}
        return render(request, "customers/import_preview.html", context,
                      status_code=status_code if not result.problem_count or status_code != 200 else 200)

