"""Analytics pages: the company (or a manager's subtree) and one department. Handlers read the
query, call ``dashboards`` and choose a template; whose figures show is decided in
``security.analytics_scope``."""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.params import FromPath
from litestar.response import Template

from servicechain.platform.analytics import dashboards
from servicechain.platform.security import actor_of
from servicechain.platform.web import render


def _query(request: Request) -> dict[str, str]:
    return {key: request.query_params.get(key, "") for key in
            ("sort", "order", "all", "people", "customer", "lag", "view", "movers", "month")}


def _fragment(request: Request) -> str | None:
    """htmx swaps one section when a form's choice changes; without JavaScript the same form
    reloads the whole page."""
    target = request.headers.get("hx-target", "")
    return {"pair-explorer": "analytics/_explorer.html", "movers": "analytics/_movers.html"}.get(target)


def _month_query(query: dict[str, str]) -> str:
    return dashboards.month_query(dashboards.parse_params(query))


class AnalyticsController(Controller):
    path = "/analytics"

    @get("/", name="analytics:home", opt={"policy": "analytics.view"})
    async def home(self, request: Request) -> Template:
        query = _query(request)
        page = await dashboards.company_page(actor_of(request), query)
        return render(request, "analytics/home.html", {"p": page, "mq": _month_query(query)},
                      fragment=_fragment(request))

    @get("/departments/{department_id:int}", name="analytics:department", opt={"policy": "analytics.view"})
    async def department(self, request: Request, department_id: FromPath[int]) -> Template:
        query = _query(request)
        page = await dashboards.department_page(actor_of(request), department_id, query)
        return render(request, "analytics/department.html", {"p": page, "mq": _month_query(query)},
                      fragment=_fragment(request))
