"""The JSON API under /api/v1: bearer tokens, scopes, cursor paging and one error shape."""

from __future__ import annotations

import base64
import itertools
from datetime import timedelta

import pytest

from servicechain.platform import db
from servicechain.platform.accounts.service import create_token, revoke_token
from servicechain.platform.security import token_hash, utcnow
from servicechain.platform.tables import ApiToken
from tests.api.helpers import on_app_loop
from tests.conftest import sign_in

_names = itertools.count(1)


async def new_token(client, cast, scopes: str = "people:read") -> str:
    return await on_app_loop(client, create_token, cast.actor("admin"), f"api-test-{next(_names)}", scopes)


async def scopeless_token(client) -> str:
    """A token whose scopes cover none of today's endpoints, as a future scope would (say
    `goals:read`); the service only issues known scopes, so it is written directly."""
    raw = f"sc_scopeless_{next(_names)}"

    async def insert() -> None:
        async with db.write():
            await ApiToken.insert(ApiToken(name=f"api-test-{next(_names)}", token_hash=token_hash(raw), prefix=raw[:8],
                                           scopes="goals:read", created_at=utcnow())).run()

    await on_app_loop(client, insert)
    return raw


async def token_row(client, raw: str) -> dict:
    return await on_app_loop(client, ApiToken.select().where(ApiToken.token_hash == token_hash(raw)).first().run)


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def assert_error_shape(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["errors"], list)
    for item in body["errors"]:
        assert set(item) == {"field", "message"} or set(item) == {"index", "message"}, item
    return body


def cursor_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


