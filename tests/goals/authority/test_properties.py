"""Property-based: random sequences of grants, re-delegations, uses and revocations never let a
use exceed a per-case limit or a budget anywhere up the chain, and no grant outlives or
outgrows its grantor's."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servicechain.goals.authority import service
from servicechain.goals.authority.tables import AuthorityGrant, AuthorityUse
from servicechain.platform import db
from servicechain.platform.security import Forbidden, NotFound
from servicechain.platform.web import DomainError, FormInvalid
from tests.goals.authority.helpers import make_scope

# Whom each holder may grant to (their reach); others may not grant at all.
TEAM = {"ceo": ("manager", "employee", "outsider", "hr"), "manager": ("employee",)}

grant_op = st.tuples(st.just("grant"), st.integers(0, 9), st.integers(0, 3), st.integers(50, 300),
                     st.integers(300, 1000), st.sampled_from(["month", "quarter"]), st.integers(-120, 0),
                     st.integers(0, 200), st.booleans())
use_op = st.tuples(st.just("use"), st.integers(0, 9), st.integers(50, 400), st.sampled_from(["A", "B", "C"]),
                   st.integers(0, 40))
revoke_op = st.tuples(st.just("revoke"), st.integers(0, 9))
operations = st.lists(st.one_of(grant_op, grant_op, use_op, use_op, use_op, use_op, revoke_op), min_size=10, max_size=50)


async def check_invariants(scope_id: int) -> None:
    grants = {g["id"]: g for g in await AuthorityGrant.select().where(AuthorityGrant.scope == scope_id).run()}
    for g in grants.values():
        parent = grants.get(g["parent"])
        if parent is None:
            continue
        assert g["per_case_limit"] <= parent["per_case_limit"]
        assert g["budget"] <= parent["budget"]
        assert g["valid_from"] >= parent["valid_from"]
        if parent["valid_until"] is not None:
            assert g["valid_until"] is not None and g["valid_until"] <= parent["valid_until"]
        if parent["revoked_at"] is not None:
            assert g["revoked_at"] is not None
        assert not (g["period"] == "quarter" and parent["period"] == "month")
    uses = await AuthorityUse.select().where(AuthorityUse.scope == scope_id).run()
    for g in grants.values():
        below = [u for u in uses if u["grant_path"].startswith(g["path"])]
        per_period: dict = defaultdict(int)
        per_case: dict = defaultdict(int)
        for u in below:
            per_period[service.period_start(u["used_on"], g["period"])] += u["amount"]
            per_case[u["case_ref"]] += u["amount"]
            assert service.valid_on(g, u["used_on"])
            if g["revoked_at"] is not None:
                assert u["created_at"] <= g["revoked_at"]
        assert all(total <= g["budget"] for total in per_period.values()), (g, dict(per_period))
        assert all(total <= g["per_case_limit"] for total in per_case.values()), (g, dict(per_case))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=operations)
async def test_no_sequence_of_grants_uses_and_revocations_breaks_the_chain(cast, database, ops):
    class Undo(Exception):
        pass

    try:
        async with db.write():
            await run_sequence(cast, ops)
            raise Undo()
    except Undo:
        pass


async def run_sequence(cast, ops) -> None:
    today = service.today()
    scope_id, _code = await make_scope(cast)
    root = await service.create_grant(cast.actor("admin"), {
        "grantee_id": cast.ids["ceo"], "parent_id": None, "scope_id": scope_id, "per_case_limit": 1000, "budget": 1000,
        "period": "quarter", "valid_from": today - timedelta(days=150), "valid_until": today + timedelta(days=150),
        "may_redelegate": True, "goal_id": None, "note": ""})
    grants = [root]
    for op in ops:
        try:
            if op[0] == "grant":
                _kind, index, pick, per_case, budget, period, start, end, redelegate = op
                parent = grants[index % len(grants)]
                holder = (await AuthorityGrant.select(AuthorityGrant.grantee).where(AuthorityGrant.id == parent).first().run())["grantee"]
                role = next(k for k, v in cast.ids.items() if v == holder)
                team = TEAM.get(role, ("employee",))
                who = team[pick % len(team)]
                grants.append(await service.create_grant(cast.actor(role), {
                    "grantee_id": cast.ids[who], "parent_id": parent, "scope_id": None, "per_case_limit": per_case,
                    "budget": budget, "period": period, "valid_from": today + timedelta(days=start),
                    "valid_until": today + timedelta(days=end), "may_redelegate": redelegate, "goal_id": None, "note": ""}))
            elif op[0] == "use":
                # Used by the holder of one of the grants made so far (or someone without one).
                _kind, index, amount, case, back = op
                holder = (await AuthorityGrant.select(AuthorityGrant.grantee).where(
                    AuthorityGrant.id == grants[index % len(grants)]).first().run())["grantee"]
                who = next(k for k, v in cast.ids.items() if v == holder) if index < 8 else "outsider"
                await service.record_use(cast.actor(who), grantee_id=cast.ids[who], scope_id=scope_id, amount=amount,
                                         case_ref=case, used_on=today - timedelta(days=back))
            else:
                grant = grants[op[1] % len(grants)]
                if grant != root:
                    await service.revoke_grant(cast.actor("admin"), grant)
        except (FormInvalid, DomainError, Forbidden, NotFound):
            pass  # refused: the invariants must hold all the same  # refused: the invariants must hold all the same
        await check_invariants(scope_id)



# --- with changes to grants ----------------------------------------------------------------------

edit_op = st.tuples(st.just("edit"), st.integers(0, 9), st.integers(20, 1200), st.integers(20, 1200), st.integers(-5, 200),
                    st.booleans())
operations_with_edits = st.lists(st.one_of(grant_op, grant_op, use_op, use_op, use_op, edit_op, edit_op, revoke_op),
                                 min_size=10, max_size=50)


async def check_grants(scope_id: int) -> None:
    """No grant in force outgrows or outlives its grantor's; a revoked grant's are revoked too.
    (A grant that ended keeps the figures it ended with: changes flow only to grants in force.)"""
    grants = {g["id"]: g for g in await AuthorityGrant.select().where(AuthorityGrant.scope == scope_id).run()}
    for g in grants.values():
        parent = grants.get(g["parent"])
        if parent is None:
            continue
        if parent["revoked_at"] is not None:
            assert g["revoked_at"] is not None
        if g["revoked_at"] is not None:
            continue
        assert g["per_case_limit"] <= parent["per_case_limit"] and g["budget"] <= parent["budget"], (g, parent)
        assert g["per_case_limit"] <= g["budget"]
        assert g["valid_from"] >= parent["valid_from"]
        if parent["valid_until"] is not None:
            assert g["valid_until"] is not None and g["valid_until"] <= parent["valid_until"], (g, parent)


async def check_use(scope_id: int, use_id: int) -> None:
    """The use just recorded leaves every grant up its chain within its per-case limit for the
    case and its budget for the period, as those limits stand now (after any change)."""
    use = await AuthorityUse.select().where(AuthorityUse.id == use_id).first().run()
    uses = await AuthorityUse.select().where(AuthorityUse.scope == scope_id).run()
    chain = await AuthorityGrant.select().where(AuthorityGrant.id.is_in(service.chain_ids(use["grant_path"]))).run()
    for g in chain:
        below = [u for u in uses if u["grant_path"].startswith(g["path"])]
        assert g["revoked_at"] is None and service.valid_on(g, use["used_on"])
        on_case = sum(u["amount"] for u in below if u["case_ref"] == use["case_ref"])
        start = service.period_start(use["used_on"], g["period"])
        in_period = sum(u["amount"] for u in below if service.period_start(u["used_on"], g["period"]) == start)
        assert on_case <= g["per_case_limit"], (g, on_case)
        assert in_period <= g["budget"], (g, in_period)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=operations_with_edits)
async def test_changing_grants_never_lets_a_grant_outgrow_its_grantors_nor_a_use_overspend(cast, database, ops):
    class Undo(Exception):
        pass

    try:
        async with db.write():
            await run_sequence_with_edits(cast, ops)
            raise Undo()
    except Undo:
        pass


async def run_sequence_with_edits(cast, ops) -> None:
    today = service.today()
    scope_id, _code = await make_scope(cast)
    root = await service.create_grant(cast.actor("admin"), {
        "grantee_id": cast.ids["ceo"], "parent_id": None, "scope_id": scope_id, "per_case_limit": 1000, "budget": 1000,
        "period": "quarter", "valid_from": today - timedelta(days=150), "valid_until": today + timedelta(days=150),
        "may_redelegate": True, "goal_id": None, "note": ""})
    grants = [root]

    async def holder_of(grant_id: int) -> str:
        row = await AuthorityGrant.select(AuthorityGrant.grantee).where(AuthorityGrant.id == grant_id).first().run()
        return next(k for k, v in cast.ids.items() if v == row["grantee"])

    for op in ops:
        try:
            if op[0] == "grant":
                _kind, index, pick, per_case, budget, period, start, end, redelegate = op
                parent = grants[index % len(grants)]
                role = await holder_of(parent)
                team = TEAM.get(role, ("employee",))
                grants.append(await service.create_grant(cast.actor(role), {
                    "grantee_id": cast.ids[team[pick % len(team)]], "parent_id": parent, "scope_id": None,
                    "per_case_limit": per_case, "budget": budget, "period": period, "valid_from": today + timedelta(days=start),
                    "valid_until": today + timedelta(days=end), "may_redelegate": redelegate, "goal_id": None, "note": ""}))
            elif op[0] == "use":
                _kind, index, amount, case, back = op
                who = await holder_of(grants[index % len(grants)])
                result = await service.record_use(cast.actor(who), grantee_id=cast.ids[who], scope_id=scope_id, amount=amount,
                                                  case_ref=case, used_on=today - timedelta(days=back))
                await check_use(scope_id, result.use_id)
            elif op[0] == "edit":
                _kind, index, per_case, budget, end, by_admin = op
                grant_id = grants[index % len(grants)]
                grant = await AuthorityGrant.select().where(AuthorityGrant.id == grant_id).first().run()
                # The grantor changes it (or an admin); root grants only admins.
                editor = "admin" if by_admin or grant["parent"] is None else await holder_of(grant["parent"])
                await service.update_grant(cast.actor(editor), grant_id, {
                    "per_case_limit": per_case, "budget": budget, "valid_from": grant["valid_from"],
                    "valid_until": today + timedelta(days=end), "goal_id": None, "note": "changed"})
            else:
                grant = grants[op[1] % len(grants)]
                if grant != root:
                    await service.revoke_grant(cast.actor("admin"), grant)
        except (FormInvalid, DomainError, Forbidden, NotFound):
            pass  # refused: the invariants must hold all the same
        await check_grants(scope_id)
