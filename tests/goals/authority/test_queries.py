"""How many queries a use of authority and the authority pages send, and how many of them hold
the writer. A use reads the scope and the person's grants before its transaction; inside it
reads the chain's totals, the case's uses and the retry's first answer in one query (after
locking the chain on PostgreSQL), then writes the totals and the use. The audit entry's own
queries belong to platform.audit."""

from __future__ import annotations

import pytest

from servicechain.goals.authority import service
from servicechain.goals.authority.tables import AuthorityUse
from servicechain.platform import db
from tests.api.helpers import on_app_loop
from tests.conftest import post_form
from tests.goals.authority.helpers import grant_values, make_chain, make_scope
from tests.goals.authority.test_http import chain_over_http, token, uses_on
from tests.recognition.querylog import QueryLog, count_queries

AUDIT = ("audit_entry", "system_flag", "pg_advisory_xact_lock", "api_token")  # api_token: when a token was last used


def inside(log: QueryLog) -> list[str]:
    """The use's own statements inside the write transaction, audit left out, by their start."""
    return [" ".join(sql.split()[:3]) for sql, where in log.queries if where == "write" and not any(t in sql for t in AUDIT)]


def expected(*statements: str) -> list[str]:
    lock = ["SELECT id FROM"] if not db.is_sqlite() else []  # PostgreSQL locks the chain first
    return [*lock, *statements]


def authority_queries(log: QueryLog) -> int:
    return sum(1 for sql, _where in log.queries if "authority_" in sql and not any(t in sql for t in AUDIT))


async def test_a_use_on_the_web_holds_the_writer_for_one_read_and_two_writes(client, cast, as_user):
    chain = await chain_over_http(client, cast)
    await as_user("employee")
    with count_queries() as log:
        response = await post_form(client, "/authority/uses", {"scope_id": str(chain.scope_id), "amount": "100",
                                                               "case_ref": "Q-WEB-1"}, htmx=True)
    assert response.status_code == 204, response.text
    assert inside(log) == expected("SELECT g.*, p.full_name", "INSERT INTO authority_spent", "INSERT INTO authority_use"), str(log)
    # The form's scope (two queries), the use's grants, then those inside the transaction.
    assert authority_queries(log) <= 3 + len(inside(log)), str(log)
    assert await uses_on(client, "Q-WEB-1") == 1


async def test_a_refused_use_writes_only_its_audit_entry(client, cast, as_user):
    chain = await chain_over_http(client, cast)
    await as_user("employee")
    with count_queries() as log:
        response = await post_form(client, "/authority/uses", {"scope_id": str(chain.scope_id), "amount": "6000",
                                                               "case_ref": "Q-WEB-2"}, htmx=True)
    assert response.status_code == 422 and "per-case limit" in response.text
    assert inside(log) == expected("SELECT g.*, p.full_name"), str(log)
    assert await uses_on(client, "Q-WEB-2") == 0


