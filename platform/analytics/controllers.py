"""Analytics pages: the company (or a manager's subtree) and one department. Handlers read the
query, call ``dashboards`` and choose a template; whose figures show is decided in
``security.analytics_scope``."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.params import FromPath
from litestar.response import Template
from markupsafe import Markup

from servicechain.platform.analytics import dashboards
from servicechain.platform.security import actor_of
from servicechain.platform.web import ENVIRONMENT, render


def _query(request: Request) -> dict[str, str]:
    """The choices in the query, only those present: ``?month=`` asks for a month (and is told
    it named none), no ``month`` at all asks for the default one."""
    return {key: request.query_params[key] for key in
            ("sort", "order", "all", "people", "customer", "lag", "view", "movers", "month")
            if key in request.query_params}


def _fragment(request: Request) -> str | None:
    """htmx swaps one section when a form's choice changes; without JavaScript the same form
    reloads the whole page."""
    target = request.headers.get("hx-target", "")
    return {"pair-explorer": "analytics/_explorer.html", "movers": "analytics/_movers.html"}.get(target)


def _month_query(query: dict[str, str]) -> str:
    return dashboards.month_query(dashboards.parse_params(query))


def _with_sections(request: Request, page: dict[str, Any], template: str, mq: str) -> dict[str, Any]:
    """The page with its sections' HTML (charts, tables): the same for every viewer of this page,
    so rendered once and kept with the page's body (``dashboards._kept_page``); a warm view
    renders only the frame around it. Pages without figures have no sections."""
    kept = page.get("kept")
    if kept is None or page.get("missing"):
        return page
    html = kept.get("sections")
    if html is None:
        html = Markup(ENVIRONMENT.get_template(template).render(p=page, mq=mq, request=request))
        kept["sections"] = html
    return {**page, "sections": html}


class AnalyticsController(Controller):
    path = "/analytics"

    @get("/", name="analytics:home", opt={"policy": "analytics.view"})
    async def home(self, request: Request) -> Template:
        query = _query(request)
        page = await dashboards.company_page(actor_of(request), query)
        mq = _month_query(query)
        if not page.get("nothing_headed") and not _fragment(request):
            page = _with_sections(request, page, "analytics/_home_sections.html", mq)
        return render(request, "analytics/home.html", {"p": page, "mq": mq}, fragment=_fragment(request))

    @get("/departments/{department_id:int}", name="analytics:department", opt={"policy": "analytics.view"})
    async def department(self, request: Request, department_id: FromPath[int]) -> Template:
        query = _query(request)
        page = await dashboards.department_page(actor_of(request), department_id, query)
        mq = _month_query(query)
        if not _fragment(request):
            page = _with_sections(request, page, "analytics/_department_sections.html", mq)
        return render(request, "analytics/department.html", {"p": page, "mq": mq}, fragment=_fragment(request))
