"""Search fields and every other query parameter resist SQL injection on both engines.

Every GET route the app has (read from the app at test time) gets each payload in each of its
text query parameters, plus the names pages read straight from the query string: no answer is a
server error. The search fields (people directory, the thanks and reward pickers, the ledger's case,
the audit log) answer like any search that matches nobody: LIKE wildcards and quotes are taken
literally, and no payload widens the result to extra rows.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import sign_in
from tests.security.conftest import private_copy

PAYLOADS = ["' OR 1=1 --", "' OR '1'='1", "%", "_", "\\", "%' OR '%'='", "1; DROP TABLE person; --",
            "\x00", "a\x00' OR 1=1 --", "')) OR 1=1 --", "\" OR \"\"=\"", "é%_\\'"]
# The sweep over every page sends the shortest set that would break a query built by hand.
SWEEP = ["' OR 1=1 --", "%", "_", "\\", "\x00", "%' OR '%'='"]
# Names some pages read from request.query_params directly, so they are not in the signature.
EXTRA_NAMES = ("q", "find", "employee", "department", "channel", "month", "reviewer", "person", "checklist")
SEARCHES = {  # path, parameter: what a row of the answer looks like
    ("/people", "q"): r'href="/people/\d+"',
    ("/recognition/picker", "find"): r'<label class="pick"',
    ("/rewards/picker", "find"): r'<li><a href="/rewards/new',
    ("/authority/ledger", "case_ref"): r"<tr\b",
    ("/audit", "actor"): r"<tr><td>\d",
}


@pytest.fixture(scope="module")
async def rows(cast):
    """Something for each search to find: audit entries and an authority use, on a copy."""
    from servicechain.goals.authority.service import record_use
    from servicechain.platform.accounts.service import create_token
    from tests.goals.authority.helpers import make_chain

    async with private_copy():
        await create_token(cast.actor("admin"), "sqli-audit", ["people:read"])
        chain = await make_chain(cast)
        await record_use(cast.actor("employee"), grantee_id=cast.ids["employee"], scope_id=chain.scope_id, amount=100,
                         case_ref="CASE-SQLI-1")
        yield


def text_parameters(handler, path: str) -> list[str]:
    names = []
    for name, parameter in handler.parsed_fn_signature.parameters.items():
        if name in ("request", "self", "data", "state", "scope") or "{" + name in path:
            continue
        if "str" in str(parameter.annotation):
            names.append(name)
    return names


def get_routes(app):
    for path, handlers in app.route_handler_method_map.items():
        handler = handlers.get("GET")
        if handler is None or path.startswith(("/static", "/schema")):
            continue
        yield path, handler


def fill(path: str, cast) -> str:
    return re.sub(r"\{[^}]+\}", str(cast.ids["employee"]), path)


async def test_no_query_parameter_of_any_page_turns_a_payload_into_a_server_error(client, cast, app):
    await sign_in(client, "admin@test.local")
    answered = 0
    failures = []
    for path, handler in get_routes(app):
        if path.startswith("/api/"):
            continue
        names = set(text_parameters(handler, path)) | set(EXTRA_NAMES)
        for value in SWEEP:
            response = await client.get(fill(path, cast), params={name: value for name in names})
            answered += 1
            if response.status_code >= 500:
                failures.append(f"{path} {value!r}: {response.status_code}")
    assert failures == []
    assert answered > 200


async def test_the_api_query_parameters_take_payloads_as_data(client, cast):
    import uuid

    from servicechain.platform.accounts.service import create_token
    from servicechain.platform.security import SCOPES
    from tests.api.helpers import on_app_loop

    raw = await on_app_loop(client, create_token, cast.actor("admin"), "sqli-" + uuid.uuid4().hex[:8], list(SCOPES))
    headers = {"Authorization": f"Bearer {raw}"}
    for value in PAYLOADS:
        for url, params in (("/api/v1/authority", {"employee": value, "case_ref": value}),
                            ("/api/v1/people", {"cursor": value}), ("/api/v1/departments", {"cursor": value})):
            response = await client.get(url, params=params, headers=headers)
            assert response.status_code in (200, 404, 422), (url, value, response.text)


@pytest.mark.parametrize("path, name", list(SEARCHES))
async def test_a_search_payload_finds_no_extra_rows(client, cast, rows, path, name):
    await sign_in(client, "admin@test.local")
    row = re.compile(SEARCHES[(path, name)])
    nobody = await client.get(path, params={name: "zzqxjv-nobody"})
    assert nobody.status_code == 200
    blank = await client.get(path, params={name: ""})
    some = await client.get(path, params={name: "test.local" if "picker" in path else ""})
    assert blank.status_code == 200 and some.status_code == 200
    assert len(row.findall(some.text)) > len(row.findall(nobody.text)), "the search has rows to find"
    for value in PAYLOADS:
        response = await client.get(path, params={name: value})
        assert response.status_code == 200, (value, response.status_code)
        # A NUL alone is dropped like other control characters: the same as an empty search.
        expected = blank if value == "\x00" else nobody
        assert len(row.findall(response.text)) == len(row.findall(expected.text)), (path, value)
