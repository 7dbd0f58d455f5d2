"""Goal pages: my goals, my team's, the cascade tree, a goal with its check-ins, the forms.
Handlers parse, call the service and choose a template."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from servicechain.goals import service
from servicechain.platform.security import actor_of, goal_for
from servicechain.platform.web import FormInvalid, redirect, render

POLICY = {"policy": "goals.view"}


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _plain(value: float | None) -> str:
    """A number as the form reads it back in any language: 12 or 12.5, no group separators."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


async def _cycle_context(cycle: str) -> dict[str, Any]:
    cycles = await service.cycles_for_browsing()
    return {"cycle": service.choose_cycle(cycles, _int(cycle)), "cycles": cycles, "labels": service.labels()}


class GoalController(Controller):
    path = "/goals"

    @get("/", name="goals:mine", opt=POLICY)
    async def mine(self, request: Request, cycle: FromQuery[str] = "") -> Template:
        context = await _cycle_context(cycle)
        context["goals"] = await service.my_goals(actor_of(request), context["cycle"]["id"]) if context["cycle"] else []
        return render(request, "goals/list.html", context)

    @get("/team", name="goals:team", opt=POLICY)
    async def team(self, request: Request, cycle: FromQuery[str] = "", department: FromQuery[str] = "") -> Template:
        actor = actor_of(request)
        context = await _cycle_context(cycle)
        department_row = None
        if _int(department):
            from servicechain.platform.people.service import department_name
            from servicechain.platform.security import department_for

            department_row = await department_for(actor, int(department))
            department_row["name"] = department_name(department_row)
        goals, more = await service.team_goals(
            actor, context["cycle"]["id"], department_row["id"] if department_row else None) if context["cycle"] else ([], False)
        context.update(goals=goals, more=more, department=department_row,
                       departments=await service.team_departments(actor, also=department_row["id"] if department_row else None))
        return render(request, "goals/team.html", context)

    @get("/tree", name="goals:tree", opt=POLICY)
    async def tree(self, request: Request, cycle: FromQuery[str] = "", department: FromQuery[str] = "") -> Template:
        actor = actor_of(request)
        context = await _cycle_context(cycle)
        department_row = None
        if _int(department):
            from servicechain.platform.people.service import department_name
            from servicechain.platform.security import department_for

            department_row = await department_for(actor, int(department))
            department_row["name"] = department_name(department_row)
        context["department"] = department_row
        context["departments"] = await service.tree_departments(actor, also=department_row["id"] if department_row else None)
        context["nodes"] = await service.tree_level(
            actor, context["cycle"]["id"], department_id=department_row["id"] if department_row else None
        ) if context["cycle"] else []
        return render(request, "goals/tree.html", context)

    @get("/{goal_id:int}/children", name="goals:children", opt=POLICY)
    async def children(self, request: Request, goal_id: FromPath[int]) -> Template:
        nodes = await service.tree_level(actor_of(request), 0, parent_id=goal_id)
        return render(request, "goals/_tree_level.html", {"nodes": nodes, "labels": service.labels()})

    @get("/new", name="goals:new", opt=POLICY)
    async def new(self, request: Request, level: FromQuery[str] = "person", parent: FromQuery[str] = "",
                  cycle: FromQuery[str] = "") -> Template:
        code, start, end = service.quarter_of(service.today())
        values = {"level": level if level in service.LEVEL_LABELS else "person", "parent_id": parent, "cycle": cycle or code,
                  "direction": "up", "weight": "1", "starts_on": service.today().isoformat(), "deadline": end.isoformat(),
                  "owner_person_id": str(actor_of(request).person_id or "")}
        return await self._form(request, None, values, {})

    @post("/new", name="goals:create", opt=POLICY)
    async def create(self, request: Request) -> Any:
        data = dict(await request.form())
        try:
            goal_id = await service.create_goal(actor_of(request), data)
        except FormInvalid as exc:
            return await self._form(request, None, data, exc.errors)
        return redirect(request, f"/goals/{goal_id}")

    @get("/{goal_id:int}", name="goals:detail", opt=POLICY)
    async def detail(self, request: Request, goal_id: FromPath[int]) -> Template:
        page = await service.goal_page(actor_of(request), goal_id)
        page.update(labels=service.labels(), values={"taken_on": service.today().isoformat()}, errors={})
        return render(request, "goals/detail.html", page)

    @get("/{goal_id:int}/edit", name="goals:edit", opt=POLICY)
    async def edit(self, request: Request, goal_id: FromPath[int]) -> Template:
        goal = await goal_for(actor_of(request), goal_id, write=True)
        service.check_editable(goal)
        cycle = await service.pick_cycle(goal["cycle"])
        values = {
            "level": goal["level"], "cycle": cycle["code"], "owner_person_id": goal["owner_person"] or "",
            "owner_department_id": goal["owner_department"] or "", "parent_id": goal["parent"] or "",
            "standalone_reason": goal["standalone_reason"], "title": goal["title"], "description": goal["description"],
            "metric": goal["metric"], "unit": goal["unit"], "baseline": _plain(goal["baseline"]), "target": _plain(goal["target"]), "direction": goal["direction"],
            "weight": goal["weight"], "starts_on": goal["starts_on"].isoformat(), "deadline": goal["deadline"].isoformat(),
        }
        return await self._form(request, goal, values, {})

    @post("/{goal_id:int}/edit", name="goals:update", opt=POLICY)
    async def update(self, request: Request, goal_id: FromPath[int]) -> Any:
        actor = actor_of(request)
        data = dict(await request.form())
        try:
            await service.update_goal(actor, goal_id, data)
        except FormInvalid as exc:
            goal = await goal_for(actor, goal_id, write=True)
            return await self._form(request, goal, {**data, "level": goal["level"]}, exc.errors)
        return redirect(request, f"/goals/{goal_id}")

    @post("/{goal_id:int}/status", name="goals:status", opt=POLICY)
    async def status(self, request: Request, goal_id: FromPath[int]) -> Any:
        form = await request.form()
        await service.change_status(actor_of(request), goal_id, str(form.get("to", "")))
        return redirect(request, f"/goals/{goal_id}")

    @post("/{goal_id:int}/check-ins", name="goals:check_in", opt=POLICY)
    async def check_in(self, request: Request, goal_id: FromPath[int]) -> Any:
        actor = actor_of(request)
        data = dict(await request.form())
        try:
            goal = await service.add_check_in(actor, goal_id, data)
        except FormInvalid as exc:
            page = await service.goal_page(actor, goal_id)
            page.update(labels=service.labels(), values=data, errors=exc.errors)
            return render(request, "goals/detail.html", page, status_code=422, fragment="goals/_check_ins.html")
        if not getattr(request, "htmx", False):
            return redirect(request, f"/goals/{goal_id}")
        # htmx swaps the progress section only: render just that, not the whole page again.
        section = await service.check_ins_fragment(goal)
        section.update(labels=service.labels(), values={"taken_on": service.today().isoformat()}, errors={})
        return render(request, "goals/_check_ins.html", section, fragment="goals/_check_ins.html", trigger_event="checkInAdded")

    @post("/carry-over", name="goals:carry_over_mine", opt=POLICY)
    async def carry_over_mine(self, request: Request) -> Any:
        form = await request.form()
        cycle = await service.pick_cycle(_int(str(form.get("cycle", ""))))
        if cycle is None:
            return redirect(request, "/goals/")
        await service.carry_over_mine(actor_of(request), cycle["id"])
        _code, _start, end = service.quarter_of(cycle["ends_on"])
        following = await service.pick_cycle_by_code(service.quarter_of(end + timedelta(days=1))[0])
        return redirect(request, f"/goals/?cycle={following['id']}" if following else "/goals/")

    @post("/{goal_id:int}/carry-over", name="goals:carry_over", opt=POLICY)
    async def carry_over(self, request: Request, goal_id: FromPath[int]) -> Any:
        new_id = await service.carry_over(actor_of(request), goal_id)
        return redirect(request, f"/goals/{new_id}")

    async def _form(self, request: Request, goal: dict | None, values: dict, errors: dict) -> Template:
        actor = actor_of(request)
        level = str(values.get("level") or "person")
        cycle = str(values.get("cycle") or "")
        parents = await service.parent_choices(actor, level, cycle, _int(str(values.get("parent_id", ""))),
                                               _int(str(values.get("owner_department_id", ""))))
        departments = await service.department_choices(actor) if level == "department" else []
        people = await service.person_choices(actor) if level == "person" else []
        options = {
            "cycles": [(c["code"], c["label"]) for c in await service.cycle_choices()],
            "parents": [(p["id"], p["label"]) for p in parents],
            "departments": [(d["id"], d["name"]) for d in departments],
            "people": [(p["id"], p["full_name"]) for p in people],
        }
        context = {"goal": goal, "values": values, "errors": errors, "labels": service.labels(), "options": options}
        return render(request, "goals/form.html", context, status_code=422 if errors else 200, fragment="goals/_form.html")
