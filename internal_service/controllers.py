"""Internal service pages. Handlers parse, call the service and choose a template."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from servicechain.internal_service import service
from servicechain.internal_service.tables import CRITERIA
from servicechain.platform.security import actor_of
from servicechain.platform.web import FormInvalid, redirect, render


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


async def _form_data(request: Request) -> dict[str, Any]:
    form = await request.form()
    data: dict[str, Any] = {key: str(form.get(key, "")) for key in form.keys()}
    data["audience"] = [str(v) for v in form.getall("audience", [])]
    return data


class InternalServiceController(Controller):
    path = "/internal-service"

    @get("/", name="internal_service:catalogue", opt={"policy": "internal_service.view"})
    async def catalogue(self, request: Request) -> Template:
        actor = actor_of(request)
        return render(request, "internal_service/catalogue.html", {
            "services": await service.catalogue(actor),
            "may_add": bool(await service.maintainable_departments(actor)),
        })

    @get("/services/new", name="internal_service:new", opt={"policy": "internal_service.view"})
    async def new(self, request: Request) -> Template:
        return await self._form(request, None, {"for_all": True}, {})

    @post("/services/new", name="internal_service:create", opt={"policy": "internal_service.view"})
    async def create(self, request: Request) -> Any:
        data = await _form_data(request)
        try:
            await service.save_service(actor_of(request), None, data)
        except FormInvalid as exc:
            return await self._form(request, None, data, exc.errors)
        return redirect(request, "/internal-service/")

    @get("/services/{service_id:int}/edit", name="internal_service:edit", opt={"policy": "internal_service.view"})
    async def edit(self, request: Request, service_id: FromPath[int]) -> Template:
        values = await service.service_form_values(actor_of(request), service_id)
        return await self._form(request, service_id, values, {})

    @post("/services/{service_id:int}/edit", name="internal_service:update", opt={"policy": "internal_service.view"})
    async def update(self, request: Request, service_id: FromPath[int]) -> Any:
        data = await _form_data(request)
        try:
            await service.save_service(actor_of(request), service_id, data)
        except FormInvalid as exc:
            return await self._form(request, service_id, data, exc.errors)
        return redirect(request, "/internal-service/")

    async def _form(self, request: Request, service_id: int | None, values: dict, errors: dict) -> Template:
        actor = actor_of(request)
        if service_id is None and not await service.maintainable_departments(actor):
            from servicechain.platform.security import Forbidden

            raise Forbidden()
        from servicechain.platform.people.service import department_tree

        context = {"service_id": service_id, "values": values, "errors": errors,
                   "providers": await service.maintainable_departments(actor),
                   "departments": await department_tree(actor, with_counts=False, max_depth=2)}
        return render(request, "internal_service/service_form.html", context, status_code=422 if errors else 200,
                      fragment="internal_service/_service_form.html")

    # --- rating ---

    @get("/round", name="internal_service:round", opt={"policy": "internal_service.rate"})
    async def round(self, request: Request) -> Template:
        return render(request, "internal_service/round.html", {"checklist": await service.round_checklist(actor_of(request))})

    @get("/services/{service_id:int}/rate", name="internal_service:rate_form", opt={"policy": "internal_service.rate"})
    async def rate_form(self, request: Request, service_id: FromPath[int]) -> Template:
        page = await service.rating_page(actor_of(request), service_id)
        values = {"round_id": page["round"]["id"] if page["round"] else ""}
        return self._rating(request, page, values, {})

    @post("/services/{service_id:int}/rate", name="internal_service:rate", opt={"policy": "internal_service.rate"})
    async def rate(self, request: Request, service_id: FromPath[int]) -> Any:
        actor = actor_of(request)
        data = await _form_data(request)
        try:
            await service.rate(actor, service_id, data)
        except FormInvalid as exc:
            return self._rating(request, await service.rating_page(actor, service_id), data, exc.errors)
        return redirect(request, "/internal-service/round?rated=1")

    def _rating(self, request: Request, page: dict, values: dict, errors: dict) -> Template:
        return render(request, "internal_service/rate.html", {**page, "values": values, "errors": errors, "criteria": CRITERIA},
                      status_code=422 if errors else 200, fragment="internal_service/_rate_form.html")

    # --- rounds (HR) ---

    @get("/rounds", name="internal_service:rounds", opt={"policy": "internal_service.rounds"})
    async def rounds(self, request: Request) -> Template:
        return await self._rounds(request, {}, {})

    @post("/rounds", name="internal_service:launch", opt={"policy": "internal_service.rounds"})
    async def launch(self, request: Request) -> Any:
        data = await _form_data(request)
        try:
            await service.launch_round(actor_of(request), data)
        except FormInvalid as exc:
            return await self._rounds(request, data, exc.errors)
        return redirect(request, "/internal-service/rounds")

    @post("/rounds/{round_id:int}/close", name="internal_service:close_round", opt={"policy": "internal_service.rounds"})
    async def close_round(self, request: Request, round_id: FromPath[int]) -> Any:
        try:
            await service.close_round(actor_of(request), round_id)
        except FormInvalid as exc:
            return await self._rounds(request, {}, {}, exc.errors.get("__all__", []))
        return redirect(request, "/internal-service/rounds?closed=1")

    async def _rounds(self, request: Request, values: dict, errors: dict, refused: list[str] | None = None) -> Template:
        return render(request, "internal_service/rounds.html",
                      {"rounds": await service.list_rounds(actor_of(request)), "values": values, "errors": errors,
                       "refused": refused or [], "closed": request.query_params.get("closed") == "1"},
                      status_code=422 if errors or refused else 200)

    # --- figures ---

    @get("/matrix", name="internal_service:matrix", opt={"policy": "internal_service.reports"})
    async def matrix(self, request: Request, raters: FromQuery[str] = "", providers: FromQuery[str] = "",
                     round: FromQuery[str] = "") -> Template:
        actor = actor_of(request)
        data = await service.matrix(actor, _int(raters), _int(providers), round_id=_int(round))
        return render(request, "internal_service/matrix.html", {"m": data, "periods": await service.matrix_periods(actor)},
                      fragment="internal_service/_matrix.html")

    @get("/departments/{department_id:int}", name="internal_service:scorecard", opt={"policy": "internal_service.view"})
    async def scorecard(self, request: Request, department_id: FromPath[int]) -> Template:
        return render(request, "internal_service/scorecard.html", {"s": await service.scorecard(actor_of(request), department_id)})

    # --- follow-ups (heads of rated departments) ---

    @get("/follow-ups", name="internal_service:follow_ups", opt={"policy": "internal_service.view"})
    async def follow_ups(self, request: Request, status: FromQuery[str] = "open") -> Template:
        status = "resolved" if status == "resolved" else "open"
        return render(request, "internal_service/follow_ups.html",
                      {"items": await service.follow_ups(actor_of(request), status), "status": status})

    @get("/follow-ups/{follow_up_id:int}", name="internal_service:follow_up", opt={"policy": "internal_service.view"})
    async def follow_up(self, request: Request, follow_up_id: FromPath[int]) -> Template:
        return await self._follow_up(request, follow_up_id, {}, {})

    @post("/follow-ups/{follow_up_id:int}", name="internal_service:resolve", opt={"policy": "internal_service.view"})
    async def resolve(self, request: Request, follow_up_id: FromPath[int]) -> Any:
        data = await _form_data(request)
        try:
            await service.resolve_follow_up(actor_of(request), follow_up_id, data)
        except FormInvalid as exc:
            return await self._follow_up(request, follow_up_id, data, exc.errors)
        return redirect(request, f"/internal-service/follow-ups/{follow_up_id}")

    async def _follow_up(self, request: Request, follow_up_id: int, values: dict, errors: dict) -> Template:
        card = await service.follow_up_card(actor_of(request), follow_up_id)
        return render(request, "internal_service/follow_up.html", {**card, "values": values, "errors": errors,
                                                                   "criteria": CRITERIA},
                      status_code=422 if errors else 200)
