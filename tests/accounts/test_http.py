"""Sign-in pages, cookies, sign-out, resets and invitations through HTTP."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from litestar import Response

from servicechain.platform import web
from servicechain.platform.accounts.controllers import safe_next
from servicechain.platform.app import create_app
from servicechain.platform.config import get_settings
from servicechain.platform.tables import OneTimeLink, OutboxMessage
from tests.accounts.helpers import clients_on_one_loop, forget_failed_sign_ins, mail_to, new_person, session_cookie_header
from tests.cast import EMAILS, PASSWORD
from tests.conftest import post_form, sign_in, text_of
from servicechain.platform import outbox

WRONG = "The email, employee number or password is wrong."


@pytest.fixture(autouse=True)
async def clean_throttle(database):
    yield
    await forget_failed_sign_ins()


async def test_sign_in_by_email_sets_a_safe_session_cookie(client):
    response = await sign_in(client, EMAILS["employee"])
    assert response.headers["location"] == "/"
    cookie = session_cookie_header(response)
    assert cookie is not None
    attributes = [a.strip().lower() for a in cookie.split(";")]
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "path=/" in attributes
    assert "secure" not in attributes  # plain HTTP outside production


def test_session_cookie_is_secure_in_production(monkeypatch):
    production = replace(get_settings(), env="production")
    monkeypatch.setattr(web, "get_settings", lambda: production)
    response = Response(content=None)
    web.set_session_cookie(response, "value")
    [cookie] = response.cookies
    assert (cookie.key, cookie.httponly, cookie.samesite, cookie.secure) == ("sc_session", True, "lax", True)


async def test_sign_in_by_employee_number(client, cast):
    await sign_in(client, "T-005")
    response = await client.get("/account")
    assert response.status_code == 200


async def test_wrong_password_rerenders_the_form_in_english(client):
    response = await post_form(client, "/login", {"identifier": EMAILS["employee"], "password": "nope-nope-nope"})
    assert response.status_code == 422
    assert WRONG in text_of(response.text)
    assert 'value="employee@test.local"' in response.text  # what they typed stays
    assert session_cookie_header(response) is None
    assert (await client.get("/", follow_redirects=False)).status_code == 303


async def test_wrong_password_in_russian_sets_no_session(client):
    client.cookies.set("sc_lang", "ru")
    response = await post_form(client, "/login", {"identifier": EMAILS["employee"], "password": "nope-nope-nope"})
    assert response.status_code == 422
    assert 'lang="ru"' in response.text
    assert session_cookie_header(response) is None


async def test_throttling_holds_across_two_app_instances(cast):
    person = await new_person(cast)
    async with clients_on_one_loop(create_app(), create_app()) as (one, two):
        for client, times in ((one, 3), (two, 2)):
            for _ in range(times):
                response = await post_form(client, "/login", {"identifier": person["email"], "password": "wrong-wrong"})
                assert response.status_code == 422
        response = await post_form(one, "/login", {"identifier": person["email"], "password": PASSWORD})
        assert response.status_code == 429
        assert "Too many failed attempts" in text_of(response.text)
        assert session_cookie_header(response) is None
        response = await post_form(two, "/login", {"identifier": person["email"], "password": PASSWORD})
        assert response.status_code == 429


async def test_a_cookie_from_before_sign_in_is_not_accepted_after(client, cast):
    client.cookies.set("sc_session", "planted-by-someone-else")
    response = await sign_in(client, EMAILS["employee"])
    new_value = re.match(r"sc_session=([^;]+)", session_cookie_header(response)).group(1)
    assert new_value != "planted-by-someone-else"

    # Signing in again (even as someone else) gives a new id and ends the old session.
    client.cookies.set("sc_session", new_value)
    response = await sign_in(client, EMAILS["hr"])
    newer = re.match(r"sc_session=([^;]+)", session_cookie_header(response)).group(1)
    assert newer != new_value
    client.cookies.set("sc_session", new_value)
    response = await client.get("/account", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


async def test_sign_out_ends_the_session_on_the_server(client):
    response = await sign_in(client, EMAILS["employee"])
    raw = re.match(r"sc_session=([^;]+)", session_cookie_header(response)).group(1)
    response = await post_form(client, "/logout")
    assert response.status_code == 303 and response.headers["location"] == "/login"
    client.cookies.set("sc_session", raw)  # replay the old cookie
    response = await client.get("/account", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/account"


async def test_sign_out_needs_a_csrf_token(client):
    await sign_in(client, EMAILS["employee"])
    response = await client.post("/logout", follow_redirects=False)
    assert response.status_code == 403
    assert (await client.get("/account")).status_code == 200


async def test_sign_out_everywhere_ends_sessions_in_other_browsers(app, cast):
    person = await new_person(cast)
    async with clients_on_one_loop(app, app) as (laptop, phone):
        await sign_in(laptop, person["email"])
        await sign_in(phone, person["email"])
        assert (await phone.get("/account")).status_code == 200
        response = await post_form(laptop, "/account/sign-out-everywhere")
        assert response.status_code == 303
        for browser in (laptop, phone):
            response = await browser.get("/account", follow_redirects=False)
            assert response.status_code == 303 and response.headers["location"].startswith("/login")


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/", "/\\evil.example", "\\\\evil.example", "/\t/evil.example",
     "javascript:alert(1)", "evil.example"],
)
async def test_sign_in_never_redirects_off_site(client, target):
    response = await post_form(client, "/login", {"identifier": EMAILS["employee"], "password": PASSWORD, "next": target})
    assert response.status_code == 303
    assert response.headers["location"] == "/"


async def test_sign_in_returns_to_the_page_asked_for(client):
    response = await client.get("/people/?q=ив", follow_redirects=False)
    login = await client.get(response.headers["location"])
    assert re.search(r'name="next" value="/people/?\?q=%D0%B8%D0%B2"', login.text), login.text
    response = await post_form(client, "/login", {"identifier": EMAILS["employee"], "password": PASSWORD,
                                                  "next": "/people/?q=x"})
    assert response.headers["location"] == "/people/?q=x"
    assert safe_next("/people/?q=x") == "/people/?q=x"


async def test_login_page_keeps_only_a_safe_next(client):
    response = await client.get("/login", params={"next": "//evil.example"})
    assert 'name="next" value="/"' in response.text


# --- password reset ------------------------------------------------------------------------------


async def test_reset_request_says_the_same_for_known_and_unknown_accounts(client, cast):
    person = await new_person(cast)
    known = await post_form(client, "/password/forgot", {"identifier": person["email"]})
    unknown = await post_form(client, "/password/forgot", {"identifier": "stranger@test.local"})
    assert known.status_code == unknown.status_code == 200

    def visible(html: str) -> str:
        return text_of(re.sub(r'name="_csrf_token" value="[^"]*"', "", html))

    assert visible(known.text) == visible(unknown.text)
    await outbox.run_jobs(limit=100)  # the worker looks the account up and mails the link
    assert len(await mail_to(person["email"])) == 1
    assert await mail_to("stranger@test.local") == []


async def test_reset_link_page_works_once(client, cast):
    person = await new_person(cast)
    await post_form(client, "/password/forgot", {"identifier": person["number"]})
    await outbox.run_jobs(limit=100)
    [mail] = await mail_to(person["email"])
    path = re.search(r"http://testserver\.local(/password/reset/\S+)", mail["body"]).group(1)

    assert (await client.get(path)).status_code == 200
    response = await post_form(client, path, {"password": "short", "confirm": "short"})
    assert response.status_code == 422
    assert "Use at least 10 characters." in text_of(response.text)
    response = await post_form(client, path, {"password": "a-new-passphrase", "confirm": "a-new-passphrase"})
    assert response.status_code == 200
    assert "Your password is set." in text_of(response.text)
    await sign_in(client, person["email"], "a-new-passphrase")
    assert (await client.get(path)).status_code == 410
    response = await post_form(client, path, {"password": "another-passphrase", "confirm": "another-passphrase"})
    assert response.status_code == 410


async def test_unknown_reset_link_is_gone(client):
    response = await client.get("/password/reset/not-a-real-token")
    assert response.status_code == 410
    assert "This link has expired or was already used." in text_of(response.text)


# --- invitations ----------------------------------------------------------------------------------


async def test_hr_invites_a_person_with_email(client, cast, as_user):
    person = await new_person(cast, password=None)
    await as_user("hr")
    response = await post_form(client, f"/people/{person['id']}/invite")
    assert response.status_code == 200
    assert f"We have sent the invitation to {person['email']}." in text_of(response.text)
    [mail] = await mail_to(person["email"])
    assert "/invite/" in mail["body"]


async def test_hr_prints_an_invitation_for_a_person_without_email(client, cast, as_user):
    person = await new_person(cast, email=None, password=None)
    queued = await OutboxMessage.count().run()
    await as_user("hr")
    response = await post_form(client, f"/people/{person['id']}/invite")
    assert response.status_code == 200
    page = text_of(response.text)
    assert "This person has no email. Print this page and hand it to them." in page
    assert person["number"] in page
    path = re.search(r"http://testserver\.local(/invite/[A-Za-z0-9_-]+)", response.text).group(1)
    assert await OutboxMessage.count().run() == queued
    await post_form(client, "/logout")
    assert (await client.get(path)).status_code == 200
    response = await post_form(client, path, {"password": "courier-passphrase", "confirm": "courier-passphrase"})
    assert response.status_code == 200
    await sign_in(client, person["number"], "courier-passphrase")


async def test_employee_cannot_invite(client, cast, as_user):
    person = await new_person(cast, password=None)
    await as_user("employee")
    response = await post_form(client, f"/people/{person['id']}/invite")
    assert response.status_code == 403
    assert not await OneTimeLink.exists().where(OneTimeLink.person == person["id"]).run()


async def test_reset_requests_are_throttled_per_account_and_answer_the_same(client, cast):
    person = await new_person(cast)
    answers = [await post_form(client, "/password/forgot", {"identifier": person["email"]}) for _ in range(5)]
    assert {a.status_code for a in answers} == {200}
    await outbox.run_jobs(limit=100)
    # Three mails at most, and only the newest link still works.
    mails = await mail_to(person["email"])
    assert len(mails) == 3
    links = [re.search(r"http://testserver\.local(/password/reset/\S+)", m["body"]).group(1) for m in mails]
    statuses = sorted([(await client.get(link)).status_code for link in links])
    assert statuses == [200, 410, 410]
