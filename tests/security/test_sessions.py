"""Session fixation and replay after sign-out, on whichever engine the run uses.

Fixation: a session id the browser held before signing in (one an attacker chose, or a valid
one of the attacker's own account planted in the victim's browser) is never adopted: sign-in
issues a new id, and the planted one does not work afterwards. Replay: a cookie copied before
sign-out (from a shared computer, a proxy log) opens nothing afterwards, in any browser.
"""

from __future__ import annotations

import re

import pytest
from litestar.testing import AsyncTestClient

from servicechain.platform.security import token_hash
from servicechain.platform.tables import UserSession
from tests.conftest import post_form, sign_in
from tests.security.conftest import make_person, private_copy

SESSION = "sc_session"


@pytest.fixture(scope="module")
async def people(cast):
    async with private_copy():
        yield {"victim": await make_person(cast, "victim"), "attacker": await make_person(cast, "attacker"),
               "leaver": await make_person(cast, "leaver")}


def issued(response) -> str:
    for header in response.headers.get_list("set-cookie"):
        if match := re.match(rf"{SESSION}=([^;]*)", header):
            return match.group(1)
    raise AssertionError("no session cookie was issued")


async def signed_in_as(client: AsyncTestClient, raw: str) -> str | None:
    """Whom this cookie opens the account page for (None: sent to sign in)."""
    client.cookies.set(SESSION, raw)
    response = await client.get("/account", follow_redirects=False)
    if response.status_code == 303:
        assert response.headers["location"].startswith("/login")
        return None
    assert response.status_code == 200
    return response.text


async def test_a_session_id_chosen_before_sign_in_is_not_adopted(app, client, people):
    planted = "attacker-chose-this-session-id-0123456789"
    client.cookies.set(SESSION, planted)
    new = issued(await sign_in(client, people["victim"]["email"]))
    assert new != planted
    assert not await UserSession.exists().where(UserSession.token_hash == token_hash(planted)).run()
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as attacker:
        assert await signed_in_as(attacker, planted) is None


async def test_an_attackers_own_valid_session_planted_in_a_browser_ends_when_the_victim_signs_in(app, client, people):
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as attacker:
        planted = issued(await sign_in(attacker, people["attacker"]["email"]))
        client.cookies.set(SESSION, planted)  # e.g. set by a sibling subdomain
        assert "Security attacker" in await signed_in_as(client, planted)
        client.cookies.set(SESSION, planted)
        victims = issued(await sign_in(client, people["victim"]["email"]))
        assert victims != planted
        # The attacker's copy opens neither the victim's account nor even the attacker's own.
        assert await signed_in_as(attacker, planted) is None
        assert "Security victim" in await signed_in_as(client, victims)


async def test_every_sign_in_issues_a_new_session_id(client, people):
    ids = {issued(await sign_in(client, people["victim"]["email"])) for _ in range(3)}
    assert len(ids) == 3
    assert all(len(raw) >= 40 for raw in ids)  # 32 random bytes, URL-safe


async def test_a_cookie_copied_before_sign_out_opens_nothing_after(app, client, people):
    raw = issued(await sign_in(client, people["leaver"]["email"]))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as thief:
        assert "Security leaver" in await signed_in_as(thief, raw)
        response = await post_form(client, "/logout")
        assert response.status_code == 303
        assert f'{SESSION}=""' in response.headers["set-cookie"] or "max-age=0" in response.headers["set-cookie"].lower()
        assert await signed_in_as(thief, raw) is None
        thief.cookies.set(SESSION, raw)
        fragment = await thief.get("/people/?q=a", headers={"HX-Request": "true"}, follow_redirects=False)
        assert fragment.status_code in (204, 303) and "Security" not in fragment.text
        form = await post_form(thief, "/account/sign-out-everywhere")
        assert form.status_code == 303 and form.headers.get("location", "").startswith("/login")
    assert not await UserSession.exists().where(UserSession.token_hash == token_hash(raw)).run()


async def test_sign_out_everywhere_ends_copies_of_every_session(app, client, people):
    email = people["leaver"]["email"]
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as phone, \
            AsyncTestClient(app=app, base_url="http://testserver.local") as tablet:
        copies = [issued(await sign_in(phone, email)), issued(await sign_in(tablet, email)),
                  issued(await sign_in(client, email))]
        response = await post_form(client, "/account/sign-out-everywhere")
        assert response.status_code == 303
        for raw in copies:
            assert await signed_in_as(phone, raw) is None
