"""Authority pages: my authority and recording a use, the team's grants, granting and revoking,
the ledger (with CSV), escalations, and the admin's scopes and root grants."""

from __future__ import annotations

import csv
import io
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from servicechain.goals.authority import forms, service
from servicechain.goals.authority.tables import AuthorityGrant
from servicechain.platform.i18n import gettext as _
from servicechain.platform.lib.dates import BadDate, parse_date
from servicechain.platform.lib.ids import parse_id
from servicechain.platform.lib.money import to_roubles
from servicechain.platform.lib.tabular import spreadsheet_safe
from servicechain.platform.people.tables import Person
from servicechain.platform.security import actor_of, can, people_in_reach
from servicechain.platform.web import DomainError, FormInvalid, redirect, render


async def _people_choices(actor, *, executives: bool = False) -> list[dict[str, Any]]:
    query = Person.select(Person.id, Person.full_name, Person.employee_number).where(Person.active == True)  # noqa: E712
    if executives:
        query = query.where(Person.role == "executive")
    else:
        reach = await people_in_reach(actor)
        if reach is not None:
            if not reach:
                return []
            query = query.where(Person.id.is_in(sorted(reach)))
    return await query.order_by(Person.full_name).limit(1000).run()


def _scope_options(items: list[dict[str, Any]]) -> list[tuple[int, str]]:
    seen: dict[int, str] = {}
    for item in items:
        seen.setdefault(item["scope"]["id"], service.scope_name(item["scope"]))
    return list(seen.items())