async def test_an_api_use_and_its_retry(client, cast):
    chain = await chain_over_http(client, cast)
    headers = await token(client, cast)
    body = {"employee": "employee@test.local", "scope": chain.scope_code, "amount": 10, "case_ref": "Q-API-1",
            "request_id": f"q-{chain.scope_code}"}
    with count_queries() as log:
        first = await client.post("/api/v1/authority/uses", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert inside(log) == expected("SELECT g.*, p.full_name", "INSERT INTO authority_spent", "INSERT INTO authority_use"), str(log)
    with count_queries() as log:
        again = await client.post("/api/v1/authority/uses", json=body, headers=headers)
    assert again.status_code == 201 and again.json() == first.json()
    assert inside(log) == expected("SELECT g.*, p.full_name"), str(log)  # the first answer, read under the lock
    assert await uses_on(client, "Q-API-1") == 1


async def test_my_authority_reads_the_same_few_queries_however_many_grants(client, cast, as_user):
    chain = await chain_over_http(client, cast)

    async def more_grants() -> None:  # two more scopes for the employee, each down its own chain
        for _ in range(2):
            scope_id, _code = await make_scope(cast)
            root = await service.create_grant(cast.actor("admin"), grant_values(cast.ids["ceo"], None, 100_000, 1_000_000,
                                                                                scope_id=scope_id))
            await service.create_grant(cast.actor("ceo"), grant_values(cast.ids["employee"], root, 1000, 10_000))

    await on_app_loop(client, more_grants)
    items = await on_app_loop(client, service.authority_of, cast.ids["employee"])
    assert len(items) >= 3 and chain.employee in {i["grant"]["id"] for i in items}
    await as_user("employee")
    with count_queries() as log:
        assert (await client.get("/authority/")).status_code == 200
    assert authority_queries(log) == 3 and log.in_write == 0, str(log)  # grants, chains with totals, own uses
    headers = await token(client, cast)
    with count_queries() as log:
        answer = await client.get("/api/v1/authority", params={"employee": "employee@test.local", "case_ref": "Q-1"},
                                  headers=headers)
    assert answer.status_code == 200 and len(answer.json()["items"]) >= 3
    # grants, then chains with totals and what each grant has used on the case, in one query
    assert authority_queries(log) == 2 and inside(log) == [], str(log)


async def test_authority_of_matches_the_chain_budgets_and_case_uses(cast, rollback):
    """The two-query reading agrees with the uses recorded: the least left up the chain and what
    remains for a case."""
    chain = await make_chain(cast)
    await service.record_use(cast.actor("employee"), grantee_id=cast.ids["employee"], scope_id=chain.scope_id,
                             amount=200_000, case_ref="Q-C")
    for case in ("Q-D", "Q-E", "Q-F", "Q-G"):
        await service.record_use(cast.actor("manager"), grantee_id=cast.ids["manager"], scope_id=chain.scope_id,
                                 amount=1_000_000, case_ref=case)
    item = [i for i in await service.authority_of(cast.ids["employee"], case_ref="Q-C") if i["grant"]["id"] == chain.employee][0]
    # The manager's grant (5 000 000 kopecks a month) has 5 000 000 - 200 000 - 4 000 000 left,
    # less than the employee's own 4 000 000 - 200 000.
    assert item["remaining_budget"] == 800_000
    assert item["remaining_for_case"] == 300_000 and item["per_case_limit"] == 500_000
    assert item["scope"]["id"] == chain.scope_id and item["scope"]["active"] is True


async def test_my_latest_uses_are_mine_newest_first_without_working_out_my_reach(cast, rollback, monkeypatch):
    """A manager's own ledger needs no reach (their team's uses are not asked for); it reads
    their latest uses off the (grantee, used_on, id) index."""
    from datetime import timedelta

    chain = await make_chain(cast)
    for days, case in ((3, "Q-OLD"), (0, "Q-NEW"), (1, "Q-MID")):
        await service.record_use(cast.actor("manager"), grantee_id=cast.ids["manager"], scope_id=chain.scope_id, amount=100,
                                 case_ref=case, used_on=service.today() - timedelta(days=days))
    await service.record_use(cast.actor("employee"), grantee_id=cast.ids["employee"], scope_id=chain.scope_id, amount=100,
                             case_ref="Q-TEAM")

    async def no_reach(actor):
        raise AssertionError("one's own ledger must not work out a reach")

    monkeypatch.setattr(service, "people_in_reach", no_reach)
    rows = await service.ledger(cast.actor("manager"), person_id=cast.ids["manager"], scope_id=chain.scope_id, limit=3)
    assert [r["case_ref"] for r in rows] == ["Q-NEW", "Q-MID", "Q-OLD"]


async def test_the_home_page_counts_the_requests_waiting_for_me(cast, rollback):
    chain = await make_chain(cast)
    before = (await service.home_authority(cast.actor("manager")))["authority_waiting"]
    request_id = await service.escalate(cast.actor("employee"), scope_id=chain.scope_id, amount=600_000, case_ref="Q-ESC")
    home = await service.home_authority(cast.actor("manager"))
    assert home["authority_waiting"] == before + 1
    assert chain.manager in {i["grant"]["id"] for i in home["authority"]}
    await service.decide_escalation(cast.actor("manager"), request_id, approve=False)
    assert (await service.home_authority(cast.actor("manager")))["authority_waiting"] == before


async def test_a_grant_revoked_after_the_read_before_the_transaction_is_refused(cast, rollback, monkeypatch):
    """The person's grants are read before the transaction; whether each is revoked or valid is
    read again under the lock, so a revocation in between is seen and nothing is recorded."""
    chain = await make_chain(cast)
    lock = service._lock_chain

    async def revoke_first(ids):
        await service.revoke_grant(cast.actor("ceo"), chain.manager)  # ends the manager's and the employee's grants
        await lock(ids)

    monkeypatch.setattr(service, "_lock_chain", revoke_first)
    with pytest.raises(service.UseRefused) as refused:
        await service.record_use(cast.actor("employee"), grantee_id=cast.ids["employee"], scope_id=chain.scope_id,
                                 amount=100, case_ref="Q-REVOKED")
    assert "was revoked" in refused.value.message
    assert await AuthorityUse.count().where(AuthorityUse.case_ref == "Q-REVOKED").run() == 0
