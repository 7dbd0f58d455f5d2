"""Platform pages: home, health, the audit log and API tokens."""

from __future__ import annotations

import logging

from datetime import UTC, datetime, time, timedelta
from typing import Any

from litestar.params import FromPath, FromQuery
from litestar import Controller, Request, Response, get, post
from litestar.response import Template
from piccolo.columns.combination import WhereRaw

from servicechain.platform import db
from servicechain.platform.config import get_settings
from servicechain.platform.accounts import service as accounts
from servicechain.platform.lib.dates import BadDate, parse_date
from servicechain.platform.lib.ids import MAX_ID
from servicechain.platform.lib.text import escape_like
from servicechain.platform.people.service import managed_people_count
from servicechain.platform.security import PUBLIC, SCOPES, actor_of
from servicechain.platform.tables import AuditEntry, Notification
from servicechain.platform.web import DomainError, FormInvalid, redirect, render


@get("/healthz", name="healthz", opt={"policy": PUBLIC}, include_in_schema=False)
async def healthz() -> Response:
    """200 when the database answers, 503 when it does not (for load balancers). The route is
    public: the reason (which can name the database's host and user) goes to the log only."""
    try:
        await db.fetch("SELECT 1 AS ok")
    except Exception:  # any failure to reach the database counts
        logging.getLogger(__name__).warning("health check: the database does not answer", exc_info=True)
        return Response(content={"status": "unavailable"}, status_code=503)
    return Response(content={"status": "ok"}, status_code=200)


@get("/", name="home", opt={"policy": "home.view"})
async def home(request: Request) -> Template:
    actor = actor_of(request)
    notifications = await Notification.select().where(
        (Notification.person == actor.person_id) & Notification.read_at.is_null()
    ).order_by(Notification.created_at, ascending=False).limit(10).run()
    from servicechain.goals.service import home_reminders

    from servicechain.goals.authority.service import home_authority

    from servicechain.internal_service.service import reminder as internal_service_reminder
    from servicechain.platform.surveys.service import home_pulses
    from servicechain.platform.customers.service import home_follow_ups

    return render(request, "home.html", {"notifications": notifications, "team_size": await managed_people_count(actor),
                                         "internal_service_round": await internal_service_reminder(actor),
                                         "open_pulses": await home_pulses(actor),
                                         "score_follow_ups": await home_follow_ups(actor),
                                         **await home_authority(actor),
                                         **await home_reminders(actor)})


class AuditController(Controller):
    path = "/audit"

    @get("/", name="audit:list", opt={"policy": "audit.view"})
    async def log(self, request: Request, action: FromQuery[str] = "", object_type: FromQuery[str] = "", actor: FromQuery[str] = "",
                  since: FromQuery[str] = "", until: FromQuery[str] = "", before: FromQuery[int] = 0) -> Template:
        errors: dict[str, list[str]] = {}
        query = AuditEntry.select()
        conditions = []
        # What people type is matched literally: "%" or "_" in a filter is not a wildcard.
        like = "ILIKE" if db.engine().engine_type == "postgres" else "LIKE"
        if action:
            conditions.append(WhereRaw("action LIKE {} ESCAPE '\\'", escape_like(action.strip()) + "%"))
        if object_type:
            conditions.append(AuditEntry.object_type == object_type.strip())
        if actor:
            conditions.append(WhereRaw(f"actor_label {like} {{}} ESCAPE '\\'", "%" + escape_like(actor.strip()) + "%"))
        from servicechain.platform.i18n import gettext as _

        for name, raw in (("since", since), ("until", until)):
            try:
                value = parse_date(raw)
            except BadDate:
                errors[name] = [_("Write the date as 31.12.2025 or 2025-12-31.")]
                continue
            if value is not None:
                # Days begin at midnight in the company's time zone, not in UTC.
                day = value if name == "since" else value + timedelta(days=1)
                start = datetime.combine(day, time.min, tzinfo=get_settings().tz).astimezone(UTC)
                conditions.append(AuditEntry.at >= start if name == "since" else AuditEntry.at < start)
        if before > 0:
            conditions.append(AuditEntry.seq < min(before, MAX_ID))
        for condition in conditions if not errors else []:
            query = query.where(condition)
        entries = [] if errors else await query.order_by(AuditEntry.seq, ascending=False).limit(51).run()
        more = len(entries) > 50
        entries = entries[:50]
        context = {"entries": entries, "more": more, "errors": errors,
                   "filters": {"action": action, "object_type": object_type, "actor": actor, "since": since, "until": until}}
        return render(request, "audit/list.html", context, status_code=422 if errors else 200, fragment="audit/_entries.html")


class TokenController(Controller):
    path = "/admin/tokens"

    @get("/", name="tokens:list", opt={"policy": "tokens.manage"})
    async def list_tokens(self, request: Request) -> Template:
        return await self._page(request, {}, {}, None)

    @post("/", name="tokens:create", opt={"policy": "tokens.manage"})
    async def create(self, request: Request) -> Template:
        form = await request.form()
        values = {"name": str(form.get("name", "")), "scopes": [str(s) for s in form.getall("scopes", [])]}
        try:
            raw = await accounts.create_token(actor_of(request), values["name"], values["scopes"])
        except FormInvalid as exc:
            return await self._page(request, values, exc.errors, None)
        return await self._page(request, {}, {}, raw)

    @post("/{name:str}/revoke", name="tokens:revoke", opt={"policy": "tokens.manage"})
    async def revoke(self, request: Request, name: FromPath[str]) -> Any:
        try:
            await accounts.revoke_token(actor_of(request), name)
        except DomainError:
            pass  # already revoked: the list shows it
        return redirect(request, "/admin/tokens/")

    async def _page(self, request: Request, values: dict, errors: dict, new_token: str | None) -> Template:
        return render(request, "admin/tokens.html", {"tokens": await accounts.list_tokens(), "scopes": SCOPES,
                                                      "values": values, "errors": errors, "new_token": new_token},
                      status_code=422 if errors else 200)
