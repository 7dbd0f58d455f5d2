"""Every form refuses a request without its CSRF token, or with a wrong one: each unsafe route
the app has (read from the app at test time, so pages added later are covered), except the
bearer-token API, gets a POST/PUT/PATCH/DELETE from a signed-in browser session without the
token, with a forged header and with a forged form field. Each answer is 403 with the "form
expired" message in the person's language, and nothing was done (no audit entry appeared)."""

from __future__ import annotations

import pytest

from servicechain.platform.tables import AuditEntry
from tests.conftest import sign_in, text_of
from tests.security.conftest import make_person, private_copy

SAFE = {"GET", "HEAD", "OPTIONS", "TRACE"}
EXPIRED = {"en": "Your form expired. Reload the page and try again.",
           "ru": "Срок действия формы истёк. Обновите страницу и попробуйте ещё раз."}
# Routes that skip the check, each with its reason. Only the bearer-token API: a browser never
# sends its token on its own, so a foreign site cannot forge a request there.
NOT_FORMS = ("/api/",)


@pytest.fixture(scope="module")
async def russian_admin(cast):
    async with private_copy():
        yield await make_person(cast, "ru-admin", role="admin", language="ru", department="company")


def forms(routes):
    return [r for r in routes if r.method not in SAFE and not r.path.startswith(NOT_FORMS)]


async def sweep(client, routes, language: str) -> list[str]:
    problems = []
    for route in forms(routes):
        for headers, data in (({}, {}), ({"x-csrftoken": "forged-token"}, {}), ({}, {"_csrf_token": "forged-token"})):
            response = await client.request(route.method, route.url(), data=data, headers=headers,
                                            follow_redirects=False)
            if response.status_code != 403 or EXPIRED[language] not in text_of(response.text):
                problems.append(f"{route.method} {route.path} {headers or data}: {response.status_code}")
    return problems


async def test_the_sweep_covers_every_kind_of_form(routes):
    paths = {(r.method, r.path) for r in forms(routes)}
    assert len(paths) >= 40
    assert {("POST", "/login"), ("POST", "/logout"), ("POST", "/people/import")} <= paths


async def test_every_form_refuses_a_missing_or_forged_csrf_token_in_english(client, routes, russian_admin):
    await sign_in(client, "admin@test.local")
    audited = await AuditEntry.count().run()
    assert await sweep(client, routes, "en") == []
    assert await AuditEntry.count().run() == audited


async def test_every_form_refuses_a_missing_or_forged_csrf_token_in_russian(client, routes, russian_admin):
    await sign_in(client, russian_admin["email"])
    assert await sweep(client, routes, "ru") == []
