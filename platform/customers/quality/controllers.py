"""Quality pages: scorecards, their thread, weights, reviewers, checklists, audits and a
department's quality. Handlers parse, call the service and choose a template."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Template

from servicechain.platform.customers.channels import CHANNELS
from servicechain.platform.customers.quality import service
from servicechain.platform.customers.quality.tables import CRITERIA
from servicechain.platform.i18n import gettext as _
from servicechain.platform.lib.ids import parse_id
from servicechain.platform.people.service import today
from servicechain.platform.security import actor_of
from servicechain.platform.web import FormInvalid, redirect, render


async def _form_data(request: Request) -> dict[str, Any]:
    form = await request.form()
    return {key: str(form.get(key, "")) for key in form.keys()}


def _query(request: Request) -> dict[str, str]:
    return {key: request.query_params.get(key, "") for key in ("employee", "department", "channel", "month", "reviewer",
                                                                "checklist", "page")}


def _common() -> dict[str, Any]:
    return {"criteria": [(c, service.criterion_name(c)) for c in CRITERIA],
            "channels": [(k, str(v)) for k, v in CHANNELS.items()], "kinds": [(k, str(v)) for k, v in service.KINDS.items()]}


async def _departments() -> list[dict[str, Any]]:
    from servicechain.platform.people.tables import Department

    rows = await Department.select(Department.id, Department.name_en, Department.name_ru, Department.depth).where(
        Department.active == True).order_by(Department.path).run()  # noqa: E712
    return [{"id": r["id"], "name": service.department_name(r), "depth": r["depth"]} for r in rows]


class QualityController(Controller):
    path = "/quality"

    @get("/", name="quality:home", opt={"policy": "quality.view"})
    async def home(self, request: Request) -> Template:
        return render(request, "quality/home.html", {"o": await service.overview(actor_of(request))})

    # --- scorecards ---

    @get("/scorecards", name="quality:scorecards", opt={"policy": "quality.view"})
    async def scorecards(self, request: Request) -> Template:
        actor = actor_of(request)
        listing = await service.list_scorecards(actor, _query(request))
        return render(request, "quality/scorecards.html", {"l": listing, "departments": await _departments(), **_common()},
                      fragment="quality/_scorecard_rows.html")

    @get("/scorecards/new", name="quality:score_form", opt={"policy": "quality.view"})
    async def score_form(self, request: Request) -> Template:
        values = {"channel": "phone", "contact_on": today().isoformat(), "employee": request.query_params.get("employee", "")}
        return await self._score(request, values, {})

    @post("/scorecards/new", name="quality:score", opt={"policy": "quality.view"})
    async def score(self, request: Request) -> Any:
        data = await _form_data(request)
        try:
            card_id = await service.create_scorecard(actor_of(request), data)
        except FormInvalid as exc:
            return await self._score(request, data, exc.errors)
        return redirect(request, f"/quality/scorecards/{card_id}?saved=1")

    async def _score(self, request: Request, values: dict, errors: dict) -> Template:
        context = await service.scorecard_form_context(actor_of(request))
        return render(request, "quality/score.html", {**context, **_common(), "values": values, "errors": errors},
                      status_code=422 if errors else 200, fragment="quality/_score_form.html")

    @get("/scorecards/{scorecard_id:int}", name="quality:scorecard", opt={"policy": "quality.view"})
    async def scorecard(self, request: Request, scorecard_id: FromPath[int]) -> Template:
        return await self._card(request, scorecard_id, {}, {})

    @post("/scorecards/{scorecard_id:int}/comments", name="quality:comment", opt={"policy": "quality.view"})
    async def comment(self, request: Request, scorecard_id: FromPath[int]) -> Any:
        data = await _form_data(request)
        try:
            await service.add_comment(actor_of(request), scorecard_id, data)
        except FormInvalid as exc:
            return await self._card(request, scorecard_id, data, exc.errors)
        if getattr(request, "htmx", False):
            return await self._card(request, scorecard_id, {}, {})
        return redirect(request, f"/quality/scorecards/{scorecard_id}#thread")

    async def _card(self, request: Request, scorecard_id: int, values: dict, errors: dict) -> Template:
        page = await service.scorecard_page(actor_of(request), scorecard_id)
        return render(request, "quality/scorecard.html", {**page, "values": values, "errors": errors,
                                                          "saved": request.query_params.get("saved") == "1"},
                      status_code=422 if errors else 200, fragment="quality/_thread.html")

    # --- weights (admins) ---

    @get("/weights", name="quality:weights", opt={"policy": "quality.weights"})
    async def weights(self, request: Request) -> Template:
        page = await service.weights_page(actor_of(request))
        return self._weights(request, page, {c: page["current"][c] for c in CRITERIA}, {})

    @post("/weights", name="quality:set_weights", opt={"policy": "quality.weights"})
    async def set_weights(self, request: Request) -> Any:
        data = await _form_data(request)
        try:
            await service.set_weights(actor_of(request), data)
        except FormInvalid as exc:
            return self._weights(request, await service.weights_page(actor_of(request)), data, exc.errors)
        return redirect(request, "/quality/weights?saved=1")

    def _weights(self, request: Request, page: dict, values: dict, errors: dict) -> Template:
        return render(request, "quality/weights.html", {**page, **_common(), "values": values, "errors": errors,
                                                        "saved": request.query_params.get("saved") == "1"},
                      status_code=422 if errors else 200)

    # --- reviewers (HR) ---

    @get("/reviewers", name="quality:reviewers", opt={"policy": "quality.manage"})
    async def reviewers(self, request: Request) -> Template:
        return await self._reviewers(request, {}, {})

    @post("/reviewers", name="quality:add_reviewer", opt={"policy": "quality.manage"})
    async def add_reviewer(self, request: Request) -> Any:
        data = await _form_data(request)
        try:
            await service.add_reviewer(actor_of(request), data)
        except FormInvalid as exc:
            return await self._reviewers(request, data, exc.errors)
        return redirect(request, "/quality/reviewers")

    @post("/reviewers/{reviewer_id:int}/remove", name="quality:remove_reviewer", opt={"policy": "quality.manage"})
    async def remove_reviewer(self, request: Request, reviewer_id: FromPath[int]) -> Any:
        await service.remove_reviewer(actor_of(request), reviewer_id)
        return redirect(request, "/quality/reviewers")

    async def _reviewers(self, request: Request, values: dict, errors: dict) -> Template:
        return render(request, "quality/reviewers.html", {"reviewers": await service.list_reviewers(actor_of(request)),
                                                          "departments": await _departments(), "values": values,
                                                          "errors": errors}, status_code=422 if errors else 200)

    # --- checklists (HR) ---

    @get("/checklists", name="quality:checklists", opt={"policy": "quality.manage"})
    async def checklists(self, request: Request) -> Template:
        return render(request, "quality/checklists.html", {"checklists": await service.list_checklists(actor_of(request))})

    @get("/checklists/new", name="quality:new_checklist", opt={"policy": "quality.manage"})
    async def new_checklist(self, request: Request) -> Template:
        return await self._checklist(request, None, {"channel": "store", "active": True, "items": []}, {})

    @post("/checklists/new", name="quality:create_checklist", opt={"policy": "quality.manage"})
    async def create_checklist(self, request: Request) -> Any:
        data = await _form_data(request)
        try:
            await service.save_checklist(actor_of(request), None, data)
        except FormInvalid as exc:
            return await self._checklist(request, None, self._redisplay(data), exc.errors)
        return redirect(request, "/quality/checklists")

    @get("/checklists/{checklist_id:int}/edit", name="quality:edit_checklist", opt={"policy": "quality.manage"})
    async def edit_checklist(self, request: Request, checklist_id: FromPath[int]) -> Template:
        return await self._checklist(request, checklist_id, await service.checklist_values(actor_of(request), checklist_id), {})

    @post("/checklists/{checklist_id:int}/edit", name="quality:update_checklist", opt={"policy": "quality.manage"})
    async def update_checklist(self, request: Request, checklist_id: FromPath[int]) -> Any:
        data = await _form_data(request)
        try:
            await service.save_checklist(actor_of(request), checklist_id, data)
        except FormInvalid as exc:
            return await self._checklist(request, checklist_id, self._redisplay(data), exc.errors)
        return redirect(request, "/quality/checklists")

    @staticmethod
    def _redisplay(data: dict[str, Any]) -> dict[str, Any]:
        items = [{**i, "n": i["n"]} for i in service.items_from_form(data)]
        return {**data, "active": data.get("active") in ("1", "on"), "items": items}

    async def _checklist(self, request: Request, checklist_id: int | None, values: dict, errors: dict) -> Template:
        items = list(values.get("items") or [])
        used = {int(i.get("n", n)) for n, i in enumerate(items)}
        numbered = [{**i, "n": int(i.get("n", n))} for n, i in enumerate(items)]
        start = max(used, default=-1) + 1
        numbered += [{"n": start + k, "id": "", "text_en": "", "text_ru": "", "criterion": "", "kind": "yes_no"}
                     for k in range(service.BLANK_ITEMS)]
        return render(request, "quality/checklist_form.html", {
            "checklist_id": checklist_id, "values": values, "items": numbered, "errors": errors,
            "departments": await _departments(), **_common()}, status_code=422 if errors else 200)

    # --- audits ---

    @get("/audits", name="quality:audits", opt={"policy": "quality.view"})
    async def audits(self, request: Request) -> Template:
        listing = await service.list_audits(actor_of(request), _query(request))
        return render(request, "quality/audits.html", {"l": listing, "departments": await _departments(), **_common()},
                      fragment="quality/_audit_rows.html")

    @get("/audits/new", name="quality:audit_form", opt={"policy": "quality.view"})
    async def audit_form(self, request: Request) -> Template:
        checklist_id = parse_id(request.query_params.get("checklist"))
        values = {"visited_on": today().isoformat()}
        return await self._audit(request, checklist_id, values, {})

    @post("/audits/new", name="quality:record_audit", opt={"policy": "quality.view"})
    async def record_audit(self, request: Request) -> Any:
        data = await _form_data(request)
        checklist_id = parse_id(data.get("checklist"))
        if checklist_id is None:
            return await self._audit(request, None, data, {"__all__": [_("Choose the checklist the shopper filled in.")]})
        try:
            audit_id = await service.record_audit(actor_of(request), checklist_id, data)
        except FormInvalid as exc:
            return await self._audit(request, checklist_id, data, exc.errors)
        return redirect(request, f"/quality/audits/{audit_id}?saved=1")

    async def _audit(self, request: Request, checklist_id: int | None, values: dict, errors: dict) -> Template:
        context = await service.audit_form_context(actor_of(request), checklist_id)
        return render(request, "quality/audit_form.html", {**context, "values": values, "errors": errors},
                      status_code=422 if errors else 200, fragment="quality/_audit_form.html" if checklist_id else None)

    @get("/audits/{audit_id:int}", name="quality:audit", opt={"policy": "quality.view"})
    async def audit(self, request: Request, audit_id: FromPath[int]) -> Template:
        page = await service.audit_page(actor_of(request), audit_id)
        return render(request, "quality/audit.html", {**page, "saved": request.query_params.get("saved") == "1"})

    # --- a department's quality ---

    @get("/departments/{department_id:int}", name="quality:department", opt={"policy": "quality.view"})
    async def department(self, request: Request, department_id: FromPath[int]) -> Template:
        return render(request, "quality/department.html", {"p": await service.department_page(actor_of(request), department_id)})
