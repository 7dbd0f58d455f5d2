"""The security headers are on every kind of answer: each page the app has without path
parameters (read from the app at test time), htmx fragments, redirects, error pages (403, 404,
405, 413, 422, a refused CSRF token), static files, the API (200, 401, 422) and its document."""

from __future__ import annotations

import uuid
from dataclasses import replace

from servicechain.platform import web
from servicechain.platform.config import get_settings
from tests.api.helpers import on_app_loop
from tests.conftest import ensure_csrf, sign_in

EXPECTED = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}


def problems_with(response) -> list[str]:
    found = []
    for name, value in EXPECTED.items():
        if response.headers.get_list(name) != [value]:
            found.append(f"{name}={response.headers.get_list(name)}")
    csp = response.headers.get_list("content-security-policy")
    if len(csp) != 1:
        return [*found, f"csp={csp}"]
    directives = {d.split()[0]: d.split()[1:] for d in csp[0].split(";") if d.strip()}
    for name, value in (("default-src", ["'self'"]), ("script-src", ["'self'"]), ("object-src", ["'none'"]),
                        ("frame-ancestors", ["'none'"]), ("base-uri", ["'none'"]), ("form-action", ["'self'"])):
        if directives.get(name) != value:
            found.append(f"csp {name}={directives.get(name)}")
    if "unsafe-inline" in csp[0] or "unsafe-eval" in csp[0]:
        found.append("csp allows inline code")
    return found


async def test_every_page_without_parameters_carries_the_headers(client, cast, app):
    await sign_in(client, "admin@test.local")
    checked, failures = 0, []
    for path, handlers in app.route_handler_method_map.items():
        if "GET" not in handlers or "{" in path or path.startswith("/static"):
            continue
        for headers in ({}, {"HX-Request": "true"}):  # the page, and its htmx fragment
            response = await client.get(path, headers=headers, follow_redirects=False)
            checked += 1
            if problem := problems_with(response):
                failures.append(f"{path} {headers} {response.status_code}: {problem}")
            if not path.startswith("/static") and "no-store" not in response.headers.get("cache-control", ""):
                failures.append(f"{path}: cache-control {response.headers.get('cache-control')}")
    assert failures == []
    assert checked > 60


async def test_errors_redirects_and_static_files_carry_the_headers(client, cast):
    answers = {
        "redirect to sign in": await client.get("/people/", follow_redirects=False),
        "static": await client.get("/static/vendor/htmx.min.js"),
        "csrf refused": await client.post("/login", data={"identifier": "x", "password": "y"}),
    }
    await sign_in(client, "employee@test.local")
    token = {"x-csrftoken": await ensure_csrf(client)}
    answers.update({
        "403": await client.get("/audit/"),
        "404": await client.get("/no-such-page"),
        "404 object": await client.get("/people/999999"),
        "405": await client.delete("/people/"),
        "422": await client.post("/login", data={"identifier": "", "password": ""}, headers=token),
        "404 htmx": await client.get("/no-such-page", headers={"HX-Request": "true"}),
        "413": await client.post("/login", content=b"x" * (21 * 1024 * 1024), headers={**token,
                                 "content-type": "application/x-www-form-urlencoded"}),
    })
    assert answers["static"].status_code == 200 and answers["403"].status_code == 403
    assert answers["413"].status_code == 413 and answers["405"].status_code == 405
    failures = {name: problems_with(r) for name, r in answers.items() if problems_with(r)}
    assert failures == {}


async def test_the_api_and_its_document_carry_the_headers(client, cast):
    from servicechain.platform.accounts.service import create_token

    raw = await on_app_loop(client, create_token, cast.actor("admin"), "hdr-" + uuid.uuid4().hex[:8], ["people:read"])
    bearer = {"Authorization": f"Bearer {raw}"}
    answers = {
        "200": await client.get("/api/v1/people?limit=1", headers=bearer),
        "401": await client.get("/api/v1/people"),
        "422": await client.get("/api/v1/people?limit=0", headers=bearer),
        "404": await client.get("/api/v1/nothing", headers=bearer),
        "403": await client.get("/api/v1/authority?employee=x", headers=bearer),
        "document": await client.get("/schema/openapi.json"),
    }
    assert [r.status_code for r in answers.values()] == [200, 401, 422, 404, 403, 200]
    failures = {name: problems_with(r) for name, r in answers.items() if problems_with(r)}
    assert failures == {}


async def test_production_answers_insist_on_https(client, cast, monkeypatch):
    production = replace(get_settings(), env="production")
    monkeypatch.setattr(web, "get_settings", lambda: production)
    response = await client.get("/login")
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")
