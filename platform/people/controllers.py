"""People and departments pages. Handlers parse, call the service and choose a template."""

from __future__ import annotations

from typing import Any

from litestar.params import FromPath, FromQuery
from litestar import Controller, Request, get, post
from litestar.response import Template

from servicechain.platform.lib.ids import parse_id
from servicechain.platform.people import service
from servicechain.platform.people.tables import ROLES
from servicechain.platform.security import actor_of, assignable_roles, person_for
from servicechain.platform.web import FormInvalid, redirect, render


def _int(value: str | None) -> int | None:
    return parse_id(value)


# The directory's department filter offers the upper levels; a team's own page links to
# "everyone here and below" for the deeper ones.
FILTER_DEPTH = 2


class PeopleController(Controller):
    path = "/people"

    @get("/", name="people:list", opt={"policy": "people.directory"})
    async def directory(self, request: Request, q: FromQuery[str] = "", department: FromQuery[str] = "", role: FromQuery[str] = "",
                        status: FromQuery[str] = "active", page: FromQuery[int] = 1) -> Template:
        actor = actor_of(request)
        result = await service.search_people(actor, q=q, department_id=_int(department), role=role if role in ROLES else "",
                                             status=status, page=page)
        context = {"result": result, "q": q, "department": department, "role": role, "status": status, "roles": ROLES}
        if not getattr(request, "htmx", False):  # htmx asks only for the results fragment
            context["departments"] = await service.department_tree(actor, max_depth=FILTER_DEPTH, also=_int(department), with_counts=False)
        return render(request, "people/list.html", context, fragment="people/_results.html")

    @get("/new", name="people:new", opt={"policy": "people.edit"})
    async def new(self, request: Request) -> Template:
        return await self._form(request, None, {"language": "ru", "role": "employee"}, {})

    @post("/new", name="people:create", opt={"policy": "people.edit"})
    async def create(self, request: Request) -> Any:
        data = dict(await request.form())
        try:
            person_id = await service.create_person(actor_of(request), data)
        except FormInvalid as exc:
            return await self._form(request, None, data, exc.errors)
        return redirect(request, f"/people/{person_id}")

    @get("/{person_id:int}", name="people:detail", opt={"policy": "people.directory"})
    async def detail(self, request: Request, person_id: FromPath[int]) -> Template:
        card = await service.person_card(actor_of(request), person_id)
        return render(request, "people/detail.html", card)

    @get("/{person_id:int}/edit", name="people:edit", opt={"policy": "people.edit"})
    async def edit(self, request: Request, person_id: FromPath[int]) -> Template:
        await person_for(actor_of(request), person_id, write=True)  # a form that could not be saved is a 403
        card = await service.person_card(actor_of(request), person_id)
        p = card["person"]
        values = {
            "full_name": p["full_name"], "employee_number": p["employee_number"], "email": p["email"] or "",
            "position": p["position"], "department_id": p["department"] or "", "manager_id": p["manager"] or "",
            "language": p["language"], "role": p["role"], "hired_on": p["hired_on"].isoformat() if p["hired_on"] else "",
            "left_on": p["left_on"].isoformat() if p["left_on"] else "",
        }
        return await self._form(request, p, values, {})

    @post("/{person_id:int}/edit", name="people:update", opt={"policy": "people.edit"})
    async def update(self, request: Request, person_id: FromPath[int]) -> Any:
        actor = actor_of(request)
        data = dict(await request.form())
        try:
            await service.update_person(actor, person_id, data)
        except FormInvalid as exc:
            card = await service.person_card(actor, person_id)
            return await self._form(request, card["person"], data, exc.errors)
        return redirect(request, f"/people/{person_id}")

    async def _form(self, request: Request, person: dict | None, values: dict, errors: dict) -> Template:
        actor = actor_of(request)
        context = {
            "person": person, "values": values, "errors": errors,
            "departments": await service.department_tree(actor, with_counts=False), "managers": await service.manager_choices(_int(str(values.get("manager_id", "")))),
            "roles": assignable_roles(actor) or ROLES,
        }
        return render(request, "people/form.html", context, status_code=422 if errors else 200, fragment="people/_form.html")


class DepartmentController(Controller):
    path = "/departments"

    @get("/", name="departments:list", opt={"policy": "departments.view"})
    async def tree(self, request: Request) -> Template:
        return render(request, "people/departments.html", {"departments": await service.department_tree(actor_of(request))})

    @get("/new", name="departments:new", opt={"policy": "departments.edit"})
    async def new(self, request: Request, parent: FromQuery[str] = "") -> Template:
        return await self._form(request, None, {"parent_id": parent}, {})

    @post("/new", name="departments:create", opt={"policy": "departments.edit"})
    async def create(self, request: Request) -> Any:
        data = dict(await request.form())
        try:
            department_id = await service.create_department(actor_of(request), data)
        except FormInvalid as exc:
            return await self._form(request, None, data, exc.errors)
        return redirect(request, f"/departments/{department_id}")

    @get("/{department_id:int}", name="departments:detail", opt={"policy": "departments.view"})
    async def detail(self, request: Request, department_id: FromPath[int]) -> Template:
        return render(request, "people/department.html", await service.department_card(actor_of(request), department_id))

    @get("/{department_id:int}/edit", name="departments:edit", opt={"policy": "departments.edit"})
    async def edit(self, request: Request, department_id: FromPath[int]) -> Template:
        card = await service.department_card(actor_of(request), department_id)
        d = card["department"]
        values = {"code": d["code"], "name_en": d["name_en"], "name_ru": d["name_ru"],
                  "parent_id": d["parent"] or "", "head_id": d["head"] or ""}
        return await self._form(request, d, values, {})

    @post("/{department_id:int}/edit", name="departments:update", opt={"policy": "departments.edit"})
    async def update(self, request: Request, department_id: FromPath[int]) -> Any:
        actor = actor_of(request)
        data = dict(await request.form())
        try:
            await service.update_department(actor, department_id, data)
        except FormInvalid as exc:
            card = await service.department_card(actor, department_id)
            return await self._form(request, card["department"], data, exc.errors)
        return redirect(request, f"/departments/{department_id}")

    async def _form(self, request: Request, department: dict | None, values: dict, errors: dict) -> Template:
        actor = actor_of(request)
        context = {"department": department, "values": values, "errors": errors,
                   "departments": await service.department_tree(actor, with_counts=False), "people": await service.manager_choices(_int(str(values.get("head_id", ""))))}
        return render(request, "people/department_form.html", context, status_code=422 if errors else 200,
                      fragment="people/_department_form.html")
