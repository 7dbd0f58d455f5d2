"""POST /api/v1/recognitions: a chat bot thanks on behalf of its users, under the web's rules."""

from __future__ import annotations

import itertools

from servicechain.platform.accounts.service import create_token
from servicechain.platform.tables import AuditEntry
from servicechain.recognition.tables import Recognition
from tests.api.helpers import on_app_loop
from tests.api.test_api import assert_error_shape, bearer
from tests.cast import EMAILS

_names = itertools.count(1)


async def token(client, cast, scopes: str = "recognition:write") -> str:
    return await on_app_loop(client, create_token, cast.actor("admin"), f"chat-bot-{next(_names)}", scopes)


def body(**overrides) -> dict:
    return {"from": EMAILS["hr"], "to": [EMAILS["employee"]], "values": ["customer"], "message": "API: thanks from the chat.",
            **overrides}


async def test_a_bot_thanks_a_colleague_and_the_audit_names_the_token(client, cast, values):
    raw = await token(client, cast)
    response = await client.post("/api/v1/recognitions", json=body(message="API: the audit names me."), headers=bearer(raw))
    assert response.status_code == 201, response.text
    rid = response.json()["id"]
    assert response.json()["url"] == f"/recognition/{rid}"
    row = await on_app_loop(client, Recognition.select().where(Recognition.id == rid).first().run)
    assert row["sender"] == cast.ids["hr"] and row["via_token"].startswith("chat-bot-")
    entry = await on_app_loop(client, AuditEntry.select().where((AuditEntry.action == "recognition.give")
                                                                & (AuditEntry.object_id == str(rid))).first().run)
    assert entry["actor_label"] == f"token:{row['via_token']}"


async def test_refusals_are_422_in_the_error_shape_and_save_nothing(client, cast, values):
    raw = await token(client, cast)
    before = await on_app_loop(client, Recognition.count().run)
    cases = [
        (body(to=[EMAILS["hr"]]), "to", "You cannot thank yourself; thank a colleague."),
        (body(values=["speed"]), "values", "There is no company value speed."),
        (body(message=""), "message", "Write a message."),
        (body(message="x" * 1001), "message", "The message is too long: at most 1000 characters."),
        (body(**{"from": "nobody@nowhere.test"}), "from", "Nobody has the email nobody@nowhere.test."),
    ]
    for data, field, message in cases:
        response = await client.post("/api/v1/recognitions", json=data, headers=bearer(raw))
        errors = assert_error_shape(response, 422)["errors"]
        assert {"field": field, "message": message} in errors, errors
    missing = await client.post("/api/v1/recognitions", json={"from": EMAILS["hr"]}, headers=bearer(raw))
    assert_error_shape(missing, 422)
    assert await on_app_loop(client, Recognition.count().run) == before


async def test_a_token_without_the_scope_is_refused(client, cast, values):
    raw = await token(client, cast, "people:read")
    assert_error_shape(await client.post("/api/v1/recognitions", json=body(), headers=bearer(raw)), 403)
    assert_error_shape(await client.post("/api/v1/recognitions", json=body()), 401)


async def test_the_endpoint_is_documented(client):
    document = (await client.get("/schema/openapi.json")).json()
    operation = document["paths"]["/api/v1/recognitions"]["post"]
    assert set(operation["responses"]) >= {"201", "401", "403", "422"} and "400" not in operation["responses"]
    schema = document["components"]["schemas"]["RecognitionIn"]
    assert set(schema["required"]) == {"from", "to", "values", "message"}


async def test_a_sender_who_left_or_over_the_daily_limit_is_refused_with_422(client, cast, values):
    from datetime import timedelta

    from servicechain.platform import db
    from servicechain.platform.people.tables import Person
    from servicechain.platform.security import utcnow
    from servicechain.recognition.service import DAILY_LIMIT

    raw = await token(client, cast)
    tag = next(_names)

    async def people() -> tuple[int, int]:
        now = utcnow()
        async with db.write():
            gone = Person(full_name="Ушедший Бот", employee_number=f"API-L-{tag}", email=f"api-left-{tag}@test.local",
                          active=False, created_at=now, updated_at=now)
            await gone.save().run()
            busy = Person(full_name="Занятой Бот", employee_number=f"API-B-{tag}", email=f"api-busy-{tag}@test.local",
                          created_at=now, updated_at=now)
            await busy.save().run()
            await Recognition.insert(*[Recognition(sender=busy.id, message=f"API: earlier {i}", created_at=now - timedelta(hours=2))
                                       for i in range(DAILY_LIMIT)]).run()
        return gone.id, busy.id

    await on_app_loop(client, people)
    before = await on_app_loop(client, Recognition.count().run)
    left = await client.post("/api/v1/recognitions", json=body(**{"from": f"api-left-{tag}@test.local"}), headers=bearer(raw))
    assert {"field": "from", "message": "The sender is not someone who works here."} in assert_error_shape(left, 422)["errors"]
    busy = await client.post("/api/v1/recognitions", json=body(**{"from": f"api-busy-{tag}@test.local"}), headers=bearer(raw))
    assert "the most allowed" in assert_error_shape(busy, 422)["detail"]
    assert await on_app_loop(client, Recognition.count().run) == before
