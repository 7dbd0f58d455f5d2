"""Report pages: the archive, asking for a report (made on the job queue), downloads. Rules live in
service.py."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from servicechain.platform.reports import monthly, service
from servicechain.platform.security import actor_of
from servicechain.platform.web import FormInvalid, redirect, render


class ReportController(Controller):
    path = "/reports"

    @get("/", name="reports:archive", opt={"policy": "reports.read"})
    async def archive(self, request: Request, asked: FromQuery[str] = "", kept: FromQuery[str] = "") -> Template:
        return await self._page(request, {}, {}, asked=asked, kept=kept)

    @post("/generate", name="reports:generate", opt={"policy": "reports.generate"})
    async def generate(self, request: Request) -> Any:
        form = await request.form()
        data = {key: str(form.get(key, "")) for key in form.keys()}
        try:
            row, outcome = await service.request_report(actor_of(request), data)
        except FormInvalid as exc:
            return await self._page(request, data, exc.errors, status_code=422)
        return redirect(request, f"/reports/?kept={row['id']}" if row else f"/reports/?asked={outcome}")

    @get("/{report_id:int}/download", name="reports:download", opt={"policy": "reports.read"})
    async def download(self, request: Request, report_id: FromPath[int]) -> Response:
        try:
            name, pdf, digest = await service.download(actor_of(request), report_id)
        except monthly.ChecksumMismatch as exc:
            return Response(content=str(exc), status_code=500, media_type="text/plain; charset=utf-8")
        return Response(content=pdf, media_type="application/pdf", headers={
            "Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}",
            "X-Content-SHA256": digest, "Cache-Control": "private, no-store"})

    async def _page(self, request: Request, values: dict, errors: dict, *, status_code: int = 200,
                    asked: str = "", kept: str = "") -> Template:
        context = await service.archive_page(actor_of(request))
        if values:
            context["values"] = {**context["values"], **values}
        context.update(errors=errors, asked=asked if asked in ("queued", "pending") else None,
                       kept=int(kept) if kept.isdigit() else None)
        return render(request, "reports/archive.html", context, status_code=status_code)
