"""schemathesis against the JSON API, in process: every operation the OpenAPI document lists is
called with generated requests (valid ones, and ones that break the schema on purpose) under a
token holding every scope, on a private copy of the test database with a small company (the
cast, an authority chain, the company values). No answer may be a server error, and every answer
must be what the document promises: a documented status, content type, headers and body schema;
a request that breaks the schema must not be accepted.

The operations come from the document at test time, so an endpoint added later is fuzzed too.
Bounded by MAX_EXAMPLES per operation and mode (derandomized: the same requests every run), so
the run costs seconds, not minutes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
import schemathesis  # pinned in requirements-dev
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from servicechain.platform.security import SCOPES
from tests.cast import EMAILS
from tests.security.conftest import private_copy

MAX_EXAMPLES = int(os.environ.get("SERVICECHAIN_FUZZ_EXAMPLES", "25"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
VALUES = ["customer", "colleagues", "ownership", "beyond"]


@dataclass
class World:
    token: str
    scope_code: str
    employee_numbers: list[str]
    today: date  # the company's


@pytest.fixture(scope="module")
async def world(cast):
    from servicechain.goals.authority.service import today
    from servicechain.platform.accounts.service import create_token
    from servicechain.platform.people.tables import Person
    from tests.goals.authority.helpers import make_chain
    from tests.recognition.conftest import ensure_values

    async with private_copy():
        token = await create_token(cast.actor("admin"), "fuzz", list(SCOPES))
        chain = await make_chain(cast)
        await ensure_values()
        # The cast's own people: they work here on every date a score can carry. (Everyone in the shared
        # test database would include leavers added by other tests, and the derandomised draws could then
        # miss every valid score, depending on which tests ran before.)
        numbers = [r["employee_number"] for r in await Person.select(Person.employee_number)
                   .where(Person.id.is_in(list(cast.ids.values()))).where(Person.active == True).run()]  # noqa: E712
        yield World(token=token, scope_code=chain.scope_code, employee_numbers=numbers, today=today())
        from schemathesis.python import asgi

        asgi.shutdown_lifespans()  # the app's pool belongs to the copy, which goes now


@pytest.fixture(scope="module")
def api_schema(world):
    from servicechain.platform.app import create_app

    app = create_app()
    with schemathesis.python.asgi.get_client(app) as client:
        document = client.get("/schema/openapi.json").json()
    # The test sends the token itself on every call; left in, the document's security
    # requirement would have negative cases drop the header and then blame the answer.
    document.pop("security", None)
    for item in document["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict):
                operation.pop("security", None)
    schema = schemathesis.openapi.from_dict(document)
    schema.app = app
    schema.location = "/schema/openapi.json"
    return schema


RECOGNITION_KEYS = {"from", "to", "values", "message", "story", "case_ref", "visibility"}
USE_KEYS = {"employee", "scope", "amount", "case_ref", "request_id", "note", "customer"}
SCORE_KEYS = {"external_id", "date", "channel", "department", "employee", "csat", "nps", "case_ref", "comment"}


def real_references(body, world: World, draw):
    """Keep a generated body's free text but point it at people, values and scopes that exist
    (and drop fields the API refuses), so requests get past "no such employee" into the code
    that writes."""
    emails = st.sampled_from(list(EMAILS.values()))
    text = st.text(min_size=1, max_size=40).filter(str.strip)
    for item in body if isinstance(body, list) else [body]:
        if not isinstance(item, dict):
            continue
        if "from" in item:  # a recognition
            for key in set(item) - RECOGNITION_KEYS:
                del item[key]
            item.update({"from": draw(emails), "to": draw(st.lists(emails, min_size=1, max_size=2)),
                         "values": draw(st.lists(st.sampled_from(VALUES), min_size=1, max_size=2)),
                         "message": draw(text), "visibility": draw(st.sampled_from(["public", "private"]))})
        elif "scope" in item:  # an authority use: the employee holds 5,000 ₽ per case in this scope
            for key in set(item) - USE_KEYS:
                del item[key]
            item.update(scope=world.scope_code, employee=EMAILS["employee"], amount=draw(st.integers(1, 5000)),
                        case_ref=draw(text))
        elif "channel" in item:  # a customer's score of the last weeks
            for key in set(item) - SCORE_KEYS:
                del item[key]
            item.pop("department", None)
            item.update(external_id=draw(text), date=(world.today - timedelta(days=draw(st.integers(1, 60)))).isoformat(),
                        employee=draw(st.sampled_from(world.employee_numbers)), csat=draw(st.integers(1, 5)))
            if "nps" in item:
                item["nps"] = draw(st.integers(0, 10))
    return body


def fuzz(operation, mode, world: World, statuses: dict[str, set[int]]) -> int:
    calls = 0
    seen = statuses.setdefault(f"{operation.method.upper()} {operation.path}", set())
    headers = {"Authorization": f"Bearer {world.token}"}
    positive = mode == schemathesis.GenerationMode.POSITIVE
    checks = CHECKS if positive else [*CHECKS, negative_data_rejection]

    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True, print_blob=False,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def run(case, data):
        nonlocal calls
        if positive and data.draw(st.booleans()):
            if isinstance(case.body, (dict, list)):
                case.body = real_references(case.body, world, data.draw)
            if case.query and "employee" in case.query:
                case.query["employee"] = data.draw(st.sampled_from(list(EMAILS.values())))
        response = case.call(headers=headers)
        calls += 1
        seen.add(response.status_code)
        case.validate_response(response, checks=checks, headers=headers)

    run()
    return calls


def test_every_api_operation_answers_as_documented_to_generated_requests(api_schema, world):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} >= {
        "GET /api/v1/people", "GET /api/v1/departments", "POST /api/v1/recognitions", "GET /api/v1/authority",
        "POST /api/v1/authority/uses", "POST /api/v1/customer-scores",
    }
    calls, statuses = 0, {}
    for operation in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            calls += fuzz(operation, mode, world, statuses)
    assert calls >= len(operations) * 2 * min(MAX_EXAMPLES, 5)
    # The generated requests got past validation into the code that reads and writes.
    assert all(any(200 <= s < 300 for s in seen) for seen in statuses.values()), statuses


# --- what the fuzzing found, kept as plain regression tests -------------------------------------


async def _token(client, cast, scopes: list[str]) -> dict[str, str]:
    import uuid

    from servicechain.platform.accounts.service import create_token
    from tests.api.helpers import on_app_loop

    raw = await on_app_loop(client, create_token, cast.actor("admin"), "sec-" + uuid.uuid4().hex[:8], scopes)
    return {"Authorization": f"Bearer {raw}", "Content-Type": "application/json"}


@pytest.mark.parametrize("body", [b"\x00", b"{", b"[1,", "{\"from\": \"\u00e9\"".encode("cp1251", "replace")])
async def test_a_body_that_is_not_json_answers_422_in_the_apis_error_shape(client, cast, body):
    headers = await _token(client, cast, ["recognition:write"])
    response = await client.post("/api/v1/recognitions", content=body, headers=headers)
    assert response.status_code == 422
    assert response.json() == {"detail": "The body is not valid JSON.", "errors": []}


@pytest.mark.postgres_only
async def test_a_nul_character_in_api_text_is_refused_not_a_server_error(client, cast):
    from tests.api.helpers import on_app_loop
    from tests.recognition.conftest import ensure_values

    await on_app_loop(client, ensure_values)
    headers = await _token(client, cast, ["recognition:write"])
    body = {"from": EMAILS["outsider"], "to": [EMAILS["employee"]], "values": ["customer"], "message": "Thanks\u0000!"}
    response = await client.post("/api/v1/recognitions", json=body, headers=headers)
    assert response.status_code == 422
    assert "NUL character" in response.json()["detail"], response.json()


@pytest.mark.postgres_only
async def test_a_nul_character_in_a_form_gets_a_page_saying_so_not_a_server_error(client, cast):
    from tests.conftest import post_form, sign_in, text_of

    await sign_in(client, "hr@test.local")
    response = await post_form(client, "/departments/new", {"code": "nul.test", "name_en": "Night\x00shift",
                                                            "name_ru": "Ночная смена", "parent_id": str(cast.departments["company"])})
    assert response.status_code == 422 and response.headers["content-type"].startswith("text/html")
    assert "NUL character" in text_of(response.text) or "The request is not valid." in text_of(response.text)
