"""Recognition and reward pages. Handlers parse, call the service and choose a template."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from servicechain.platform.people.service import department_name, today
from servicechain.platform.security import actor_of, department_for, person_for
from servicechain.platform.web import DomainError, FormInvalid, redirect, render
from servicechain.recognition import service
from servicechain.recognition.forms import PeriodForm
from servicechain.recognition.tables import REWARD_KINDS

MAX_ID = 2**31 - 1
MULTI = ("to", "values")  # fields that may repeat (checkboxes)


async def form_data(request: Request) -> dict[str, Any]:
    form = await request.form()
    return {key: (form.getall(key) if key in MULTI else form.get(key)) for key in form}


def _before(before: int | None) -> int | None:
    return before if before and 0 < before <= MAX_ID else None


def _days(days: int | None) -> int | None:
    return days if days in service.PERIODS else None


def _budget_values(budget: dict[str, Any]) -> dict[str, str]:
    return {"starts_on": budget["starts_on"].isoformat(), "ends_on": budget["ends_on"].isoformat(),
            "amount": service.amount_text(budget["amount"])}


class RecognitionController(Controller):
    path = "/recognition"

    async def _feed(self, request: Request, context: dict[str, Any], *, value: str, days: int | None, before: int | None,
                    **scope: Any) -> Template:
        actor = actor_of(request)
        page = await service.feed(actor, value=value, days=_days(days), before=_before(before), **scope)
        base = request.url.path + "?value=" + quote(value) + (f"&days={_days(days)}" if _days(days) else "")
        every_value = await service.list_values(include_retired=True)
        context.update(page=page, value=value, days=_days(days) or "", base=base, periods=service.PERIODS,
                       values=every_value, reactions=service.reaction_choices())
        htmx = getattr(request, "htmx", False)
        fragment = "recognition/_items.html" if before else "recognition/_feed.html"
        if not htmx:
            context.update(give_values={}, give_errors={}, sent=None, chosen=[], matches=[], find="",
                           active_values=[v for v in every_value if v["retired_at"] is None])
        return render(request, "recognition/feed.html", context, fragment=fragment if htmx else None)

    @get("/", name="recognition:feed", opt={"policy": "recognition.view"})
    async def company(self, request: Request, value: FromQuery[str] = "", days: FromQuery[int | None] = None,
                      before: FromQuery[int | None] = None) -> Template:
        return await self._feed(request, {"scope": "company", "title": None}, value=value, days=days, before=before)

    @get("/departments/{department_id:int}", name="recognition:department", opt={"policy": "recognition.view"})
    async def department(self, request: Request, department_id: FromPath[int], value: FromQuery[str] = "",
                         days: FromQuery[int | None] = None, before: FromQuery[int | None] = None) -> Template:
        dept = await department_for(actor_of(request), department_id)
        return await self._feed(request, {"scope": "department", "title": department_name(dept)}, value=value, days=days,
                                before=before, department_id=department_id)

    @get("/people/{person_id:int}", name="recognition:person", opt={"policy": "recognition.view"})
    async def person(self, request: Request, person_id: FromPath[int], value: FromQuery[str] = "",
                     days: FromQuery[int | None] = None, before: FromQuery[int | None] = None) -> Template:
        person = await person_for(actor_of(request), person_id)
        scope = "mine" if person_id == actor_of(request).person_id else "person"
        return await self._feed(request, {"scope": scope, "title": person["full_name"]}, value=value, days=days,
                                before=before, person_id=person_id)

    @get("/new", name="recognition:new", opt={"policy": "recognition.give"})
    async def new(self, request: Request, to: FromQuery[str] = "") -> Template:
        return await self._give_form(request, {"to": [to.strip()] if to.strip() else []}, {}, None)

    @post("/new", name="recognition:give", opt={"policy": "recognition.give"})
    async def give(self, request: Request) -> Any:
        actor = actor_of(request)
        data = await form_data(request)
        if data.get("action") == "find":  # "Find" without JavaScript: the same form, with the matches
            return await self._give_form(request, data, {}, None)
        every_value = await service.list_values(include_retired=True)  # checked, then shown again: read once
        try:
            card = await service.give_recognition_card(actor, data, every_value=every_value)
        except FormInvalid as exc:
            return await self._give_form(request, data, exc.errors, None, every_value)
        if getattr(request, "htmx", False):
            return await self._give_form(request, {}, {}, card, every_value)
        return redirect(request, f"/recognition/{card['id']}")

    async def _picker(self, request: Request, to: list[str], find: str) -> dict[str, Any]:
        actor = actor_of(request)
        chosen = await service.chosen_people(actor, [t.strip() for t in to if t and t.strip()])
        matches = await service.pick_people(actor, find, exclude=tuple(p["id"] for p in chosen)) if find.strip() else []
        return {"chosen": chosen, "matches": matches, "find": find}

    async def _give_form(self, request: Request, values: dict[str, Any], errors: dict[str, list[str]],
                         sent: dict[str, Any] | None, every_value: list[dict[str, Any]] | None = None) -> Template:
        active = ([v for v in every_value if v["retired_at"] is None] if every_value is not None
                  else await service.list_values())
        context = {"give_values": values, "give_errors": errors, "sent": sent, "reactions": service.reaction_choices(),
                   "active_values": active,
                   **await self._picker(request, list(values.get("to") or []), str(values.get("find") or ""))}
        return render(request, "recognition/new.html", context, status_code=422 if errors else 200,
                      fragment="recognition/_give.html", trigger_event="recognitionGiven" if sent else None)

    @get("/picker", name="recognition:picker", opt={"policy": "recognition.give"})
    async def picker(self, request: Request, find: FromQuery[str] = "", to: FromQuery[list[str] | None] = None) -> Template:
        """Search as you type: the matches, and the chosen colleagues swapped in out of band."""
        context = {**await self._picker(request, to or [], find[:200]), "oob": True}
        return render(request, "recognition/_matches.html", context,
                      fragment="recognition/_matches.html")

    @get("/people/{person_id:int}/recent", name="recognition:recent", opt={"policy": "recognition.view"})
    async def recent(self, request: Request, person_id: FromPath[int]) -> Template:
        """The profile's latest public thanks (the profile loads it with htmx)."""
        items = await service.recent_public(actor_of(request), person_id)
        return render(request, "recognition/_recent.html", {"items": items, "person_id": person_id,
                                                            "reactions": service.reaction_choices()},
                      fragment="recognition/_recent.html")

    @get("/{recognition_id:int}", name="recognition:detail", opt={"policy": "recognition.view"})
    async def detail(self, request: Request, recognition_id: FromPath[int]) -> Template:
        card = await service.recognition_card(actor_of(request), recognition_id)
        return render(request, "recognition/detail.html", {"r": card, "reactions": service.reaction_choices()})

    @post("/{recognition_id:int}/reactions", name="recognition:react", opt={"policy": "recognition.view"})
    async def react(self, request: Request, recognition_id: FromPath[int]) -> Any:
        actor = actor_of(request)
        data = await form_data(request)
        await service.toggle_reaction(actor, recognition_id, str(data.get("kind") or ""))
        if getattr(request, "htmx", False):
            card = await service.recognition_card(actor, recognition_id)
            return render(request, "recognition/_reactions.html", {"r": card, "reactions": service.reaction_choices()},
                          fragment="recognition/_reactions.html")
        return redirect(request, f"/recognition/{recognition_id}")

    # --- company values (admins) ---

    @get("/values", name="recognition:values", opt={"policy": "recognition.values_manage"})
    async def values(self, request: Request) -> Template:
        return render(request, "recognition/values.html", {"values": await service.list_values(include_retired=True)})

    @get("/values/new", name="recognition:value_new", opt={"policy": "recognition.values_manage"})
    async def value_new(self, request: Request) -> Template:
        return self._value_form(request, None, {"position": "0"}, {})

    @post("/values/new", name="recognition:value_create", opt={"policy": "recognition.values_manage"})
    async def value_create(self, request: Request) -> Any:
        data = await form_data(request)
        try:
            await service.save_value(actor_of(request), data)
        except FormInvalid as exc:
            return self._value_form(request, None, data, exc.errors)
        return redirect(request, "/recognition/values")

    @get("/values/{value_id:int}/edit", name="recognition:value_edit", opt={"policy": "recognition.values_manage"})
    async def value_edit(self, request: Request, value_id: FromPath[int]) -> Template:
        row = await service.value_for_edit(actor_of(request), value_id)
        return self._value_form(request, row, {k: row[k] for k in ("code", "name_en", "name_ru", "description_en",
                                                                   "description_ru", "position")}, {})

    @post("/values/{value_id:int}/edit", name="recognition:value_update", opt={"policy": "recognition.values_manage"})
    async def value_update(self, request: Request, value_id: FromPath[int]) -> Any:
        actor = actor_of(request)
        row = await service.value_for_edit(actor, value_id)
        data = await form_data(request)
        try:
            await service.save_value(actor, data, value_id)
        except FormInvalid as exc:
            return self._value_form(request, row, data, exc.errors)
        return redirect(request, "/recognition/values")

    @post("/values/{value_id:int}/retire", name="recognition:value_retire", opt={"policy": "recognition.values_manage"})
    async def value_retire(self, request: Request, value_id: FromPath[int]) -> Any:
        await service.set_value_retired(actor_of(request), value_id, True)
        return redirect(request, "/recognition/values")

    @post("/values/{value_id:int}/restore", name="recognition:value_restore", opt={"policy": "recognition.values_manage"})
    async def value_restore(self, request: Request, value_id: FromPath[int]) -> Any:
        await service.set_value_retired(actor_of(request), value_id, False)
        return redirect(request, "/recognition/values")

    def _value_form(self, request: Request, row: dict | None, values: dict, errors: dict) -> Template:
        return render(request, "recognition/value_form.html", {"row": row, "values": values, "errors": errors},
                      status_code=422 if errors else 200, fragment="recognition/_value_form.html")


