"""Two uses at the same moment never overspend: concurrent uses on a committed database, each
in its own transaction and connection (PostgreSQL: the chain's rows locked FOR UPDATE; SQLite:
BEGIN IMMEDIATE lets one writer in at a time)."""

from __future__ import annotations

import asyncio

from servicechain.goals.authority import service
from servicechain.goals.authority.tables import AuthoritySpent, AuthorityUse
from servicechain.platform import db
from tests.goals.authority.helpers import make_chain


async def attempt(cast, chain, amount: int, case_ref: str, request_id: str | None = None) -> bool:
    try:
        await service.record_use(cast.actor("employee"), grantee_id=cast.ids["employee"], scope_id=chain.scope_id,
                                 amount=amount, case_ref=case_ref, request_id=request_id, fingerprint="same")
    except service.UseRefused:
        return False
    return True


async def test_concurrent_uses_never_overspend_a_budget_or_a_case(database_copy, cast):
    chain = await make_chain(cast, manager=(1_000_000, 2_000_000), employee=(500_000, 2_000_000))
    if not db.is_sqlite():
        await db.engine().start_connection_pool(min_size=1, max_size=12)
    try:
        # 20 uses of 3 000 ₽ on distinct cases against a 20 000 ₽ budget shared with the manager's:
        # at most six fit, whatever the interleaving.
        results = await asyncio.gather(*(attempt(cast, chain, 300_000, f"RACE-{i}") for i in range(20)))
        assert results.count(True) == 6
        uses = await AuthorityUse.select().where(AuthorityUse.scope == chain.scope_id).run()
        total = sum(u["amount"] for u in uses)
        assert total == 1_800_000
        # 10 uses of 1 500 ₽ on one case whose per-case limit is 5 000 ₽ (the budgets have room): three fit.
        other = await make_chain(cast)
        results = await asyncio.gather(*(attempt(cast, other, 150_000, "RACE-CASE") for _ in range(10)))
        assert results.count(True) == 3
        # The same request sent three times at once is recorded once and answered the same each time.
        results = await asyncio.gather(*(attempt(cast, other, 10, "RACE-RETRY", request_id=f"same-{other.scope_id}")
                                         for _ in range(3)))
        assert results == [True, True, True]
        assert await AuthorityUse.count().where((AuthorityUse.scope == other.scope_id)
                                                & (AuthorityUse.case_ref == "RACE-RETRY")).run() == 1
    finally:
        if not db.is_sqlite():
            await db.engine().close_connection_pool()
    spent = await AuthoritySpent.select().where(AuthoritySpent.grant_id.is_in([chain.employee, chain.manager, chain.root])).run()
    assert {row["grant_id"]: row["spent"] for row in spent} == {chain.employee: total, chain.manager: total, chain.root: total}