class AuthorityController(Controller):
    path = "/authority"

    # --- mine ------------------------------------------------------------------------------------

    @get("/", name="authority:mine", opt={"policy": "authority.view_own"})
    async def mine(self, request: Request) -> Template:
        return await self._mine(request, {}, {}, None)

    async def _mine(self, request: Request, values: dict, errors: dict, refusal: str | None, status: int = 200) -> Template:
        actor = actor_of(request)
        items = await service.authority_of(actor.person_id)  # type: ignore[arg-type]
        uses = await service.ledger(actor, person_id=actor.person_id, limit=10)
        context = {"items": items, "uses": uses, "values": values, "errors": errors, "refusal": refusal,
                   "scope_options": _scope_options(items), "today": service.today(),
                   "scope_name": service.scope_name, "format_amount": service.format_amount}
        return render(request, "authority/mine.html", context, status_code=status, fragment="authority/_use_form.html")

    @post("/uses", name="authority:use", opt={"policy": "authority.use"})
    async def record_use(self, request: Request) -> Any:
        actor = actor_of(request)
        data = dict(await request.form())
        scope_id = parse_id(str(data.get("scope_id", "")))
        scope = await service.usable_scope(actor.person_id, scope_id)  # type: ignore[arg-type]
        if scope is None:
            return await self._mine(request, data, {"scope_id": [_("Choose from the list.")]}, None, 422)
        values, errors = forms.parse_use(data, scope["kind"], service.today())
        if errors:
            return await self._mine(request, data, errors, None, 422)
        try:
            await service.record_use(actor, grantee_id=actor.person_id, scope_id=scope["id"], **values)  # type: ignore[arg-type]
        except FormInvalid as exc:
            return await self._mine(request, data, exc.errors, None, 422)
        except service.UseRefused as exc:
            return await self._mine(request, data, {}, exc.message, 422)
        return redirect(request, "/authority/")

    # --- team and grants -------------------------------------------------------------------------

    @get("/team", name="authority:team", opt={"policy": "authority.team"})
    async def team(self, request: Request) -> Template:
        actor = actor_of(request)
        return render(request, "authority/team.html", {"items": await service.team_grants(actor),
                                                       "format_amount": service.format_amount,
                                                       "scope_name": service.scope_name})

    @get("/grants/new", name="authority:grant_form", opt={"policy": "authority.grant"})
    async def grant_form(self, request: Request, parent: FromQuery[str] = "") -> Template:
        return await self._grant_page(request, {"parent_id": parent, "period": "month"}, {})

    async def _grant_page(self, request: Request, values: dict, errors: dict, status: int = 200) -> Template:
        actor = actor_of(request)
        parents = await service.grantable(actor)
        context = {"parents": parents, "people": await _people_choices(actor), "values": values, "errors": errors,
                   "purposes": [(g["id"], g["label"]) for g in await service.purpose_choices(
                       actor, parse_id(str(values.get("goal_id", "") or "")))],
                   "format_amount": service.format_amount, "scope_name": service.scope_name}
        return render(request, "authority/grant_form.html", context, status_code=status)

    @get("/grants/{grant_id:int}/edit", name="authority:grant_edit_form", opt={"policy": "authority.grant"})
    async def grant_edit_form(self, request: Request, grant_id: FromPath[int]) -> Template:
        grant = await service.grant_for(actor_of(request), grant_id, write=True)
        kind = (await service.scope_of_grant(grant))["kind"]
        values = {"per_case_limit": forms.amount_for_input(kind, grant["per_case_limit"]),
                  "budget": forms.amount_for_input(kind, grant["budget"]),
                  "valid_from": grant["valid_from"].isoformat(),
                  "valid_until": grant["valid_until"].isoformat() if grant["valid_until"] else "",
                  "goal_id": str(grant["goal_id"] or ""), "note": grant["note"]}
        return await self._grant_edit_page(request, grant, values, {})

    async def _grant_edit_page(self, request: Request, grant: dict, values: dict, errors: dict, status: int = 200) -> Template:
        actor = actor_of(request)
        scope = await service.scope_of_grant(grant)
        parent = None
        if grant["parent"]:
            parent = (await service.grant_for(actor, grant["parent"])) if grant["parent"] else None
        below = await service.grants_below(grant)
        context = {"grant": grant, "scope": scope, "parent": parent, "below": below, "values": values, "errors": errors,
                   "purposes": [(g["id"], g["label"]) for g in await service.purpose_choices(actor, grant["goal_id"])],
                   "format_amount": service.format_amount, "scope_name": service.scope_name}
        return render(request, "authority/grant_edit.html", context, status_code=status)

    @post("/grants/{grant_id:int}/edit", name="authority:grant_edit", opt={"policy": "authority.grant"})
    async def grant_edit(self, request: Request, grant_id: FromPath[int]) -> Any:
        actor = actor_of(request)
        grant = await service.grant_for(actor, grant_id, write=True)
        data = dict(await request.form())
        kind = (await service.scope_of_grant(grant))["kind"]
        values, errors = forms.parse_grant_change(data, kind, root=grant["parent"] is None)
        if not errors:
            try:
                await service.update_grant(actor, grant_id, values)
            except FormInvalid as exc:
                errors = exc.errors
        if errors:
            return await self._grant_edit_page(request, grant, data, errors, 422)
        return redirect(request, "/authority/admin" if grant["parent"] is None else "/authority/team")

    @post("/grants", name="authority:grant", opt={"policy": "authority.grant"})
    async def grant(self, request: Request) -> Any:
        actor = actor_of(request)
        data = dict(await request.form())
        parent_id = parse_id(str(data.get("parent_id", "")))
        parent = next((i for i in await service.grantable(actor) if i["grant"]["id"] == parent_id), None)
        if parent is None:
            return await self._grant_page(request, data, {"parent_id": [_("Choose from the list.")]}, 422)
        values, errors = forms.parse_grant(data, parent["scope"]["kind"], root=False)
        if errors:
            return await self._grant_page(request, data, errors, 422)
        try:
            await service.create_grant(actor, values)
        except FormInvalid as exc:
            return await self._grant_page(request, data, exc.errors, 422)
        return redirect(request, "/authority/team")

    @post("/grants/{grant_id:int}/revoke", name="authority:revoke", opt={"policy": "authority.grant"})
    async def revoke(self, request: Request, grant_id: FromPath[int]) -> Any:
        await service.revoke_grant(actor_of(request), grant_id)
        return redirect(request, "/authority/admin" if can(actor_of(request), "authority.admin") and
                        request.query_params.get("back") == "admin" else "/authority/team")

    # --- ledger ----------------------------------------------------------------------------------

    async def _ledger_rows(self, request: Request, person: str, what: str, case_ref: str, since: str, until: str,
                           limit: int | None) -> tuple[list[dict], dict, dict]:
        errors: dict[str, list[str]] = {}
        dates = {}
        for name, raw in (("since", since), ("until", until)):
            try:
                dates[name] = parse_date(raw)
            except BadDate:
                errors[name] = [_("Write the date as 31.12.2025 or 2025-12-31.")]
        filters = {"person": person, "what": what, "case_ref": case_ref, "since": since, "until": until}
        if errors:
            return [], filters, errors
        rows = await service.ledger(actor_of(request), person_id=parse_id(person), scope_id=parse_id(what),
                                    case_ref=case_ref.strip(), since=dates.get("since"), until=dates.get("until"), limit=limit)
        return rows, filters, errors

    @get("/ledger", name="authority:ledger", opt={"policy": "authority.view_own"})
    async def ledger(self, request: Request, person: FromQuery[str] = "", what: FromQuery[str] = "", case_ref: FromQuery[str] = "",
                     since: FromQuery[str] = "", until: FromQuery[str] = "") -> Template:
        rows, filters, errors = await self._ledger_rows(request, person, what, case_ref, since, until, 200)
        actor = actor_of(request)
        team = can(actor, "authority.team")
        context = {"rows": rows, "filters": filters, "errors": errors, "scopes": await service.scopes(active_only=False),
                   "people": await _people_choices(actor) if team else [], "format_amount": service.format_amount,
                   "scope_name": service.scope_name, "query": request.url.query or ""}
        return render(request, "authority/ledger.html", context, status_code=422 if errors else 200,
                      fragment="authority/_ledger_rows.html")

    @get("/ledger.csv", name="authority:ledger_csv", opt={"policy": "authority.view_own"})
    async def ledger_csv(self, request: Request, person: FromQuery[str] = "", what: FromQuery[str] = "", case_ref: FromQuery[str] = "",
                         since: FromQuery[str] = "", until: FromQuery[str] = "") -> Response:
        rows, _filters, errors = await self._ledger_rows(request, person, what, case_ref, since, until, None)
        if errors:
            raise DomainError(next(iter(errors.values()))[0])
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["date", "employee", "email", "scope", "case_ref", "customer", "amount", "unit", "what_was_done", "escalation"])
        for r in rows:
            amount = f"{to_roubles(r['amount']):.2f}" if r["kind"] == "money" else r["amount"]
            text = [spreadsheet_safe(v) for v in (r["grantee_name"], r["grantee_email"] or "", r["scope_code"], r["case_ref"],
                                                  r["customer"])]
            writer.writerow([r["used_on"].isoformat(), *text, amount, "RUB" if r["kind"] == "money" else service.unit_plural(r),
                             spreadsheet_safe(r["action"]), r["escalation_id"] or ""])
        return Response(content=out.getvalue().encode("utf-8-sig"), media_type="text/csv; charset=utf-8",
                        headers={"content-disposition": 'attachment; filename="authority-ledger.csv"'})

    # --- escalations -----------------------------------------------------------------------------

    @get("/escalations", name="authority:escalations", opt={"policy": "authority.view_own"})
    async def escalations(self, request: Request) -> Template:
        return await self._escalations(request, {}, {})

    async def _escalations(self, request: Request, values: dict, errors: dict, status: int = 200) -> Template:
        actor = actor_of(request)
        context = {**await service.escalations_for(actor), "values": values, "errors": errors,
                   "scope_options": _scope_options(await service.authority_of(actor.person_id)),  # type: ignore[arg-type]
                   "format_amount": service.format_amount, "scope_name": service.scope_name}
        return render(request, "authority/escalations.html", context, status_code=status)

    @post("/escalations", name="authority:escalate", opt={"policy": "authority.use"})
    async def escalate(self, request: Request) -> Any:
        actor = actor_of(request)
        data = dict(await request.form())
        scope_id = parse_id(str(data.get("scope_id", "")))
        scope = await service.usable_scope(actor.person_id, scope_id)  # type: ignore[arg-type]
        if scope is None:
            return await self._escalations(request, data, {"scope_id": [_("Choose from the list.")]}, 422)
        values, errors = forms.parse_use(data, scope["kind"], service.today())
        if errors:
            return await self._escalations(request, data, errors, 422)
        try:
            await service.escalate(actor, scope_id=scope["id"], amount=values["amount"], case_ref=values["case_ref"],
                                   customer=values["customer"], action=values["action"],
                                   reason=str(data.get("reason", ""))[:2000])
        except DomainError as exc:
            return await self._escalations(request, data, {"__all__": [exc.message]}, 422)
        return redirect(request, "/authority/escalations")

    @post("/escalations/{request_id:int}/decide", name="authority:decide", opt={"policy": "authority.view_own"})
    async def decide(self, request: Request, request_id: FromPath[int]) -> Any:
        data = await request.form()
        decision = str(data.get("decision", ""))
        if decision not in ("approve", "decline"):
            raise DomainError(_("Approve or decline."))
        await service.decide_escalation(actor_of(request), request_id, decision == "approve")
        return redirect(request, "/authority/escalations")

    # --- admin -----------------------------------------------------------------------------------

    @get("/admin", name="authority:admin", opt={"policy": "authority.admin"})
    async def admin(self, request: Request) -> Template:
        return await self._admin(request, {}, {}, {}, {})

    async def _admin(self, request: Request, scope_values: dict, scope_errors: dict, root_values: dict, root_errors: dict,
                     status: int = 200) -> Template:
        scopes = await service.scopes(active_only=False)
        roots = await AuthorityGrant.select(
            AuthorityGrant.all_columns(), AuthorityGrant.grantee.full_name.as_alias("grantee_name"),
        ).where(AuthorityGrant.parent.is_null() & AuthorityGrant.revoked_at.is_null()).order_by(AuthorityGrant.id).run()
        by_id = {s["id"]: s for s in scopes}
        context = {"scopes": scopes, "roots": [{**r, "scope_row": by_id[r["scope"]]} for r in roots],
                   "executives": await _people_choices(actor_of(request), executives=True),
                   "scope_values": scope_values, "scope_errors": scope_errors, "root_values": root_values,
                   "root_errors": root_errors, "format_amount": service.format_amount, "scope_name": service.scope_name}
        return render(request, "authority/admin.html", context, status_code=status)

    @post("/admin/scopes", name="authority:create_scope", opt={"policy": "authority.admin"})
    async def create_scope(self, request: Request) -> Any:
        data = dict(await request.form())
        values, errors = forms.parse_scope(data)
        if not errors:
            try:
                await service.create_scope(actor_of(request), values)
            except FormInvalid as exc:
                errors = exc.errors
        if errors:
            return await self._admin(request, data, errors, {}, {}, 422)
        return redirect(request, "/authority/admin")

    @post("/admin/roots", name="authority:create_root", opt={"policy": "authority.admin"})
    async def create_root(self, request: Request) -> Any:
        data = dict(await request.form())
        scope_id = parse_id(str(data.get("scope_id", "")))
        scope = next((s for s in await service.scopes() if s["id"] == scope_id), None)
        values, errors = forms.parse_grant(data, scope["kind"] if scope else "money", root=True)
        if scope is None:
            errors["scope_id"] = [_("Choose from the list.")]
        if not errors:
            try:
                await service.create_grant(actor_of(request), values)
            except FormInvalid as exc:
                errors = exc.errors
        if errors:
            return await self._admin(request, {}, {}, data, errors, 422)
        return redirect(request, "/authority/admin")
