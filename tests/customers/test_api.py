"""POST /api/v1/customer-scores: a source system pushes batches, saved whole or refused whole."""

from __future__ import annotations

import itertools
import uuid

from servicechain.platform.accounts.service import create_token
from servicechain.platform.customers.tables import CustomerScore, ScoreFollowUp
from servicechain.platform.tables import AuditEntry
from tests.api.helpers import on_app_loop
from tests.api.test_api import bearer
from tests.customers.helpers import recent

URL = "/api/v1/customer-scores"
_names = itertools.count(1)


async def token(client, cast, scopes: str = "scores:write") -> tuple[str, str]:
    name = f"helpdesk-{next(_names)}-{uuid.uuid4().hex[:6]}"
    return await on_app_loop(client, create_token, cast.actor("admin"), name, scopes), name


def score(external_id: str, **overrides) -> dict:
    return {"external_id": external_id, "date": recent().isoformat(), "channel": "chat", "department": "support.line1",
            "csat": 5, **overrides}


async def count(client, source: str) -> int:
    return await on_app_loop(client, CustomerScore.count().where(CustomerScore.source == source).run)


async def test_a_batch_is_saved_and_a_replay_adds_nothing(client, cast):
    raw, source = await token(client, cast)
    batch = [score("a1"), score("a2", csat=None, csat_good=False, case_ref="HD-1", comment="Курьер опоздал"),
             score("a3", csat=None, nps=9, employee="employee@test.local", department=None)]
    first = await client.post(URL, json=batch, headers=bearer(raw))
    assert first.status_code == 200, first.text
    assert first.json() == {"received": 3, "created": 3, "skipped": 0, "follow_ups": 1}
    assert await count(client, source) == 3
    bad = await on_app_loop(client, CustomerScore.select().where((CustomerScore.source == source)
                                                                 & (CustomerScore.external_id == "a2")).first().run)
    assert bad["csat_good"] is False and bad["low"] is True
    assert await on_app_loop(client, ScoreFollowUp.count().where(ScoreFollowUp.score == bad["id"]).run) == 1
    audits = await on_app_loop(client, AuditEntry.count().where(AuditEntry.actor_label == f"token:{source}").run)
    replay = await client.post(URL, json=batch, headers=bearer(raw))
    assert replay.status_code == 200
    assert replay.json() == {"received": 3, "created": 0, "skipped": 3, "follow_ups": 0}
    assert await count(client, source) == 3
    assert await on_app_loop(client, AuditEntry.count().where(AuditEntry.actor_label == f"token:{source}").run) == audits + 1


async def test_one_bad_item_refuses_the_batch_naming_it_by_index(client, cast):
    raw, source = await token(client, cast)
    batch = [score("b1"), score("b2", csat=9), score("b3", date="yesterday"), score("b4", department="Nowhere"),
             score("b1"), score("b6", csat="5")]
    refused = await client.post(URL, json=batch, headers=bearer(raw))
    assert refused.status_code == 422
    body = refused.json()
    # Types are checked first: a CSAT sent as text.
    assert body == {"detail": "Item 5 is not valid; nothing was saved.",
                    "errors": [{"index": 5, "field": "csat", "message": "Give a whole number."}]}
    assert await count(client, source) == 0
    batch[5] = score("b6")
    refused = await client.post(URL, json=batch, headers=bearer(raw))
    assert refused.status_code == 422
    errors = {(e["index"], e["field"]) for e in refused.json()["errors"]}
    assert errors == {(1, "csat"), (2, "date"), (3, "department"), (4, "external_id")}
    messages = {e["index"]: e["message"] for e in refused.json()["errors"]}
    assert messages[1] == "CSAT “9” is out of range: give 1 to 5, or good/bad."
    assert messages[4] == "The external id “b1” is also in item 0."
    assert refused.json()["detail"] == "Items 1, 2, 3, 4 are not valid; nothing was saved."
    assert await count(client, source) == 0


async def test_an_external_id_stored_with_other_content_is_409_naming_it(client, cast):
    raw, source = await token(client, cast)
    assert (await client.post(URL, json=[score("c1"), score("c2")], headers=bearer(raw))).status_code == 200
    conflict = await client.post(URL, json=[score("c3"), score("c2", csat=1)], headers=bearer(raw))
    assert conflict.status_code == 409
    assert conflict.json()["errors"] == [{"index": 1, "field": "external_id", "message":
                                          "A score with the external id “c2” is already stored with different content."}]
    assert "Item 1 has an external id already stored with different content" in conflict.json()["detail"]
    assert await count(client, source) == 2  # c3 was not saved either


async def test_each_token_is_its_own_source(client, cast):
    one, source_one = await token(client, cast)
    two, source_two = await token(client, cast)
    assert (await client.post(URL, json=[score("same")], headers=bearer(one))).status_code == 200
    other = await client.post(URL, json=[score("same", csat=1)], headers=bearer(two))
    assert other.status_code == 200 and other.json()["created"] == 1
    assert (await count(client, source_one), await count(client, source_two)) == (1, 1)


async def test_malformed_bodies_get_clear_messages(client, cast):
    raw, _source = await token(client, cast)
    not_json = await client.post(URL, content=b"{nope", headers={**bearer(raw), "content-type": "application/json"})
    assert not_json.status_code == 422 and not_json.json()["detail"] == "The body is not valid JSON."
    empty = await client.post(URL, json=[], headers=bearer(raw))
    assert empty.status_code == 422 and empty.json()["detail"] == "Send a JSON list of scores."
    unknown = await client.post(URL, json=[score("d1", stars=5)], headers=bearer(raw))
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "stars"


async def test_russian_messages_for_a_russian_client(client, cast):
    raw, _source = await token(client, cast)
    refused = await client.post(URL, json=[score("e1", nps=11)], headers={**bearer(raw), "accept-language": "ru"})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["message"] == "NPS «11» вне диапазона: укажите целое число от 0 до 10."


async def test_a_token_without_the_scope_is_refused(client, cast):
    raw, _source = await token(client, cast, "people:read")
    refused = await client.post(URL, json=[score("f1")], headers=bearer(raw))
    assert refused.status_code == 403 and set(refused.json()) == {"detail", "errors"}


async def test_the_endpoint_and_its_body_are_documented(client):
    document = (await client.get("/schema/openapi.json")).json()
    operation = document["paths"][URL]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body["type"] == "array" and body["items"]["required"] == ["external_id", "date", "channel"]
    assert {"csat", "csat_good", "nps", "employee", "department", "case_ref"} <= set(body["items"]["properties"])
    assert {"200", "401", "403", "409", "422"} <= set(operation["responses"])
    assert "scores:write" in operation["description"]
