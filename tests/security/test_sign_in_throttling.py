"""Guessing passwords is throttled per account and per address, and the counts live in the
database, so two app instances (two workers, each with its own event loop and connection pool)
share them; guesses sent in parallel to both cannot slip under the limit either."""

from __future__ import annotations

import asyncio

import pytest
from litestar.testing import AsyncTestClient

from servicechain.platform.accounts.service import MAX_FAILURES_PER_ACCOUNT, MAX_FAILURES_PER_ADDRESS
from servicechain.platform.app import create_app
from tests.cast import PASSWORD
from tests.conftest import ensure_csrf, text_of
from tests.security.conftest import make_person, private_copy

THROTTLED = "Too many failed attempts"


@pytest.fixture(scope="module")
async def copy(cast):
    async with private_copy():
        yield


def from_address(app):
    """The app as a reverse proxy-less server sees it: the peer address comes from the socket,
    which the test sets per request through a header only this wrapper reads."""

    async def wrapped(scope, receive, send):
        if scope["type"] == "http":
            peer = dict(scope["headers"]).get(b"x-test-peer")
            if peer:
                scope = {**scope, "client": (peer.decode(), 40000)}
        await app(scope, receive, send)

    return wrapped


async def attempt(client: AsyncTestClient, identifier: str, password: str, address: str = "192.0.2.1"):
    headers = {"x-csrftoken": await ensure_csrf(client), "x-test-peer": address}
    return await client.post("/login", data={"identifier": identifier, "password": password}, headers=headers,
                             follow_redirects=False)


@pytest.fixture
async def two_workers(copy):
    async with AsyncTestClient(app=from_address(create_app()), base_url="http://testserver.local") as one, \
            AsyncTestClient(app=from_address(create_app()), base_url="http://testserver.local") as two:
        yield one, two


async def test_an_account_is_locked_after_five_failures_spread_over_two_workers(cast, two_workers):
    one, two = two_workers
    person = await make_person(cast, "guessed-a")
    for n in range(MAX_FAILURES_PER_ACCOUNT):
        response = await attempt((one, two)[n % 2], person["email"], f"guess-{n}", address=f"198.51.100.{n + 1}")
        assert response.status_code == 422
    for client in (one, two):  # even the right password, from a fresh address, on either worker
        response = await attempt(client, person["email"], PASSWORD, address="203.0.113.77")
        assert response.status_code == 429
        assert THROTTLED in text_of(response.text)
        assert "sc_session" not in response.headers.get("set-cookie", "")
    # By employee number too: the account is locked, not one spelling of it.
    response = await attempt(one, person["employee_number"], PASSWORD, address="203.0.113.78")
    assert response.status_code == 429
    assert "sc_session" not in response.headers.get("set-cookie", "")


async def test_parallel_guesses_on_two_workers_cannot_slip_under_the_limit(cast, two_workers):
    one, two = two_workers
    person = await make_person(cast, "guessed-b")
    guesses = [attempt((one, two)[n % 2], person["email"], f"parallel-{n}", address=f"198.51.100.{100 + n}")
               for n in range(12)]
    statuses = sorted(r.status_code for r in await asyncio.gather(*guesses))
    assert statuses.count(422) == MAX_FAILURES_PER_ACCOUNT, statuses
    assert statuses.count(429) == 12 - MAX_FAILURES_PER_ACCOUNT, statuses


async def test_an_address_guessing_many_accounts_is_locked_but_others_are_not(cast, two_workers):
    one, two = two_workers
    victim = await make_person(cast, "guessed-c")
    address = "198.51.100.250"
    for n in range(MAX_FAILURES_PER_ADDRESS):  # one guess per made-up account: no account lock
        response = await attempt((one, two)[n % 2], f"nobody-{n}@security.test", "guess", address=address)
        assert response.status_code == 422
    response = await attempt(two, victim["email"], PASSWORD, address=address)
    assert response.status_code == 429 and THROTTLED in text_of(response.text)
    # The same account from an honest address is untouched.
    response = await attempt(one, victim["email"], PASSWORD, address="203.0.113.5")
    assert response.status_code == 303 and "sc_session=" in response.headers["set-cookie"]


async def test_a_success_clears_the_accounts_failures(cast, two_workers):
    one, two = two_workers
    person = await make_person(cast, "forgetful")
    for n in range(MAX_FAILURES_PER_ACCOUNT - 1):
        assert (await attempt(one, person["email"], f"typo-{n}", address="203.0.113.20")).status_code == 422
    assert (await attempt(two, person["email"], PASSWORD, address="203.0.113.20")).status_code == 303
    for n in range(MAX_FAILURES_PER_ACCOUNT - 1):  # a fresh allowance, not one left
        assert (await attempt(one, person["email"], f"typo-{n}", address="203.0.113.20")).status_code == 422