class RewardController(Controller):
    path = "/rewards"

    @get("/", name="rewards:list", opt={"policy": "recognition.view"})
    async def rewards(self, request: Request) -> Template:
        return render(request, "recognition/rewards.html", await service.rewards_page(actor_of(request)))

    @get("/new", name="rewards:new", opt={"policy": "rewards.give"})
    async def new(self, request: Request, to: FromQuery[str] = "", recognition: FromQuery[str] = "",
                  find: FromQuery[str] = "") -> Template:
        return await self._form(request, {"to": to.strip(), "recognition_id": recognition, "find": find[:200]}, {})

    @get("/picker", name="rewards:picker", opt={"policy": "rewards.give"})
    async def picker(self, request: Request, find: FromQuery[str] = "", recognition: FromQuery[str] = "") -> Template:
        """Search as you type for someone in the manager's reach."""
        matches = await service.pick_people(actor_of(request), find[:200], purpose="reward")
        return render(request, "recognition/_reward_matches.html",
                      {"matches": matches, "find": find, "recognition": recognition},
                      fragment="recognition/_reward_matches.html")

    @get("/top-three", name="rewards:top_three", opt={"policy": "rewards.report"})
    async def top_three(self, request: Request, since: FromQuery[str] = "", until: FromQuery[str] = "") -> Template:
        form = PeriodForm(since=since.strip(), until=until.strip())
        errors = form.validate(today())
        report = None if errors else await service.top_three_report(actor_of(request), **form.parsed)
        context = {"values": {"since": since, "until": until}, "errors": errors, "report": report, "period": form.parsed}
        return render(request, "recognition/top_three.html", context, status_code=422 if errors else 200,
                      fragment="recognition/_top_three.html")

    @post("/new", name="rewards:give", opt={"policy": "rewards.give"})
    async def give(self, request: Request) -> Any:
        data = await form_data(request)
        data["to"] = next(iter(data.get("to") or []), "")  # one recipient, not the thanks form's list
        try:
            await service.give_reward(actor_of(request), data)
        except FormInvalid as exc:
            return await self._form(request, data, exc.errors)
        return redirect(request, "/rewards/")

    async def _form(self, request: Request, values: dict[str, Any], errors: dict) -> Template:
        actor = actor_of(request)
        context = await service.reward_form(actor, str(values.get("to") or "").strip())
        find = str(values.get("find") or "")
        matches = await service.pick_people(actor, find, purpose="reward") if find.strip() else []
        context.update(values=values, errors=errors, matches=matches, find=find, recognition=values.get("recognition_id") or "")
        if errors.get("to") and not context["recipient"]:  # say why this person cannot be rewarded
            context["lookup_error"] = " ".join(errors["to"])
        return render(request, "recognition/reward_form.html", context, status_code=422 if errors else 200,
                      fragment="recognition/_reward_form.html")

    @get("/budgets", name="rewards:budgets", opt={"policy": "rewards.budgets"})
    async def budgets(self, request: Request) -> Template:
        return await self._budgets(request, {}, {})

    @post("/budgets", name="rewards:set_budget", opt={"policy": "rewards.budgets"})
    async def set_budget(self, request: Request) -> Any:
        data = await form_data(request)
        try:
            await service.set_budget(actor_of(request), data)
        except FormInvalid as exc:
            return await self._budgets(request, data, exc.errors)
        return redirect(request, "/rewards/budgets")

    async def _budgets(self, request: Request, values: dict, errors: dict) -> Template:
        context = {"budgets": await service.list_budgets(actor_of(request)), "values": values, "errors": errors}
        return render(request, "recognition/budgets.html", context, status_code=422 if errors else 200)

    @get("/budgets/{budget_id:int}/edit", name="rewards:budget_edit", opt={"policy": "rewards.budgets"})
    async def budget_edit(self, request: Request, budget_id: FromPath[int]) -> Template:
        budget = await service.budget_for_edit(actor_of(request), budget_id)
        return self._budget_form(request, budget, _budget_values(budget), {})

    @post("/budgets/{budget_id:int}/edit", name="rewards:budget_update", opt={"policy": "rewards.budgets"})
    async def budget_update(self, request: Request, budget_id: FromPath[int]) -> Any:
        actor = actor_of(request)
        budget = await service.budget_for_edit(actor, budget_id)
        data = await form_data(request)
        try:
            await service.update_budget(actor, budget_id, data)
        except FormInvalid as exc:
            return self._budget_form(request, budget, data, exc.errors)
        return redirect(request, "/rewards/budgets")

    @post("/budgets/{budget_id:int}/remove", name="rewards:budget_remove", opt={"policy": "rewards.budgets"})
    async def budget_remove(self, request: Request, budget_id: FromPath[int]) -> Any:
        actor = actor_of(request)
        budget = await service.budget_for_edit(actor, budget_id)
        try:
            await service.remove_budget(actor, budget_id)
        except DomainError as exc:  # rewards were given from it: the form says why, nothing changes
            return self._budget_form(request, budget, _budget_values(budget), {"__all__": [exc.message]})
        return redirect(request, "/rewards/budgets")

    def _budget_form(self, request: Request, budget: dict, values: dict, errors: dict) -> Template:
        return render(request, "recognition/budget_form.html", {"budget": budget, "values": values, "errors": errors},
                      status_code=422 if errors else 200)

    @get("/preferences", name="rewards:preferences", opt={"policy": "rewards.preferences_own"})
    async def preferences(self, request: Request) -> Template:
        actor = actor_of(request)
        current = await service.preference_ranking(actor.person_id)  # type: ignore[arg-type]
        values = {f"rank_{k}": str(i + 1) for i, k in enumerate(current["ranking"])}
        values["note"] = current["note"]
        return self._preferences(request, values, {}, saved=False)

    @post("/preferences", name="rewards:save_preferences", opt={"policy": "rewards.preferences_own"})
    async def save_preferences(self, request: Request) -> Any:
        data = await form_data(request)
        try:
            await service.save_preferences(actor_of(request), data)
        except FormInvalid as exc:
            return self._preferences(request, data, exc.errors, saved=False)
        if getattr(request, "htmx", False):
            return self._preferences(request, data, {}, saved=True)
        return redirect(request, "/rewards/preferences")

    def _preferences(self, request: Request, values: dict, errors: dict, *, saved: bool) -> Template:
        context = {"values": values, "errors": errors, "saved": saved,
                   "kinds": [(k, service.kind_label(k)) for k in REWARD_KINDS]}
        return render(request, "recognition/preferences.html", context, status_code=422 if errors else 200,
                      fragment="recognition/_preferences_form.html")

    @get("/preferences/{person_id:int}", name="rewards:person_preferences", opt={"policy": "recognition.view"})
    async def person_preferences(self, request: Request, person_id: FromPath[int]) -> Template:
        return render(request, "recognition/preferences_view.html", await service.preferences_card(actor_of(request), person_id))