# --- paging -----------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint, table", [("/api/v1/people", "person"), ("/api/v1/departments", "department")])
async def test_walking_every_page_returns_every_row_exactly_once(client, cast, endpoint, table):
    raw = await new_token(client, cast)
    expected = sorted(r["id"] for r in await on_app_loop(client, db.fetch, f"SELECT id FROM {table}"))
    assert len(expected) > 2  # so that limit=2 needs several pages
    seen: list[int] = []
    url, pages = f"{endpoint}?limit=2", 0
    while True:
        response = await client.get(url, headers=bearer(raw))
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"items", "next"}
        assert len(body["items"]) <= 2
        seen.extend(item["id"] for item in body["items"])
        pages += 1
        if body["next"] is None:
            break
        url = f"{endpoint}?limit=2&cursor={body['next']}"
    assert seen == expected
    assert pages == -(-len(expected) // 2)


async def test_people_items_carry_codes_not_internal_ids(client, cast):
    raw = await new_token(client, cast)
    response = await client.get("/api/v1/people?limit=500", headers=bearer(raw))
    employee = next(p for p in response.json()["items"] if p["id"] == cast.ids["employee"])
    assert employee["department_code"] == "support.line1"
    assert employee["manager_employee_number"] == "T-004"
    assert employee["email"] == "employee@test.local"
    assert employee["active"] is True


async def test_active_filter_leaves_out_people_who_left(client, cast):
    from servicechain.platform.people.tables import Person

    left = Person(full_name="Api Leaver", employee_number="API-LEFT-1", position="Courier", role="employee",
                  language="ru", active=False, search_name="api leaver", created_at=utcnow(), updated_at=utcnow())

    async def save() -> None:
        async with db.write():
            await left.save().run()

    await on_app_loop(client, save)
    raw = await new_token(client, cast)
    everyone = {p["id"] for p in (await client.get("/api/v1/people?limit=500", headers=bearer(raw))).json()["items"]}
    active = (await client.get("/api/v1/people?limit=500&active=true", headers=bearer(raw))).json()["items"]
    gone = (await client.get("/api/v1/people?limit=500&active=false", headers=bearer(raw))).json()["items"]
    assert left.id in everyone
    assert left.id not in {p["id"] for p in active} and all(p["active"] for p in active)
    assert left.id in {p["id"] for p in gone} and not any(p["active"] for p in gone)


# --- bad input: 422 in our shape, never Litestar's 400 ------------------------------------------


@pytest.mark.parametrize(
    "query, field, message",
    [
        ("limit=0", "limit", "Enter a number of at least 1."),
        ("limit=501", "limit", "Enter a number of at most 500."),
        ("limit=abc", "limit", "Enter a whole number."),
        ("limit=", "limit", "Enter a whole number."),
        ("active=maybe", "active", "Write true or false."),
        ("cursor=zzz", "cursor", "The cursor is not valid; start again without it."),
        ("cursor=" + cursor_of("id:-1"), "cursor", "The cursor is not valid; start again without it."),
        ("cursor=" + cursor_of("name:5"), "cursor", "The cursor is not valid; start again without it."),
        ("cursor=" + cursor_of("id:99999999999999999999"), "cursor", "The cursor is not valid; start again without it."),
        ("cursor=%FF%FE", "cursor", "The cursor is not valid; start again without it."),
    ],
)
async def test_bad_query_answers_422_naming_the_field(client, cast, query, field, message):
    raw = await new_token(client, cast)
    body = assert_error_shape(await client.get(f"/api/v1/people?{query}", headers=bearer(raw)), 422)
    assert body["errors"] == [{"field": field, "message": message}]


async def test_bad_limit_on_departments_too(client, cast):
    raw = await new_token(client, cast)
    body = assert_error_shape(await client.get("/api/v1/departments?limit=-5", headers=bearer(raw)), 422)
    assert body["errors"][0]["field"] == "limit"


# --- who may call ---------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["/api/v1/people", "/api/v1/departments"])
async def test_no_token_answers_401_with_bearer_challenge(client, endpoint):
    body = assert_error_shape(await client.get(endpoint), 401)
    assert body["detail"] == "A valid API token is required."
    assert body["errors"] == []


async def test_unknown_token_and_other_schemes_answer_401(client):
    for headers in (bearer("sc_not-a-token"), {"Authorization": "Basic YWRtaW46eA=="}, {"Authorization": "Bearer "}):
        response = await client.get("/api/v1/people", headers=headers)
        assert_error_shape(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"


async def test_revoked_token_answers_401(client, cast):
    raw = await new_token(client, cast)
    name = (await token_row(client, raw))["name"]
    assert (await client.get("/api/v1/people", headers=bearer(raw))).status_code == 200
    await on_app_loop(client, revoke_token, cast.actor("admin"), name)
    assert_error_shape(await client.get("/api/v1/people", headers=bearer(raw)), 401)


async def test_token_without_the_scope_answers_403(client):
    raw = await scopeless_token(client)
    for endpoint in ("/api/v1/people", "/api/v1/departments"):
        body = assert_error_shape(await client.get(endpoint, headers=bearer(raw)), 403)
        assert body["detail"] == "You do not have permission to do this."


async def test_authorization_is_checked_before_the_query(client):
    # No token and a bad limit: the caller learns it must authenticate, not how we validate.
    assert_error_shape(await client.get("/api/v1/people?limit=0"), 401)


async def test_a_session_cookie_does_not_authenticate_the_api(client):
    await sign_in(client, "admin@test.local")
    assert (await client.get("/")).status_code == 200  # the session works for pages
    assert_error_shape(await client.get("/api/v1/people"), 401)


async def test_a_token_does_not_open_html_pages(client, cast):
    raw = await new_token(client, cast)
    response = await client.get("/people/", headers=bearer(raw), follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


async def test_last_used_at_is_written_then_throttled(client, cast):
    raw = await new_token(client, cast)
    assert (await token_row(client, raw))["last_used_at"] is None
    await client.get("/api/v1/people?limit=1", headers=bearer(raw))
    first = (await token_row(client, raw))["last_used_at"]
    assert first is not None
    await client.get("/api/v1/people?limit=1", headers=bearer(raw))
    assert (await token_row(client, raw))["last_used_at"] == first  # not rewritten on every call
    long_ago = utcnow() - timedelta(hours=1)

    async def age() -> None:
        async with db.write():
            await ApiToken.update({ApiToken.last_used_at: long_ago}).where(ApiToken.token_hash == token_hash(raw)).run()

    await on_app_loop(client, age)
    await client.get("/api/v1/people?limit=1", headers=bearer(raw))
    later = (await token_row(client, raw))["last_used_at"]
    assert str(later) != str(long_ago) and str(later) != str(first)


# --- other statuses in the same shape ------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v1/people/1", "/api/v2/people", "/api/"])
async def test_unknown_api_path_answers_404_json(client, cast, path):
    raw = await new_token(client, cast)
    body = assert_error_shape(await client.get(path, headers=bearer(raw)), 404)
    assert body["detail"] == "This page does not exist, or you may not see it."


async def test_wrong_method_answers_405_json(client, cast):
    raw = await new_token(client, cast)
    for method in ("post", "put", "delete"):
        response = await client.request(method.upper(), "/api/v1/people", headers=bearer(raw))
        body = assert_error_shape(response, 405)
        assert body["detail"] == "This action is not allowed here."


@pytest.mark.parametrize("status", [409, 429])
async def test_conflict_and_throttling_use_the_same_shape(status):
    """No endpoint conflicts or throttles yet; the one handler that will answer for them does."""
    from litestar import Request
    from litestar.exceptions import HTTPException

    from servicechain.platform.web import DomainError, exception_handler

    request = Request(scope={"type": "http", "method": "GET", "path": "/api/v1/people", "query_string": b"",
                             "headers": [], "server": ("testserver", 80), "scheme": "http", "root_path": "",
                             "app": None, "state": {}})
    response = exception_handler(request, DomainError("Busy; try later.", status_code=status))
    assert response.status_code == status
    assert response.content == {"detail": "Busy; try later.", "errors": []}
    exc = HTTPException(status_code=status, headers={"Retry-After": "30"})
    response = exception_handler(request, exc)
    assert response.status_code == status
    assert set(response.content) == {"detail", "errors"}
    if status == 429:
        assert response.headers["Retry-After"] == "30"
        assert response.content["detail"] == "Too many attempts. Please wait and try again."


async def test_api_answers_carry_security_headers_and_no_store(client, cast):
    raw = await new_token(client, cast)
    for response in (await client.get("/api/v1/people", headers=bearer(raw)), await client.get("/api/v1/people")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["cache-control"] == "no-store"
