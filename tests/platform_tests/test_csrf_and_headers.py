"""CSRF on every form, and the security headers on every kind of answer."""

from __future__ import annotations

import re
import uuid

import pytest

from servicechain.platform.people.tables import Department
from tests.api.helpers import on_app_loop
from tests.conftest import ensure_csrf, post_form, sign_in, text_of

EXPIRED = "Your form expired. Reload the page and try again."


def department_data(cast) -> dict:
    code = "csrf." + uuid.uuid4().hex[:8]
    return {"code": code, "name_en": "Night shift", "name_ru": "Ночная смена", "parent_id": str(cast.departments["company"])}


async def department_exists(client, code: str) -> bool:
    return await on_app_loop(client, Department.exists().where(Department.code == code).run)


@pytest.mark.parametrize("token", [None, "", "forged-token-value", "wrong"])
async def test_a_form_without_a_valid_csrf_token_is_refused_and_changes_nothing(client, cast, token):
    await sign_in(client, "hr@test.local")
    data = department_data(cast)
    headers = {} if token is None else {"x-csrftoken": token}
    response = await client.post("/departments/new", data=data, headers=headers, follow_redirects=False)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert EXPIRED in text_of(response.text)
    assert not await department_exists(client, data["code"])


async def test_a_token_in_the_form_body_must_match_the_cookie(client, cast):
    await sign_in(client, "hr@test.local")
    data = {**department_data(cast), "_csrf_token": "not-the-cookie's-token"}
    response = await client.post("/departments/new", data=data, follow_redirects=False)
    assert response.status_code == 403 and EXPIRED in text_of(response.text)
    assert not await department_exists(client, data["code"])


async def test_the_same_form_with_the_token_goes_through(client, cast):
    await sign_in(client, "hr@test.local")
    data = department_data(cast)
    response = await post_form(client, "/departments/new", data)
    assert response.status_code == 303
    assert await department_exists(client, data["code"])


async def test_the_token_in_the_form_body_works_without_javascript(client, cast):
    await sign_in(client, "hr@test.local")
    page = await client.get("/departments/new")
    hidden = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert hidden, "the form carries its CSRF token as a hidden field"
    data = {**department_data(cast), "_csrf_token": hidden.group(1)}
    response = await client.post("/departments/new", data=data, follow_redirects=False)
    assert response.status_code == 303
    assert await department_exists(client, data["code"])


async def test_an_htmx_post_without_the_token_gets_a_message_fragment(client, cast):
    await sign_in(client, "hr@test.local")
    data = department_data(cast)
    response = await client.post("/departments/new", data=data, headers={"HX-Request": "true"}, follow_redirects=False)
    assert response.status_code == 403
    assert EXPIRED in text_of(response.text) and "<html" not in response.text
    assert not await department_exists(client, data["code"])


async def test_sign_in_itself_needs_the_token(client, cast):
    """Login CSRF: a foreign site must not sign a visitor in to an account of its choosing."""
    response = await client.post("/login", data={"identifier": "employee@test.local", "password": "correct-horse-battery"},
                                 follow_redirects=False)
    assert response.status_code == 403
    assert "sc_session" not in response.headers.get("set-cookie", "")


async def test_the_api_needs_no_csrf_token(client, cast):
    from servicechain.platform.accounts.service import create_token

    raw = await on_app_loop(client, create_token, cast.actor("admin"), "csrf-" + uuid.uuid4().hex[:8], "people:read")
    response = await client.get("/api/v1/people?limit=1", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200
    assert "sc_csrf" not in response.headers.get("set-cookie", "")


# --- headers ----------------------------------------------------------------------------------------


def assert_secure_headers(response) -> None:
    csp = response.headers["content-security-policy"]
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"] and directives["style-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"


async def test_security_headers_on_every_kind_of_answer(client, cast):
    answers = [
        await client.get("/login"),  # a page
        await client.get("/", follow_redirects=False),  # a redirect
        await client.get("/no-such-page"),  # an HTML error
        await client.get("/api/v1/people"),  # an API error
        await client.get("/api/v1/nothing"),  # an API 404 from the router
        await client.get("/schema/openapi.json"),  # the OpenAPI document
        await client.get("/healthz"),
    ]
    await sign_in(client, "admin@test.local")
    answers += [await client.get("/people/"), await client.get("/admin/tokens/"), await client.get("/people/999999"),
                await client.get("/no-such-page"), await client.delete("/people/")]
    await sign_in(client, "employee@test.local")
    answers.append(await client.get("/audit/"))  # a 403 page
    assert [r.status_code for r in answers][-4:] == [404, 404, 405, 403]
    for response in answers:
        assert len(response.headers.get_list("content-security-policy")) == 1, response.url
        assert len(response.headers.get_list("x-frame-options")) == 1, response.url
        assert_secure_headers(response)


@pytest.mark.parametrize("path", ["/login", "/", "/people/", "/people/new", "/departments/", "/audit/", "/admin/tokens/",
                                  "/account"])
async def test_pages_have_no_inline_script_or_style_for_the_csp_to_block(client, cast, path):
    await sign_in(client, "admin@test.local")
    response = await client.get(path)
    assert response.status_code == 200
    html = response.text
    for tag in re.findall(r"<script\b[^>]*>", html, flags=re.I):
        assert "src=" in tag, tag
    assert not re.search(r"<script\b[^>]*>\s*[^<\s]", html), "inline script body"
    assert not re.search(r"<style\b", html, flags=re.I)
    assert not re.search(r"\sstyle\s*=", html, flags=re.I)
    assert not re.search(r"\son[a-z]+\s*=", html, flags=re.I), "inline event handler"


async def test_csrf_token_is_not_readable_across_sites(client):
    await ensure_csrf(client)
    response = await client.get("/login")
    cookies = [c for c in response.headers.get_list("set-cookie") if c.startswith("sc_csrf=")]
    for cookie in cookies:
        assert "samesite=lax" in cookie.lower()
