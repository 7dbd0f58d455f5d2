"""Pulse pages. Handlers parse, call the service and choose a template."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from servicechain.platform.security import actor_of
from servicechain.platform.surveys import service
from servicechain.platform.surveys.tables import TRAITS
from servicechain.platform.web import FormInvalid, redirect, render


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 10 else None


async def _form_data(request: Request) -> dict[str, Any]:
    form = await request.form()
    data: dict[str, Any] = {key: str(form.get(key, "")) for key in form.keys()}
    data["departments"] = [str(v) for v in form.getall("departments", [])]
    return data


class PulseController(Controller):
    path = "/pulses"

    @get("/", name="pulses:list", opt={"policy": "pulses.answer"})
    async def index(self, request: Request) -> Template:
        return render(request, "surveys/list.html", await service.list_pulses(actor_of(request)))

    # --- answering ---

    @get("/{pulse_id:int}/answer", name="pulses:answer_form", opt={"policy": "pulses.answer"})
    async def answer_form(self, request: Request, pulse_id: FromPath[int]) -> Template:
        page = await service.answer_page(actor_of(request), pulse_id)
        return render(request, "surveys/answer.html", {**page, "values": {}, "errors": {}})

    @post("/{pulse_id:int}/answer", name="pulses:answer", opt={"policy": "pulses.answer"})
    async def answer(self, request: Request, pulse_id: FromPath[int]) -> Any:
        actor = actor_of(request)
        data = await _form_data(request)
        try:
            await service.submit_answer(actor, pulse_id, data)
        except FormInvalid as exc:
            page = await service.answer_page(actor, pulse_id)
            return render(request, "surveys/answer.html", {**page, "values": data, "errors": exc.errors}, status_code=422,
                          fragment="surveys/_answer_form.html")
        page = await service.answer_page(actor, pulse_id)
        return render(request, "surveys/answer.html", {**page, "values": {}, "errors": {}, "thanked": True},
                      fragment="surveys/_thanks.html", trigger_event="pulseAnswered")

    # --- launching (HR) ---

    @get("/new", name="pulses:new", opt={"policy": "pulses.manage"})
    async def new(self, request: Request) -> Template:
        return await self._launch_form(request, {"audience": "all"}, {})

    @post("/new", name="pulses:launch", opt={"policy": "pulses.manage"})
    async def launch(self, request: Request) -> Any:
        data = await _form_data(request)
        try:
            pulse_id = await service.launch_pulse(actor_of(request), data)
        except FormInvalid as exc:
            return await self._launch_form(request, data, exc.errors)
        return redirect(request, f"/pulses/{pulse_id}")

    async def _launch_form(self, request: Request, values: dict, errors: dict) -> Template:
        context = await service.launch_form(actor_of(request))
        values.setdefault("min_group_size", context["company_min"])
        return render(request, "surveys/launch.html", {**context, "values": values, "errors": errors},
                      status_code=422 if errors else 200, fragment="surveys/_launch_form.html")

    # --- one pulse: participation while it runs, results after ---

    @get("/{pulse_id:int}", name="pulses:detail", opt={"policy": "pulses.answer"})
    async def detail(self, request: Request, pulse_id: FromPath[int], department: FromQuery[str] = "") -> Template:
        actor = actor_of(request)
        pulse = await service.pulse_for_page(actor, pulse_id)
        if pulse["status"] != "closed":
            return render(request, "surveys/running.html", await service.running_page(actor, pulse_id))
        data = await service.results(actor, pulse_id, _int(department))
        return render(request, "surveys/results.html", {"r": data}, fragment="surveys/_results.html")

    @post("/{pulse_id:int}/close", name="pulses:close", opt={"policy": "pulses.manage"})
    async def close(self, request: Request, pulse_id: FromPath[int]) -> Any:
        try:
            await service.close_now(actor_of(request), pulse_id)
        except FormInvalid:
            pass  # already closed: the page says so
        return redirect(request, f"/pulses/{pulse_id}")

    # --- templates (HR) ---

    @get("/templates", name="pulses:templates", opt={"policy": "pulses.manage"})
    async def templates(self, request: Request) -> Template:
        return render(request, "surveys/templates.html", {"templates": await service.list_templates(actor_of(request))})

    @get("/templates/{template_id:int}", name="pulses:template", opt={"policy": "pulses.manage"})
    async def template(self, request: Request, template_id: FromPath[int]) -> Template:
        return await self._template(request, template_id, None, {})

    @post("/templates/{template_id:int}", name="pulses:template_save", opt={"policy": "pulses.manage"})
    async def template_save(self, request: Request, template_id: FromPath[int]) -> Any:
        data = await _form_data(request)
        try:
            await service.save_template(actor_of(request), template_id, data)
        except FormInvalid as exc:
            return await self._template(request, template_id, data, exc.errors)
        return redirect(request, f"/pulses/templates/{template_id}")

    @post("/templates/{template_id:int}/copy", name="pulses:template_copy", opt={"policy": "pulses.manage"})
    async def template_copy(self, request: Request, template_id: FromPath[int]) -> Any:
        new_id = await service.copy_template(actor_of(request), template_id)
        return redirect(request, f"/pulses/templates/{new_id}")

    async def _template(self, request: Request, template_id: int, values: dict | None, errors: dict) -> Template:
        detail = await service.template_detail(actor_of(request), template_id)
        if values is None:
            values = {"name_en": detail["name_en"], "name_ru": detail["name_ru"]}
            for i, item in enumerate(detail["items"]):
                values.update({f"trait_{i}": item["trait"], f"text_en_{i}": item["text_en"], f"text_ru_{i}": item["text_ru"]})
        return render(request, "surveys/template.html",
                      {"t": detail, "values": values, "errors": errors, "traits": [(t, service.trait_label(t)) for t in TRAITS]},
                      status_code=422 if errors else 200)
