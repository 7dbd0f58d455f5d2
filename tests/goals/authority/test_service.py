"""Delegated authority without HTTP, each test inside a rolled-back transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest

from servicechain.goals.authority import service
from servicechain.goals.authority.tables import AuthorityGrant, AuthorityUse
from servicechain.platform.security import Forbidden, NotFound
from servicechain.platform.i18n import format_money as money
from servicechain.platform.tables import AuditEntry
from servicechain.platform.web import DomainError, FormInvalid
from tests.goals.authority.helpers import grant_values, make_chain, make_scope

pytestmark = pytest.mark.usefixtures("rollback")


async def last_seq() -> int:
    row = await AuditEntry.select(AuditEntry.seq).order_by(AuditEntry.seq, ascending=False).first().run()
    return row["seq"] if row else 0


async def use(cast, chain, amount, case="C-1", who="employee", **kw):
    return await service.record_use(cast.actor(who), grantee_id=cast.ids[who], scope_id=chain.scope_id, amount=amount,
                                    case_ref=case, **kw)


# --- grants --------------------------------------------------------------------------------------


async def test_a_grant_above_the_grantors_limit_budget_or_validity_is_refused_with_each_reason(cast):
    chain = await make_chain(cast)
    count = await AuthorityGrant.count().run()
    values = grant_values(cast.ids["employee"], chain.manager, 1_500_000, 6_000_000,
                          valid_until=service.today() + timedelta(days=9999), valid_from=service.today() - timedelta(days=9999))
    with pytest.raises(FormInvalid) as caught:
        await service.create_grant(cast.actor("manager"), values)
    errors = caught.value.errors
    assert f"Above the grantor's own per-case limit of {money(1_000_000)}." in errors["per_case_limit"]
    assert f"Above the grantor's own budget of {money(5_000_000)}." in errors["budget"]
    assert errors["valid_from"][0].startswith("The grantor's grant starts on")
    assert errors["valid_until"][0].startswith("The grantor's grant ends on")
    assert await AuthorityGrant.count().run() == count


async def test_a_quarterly_budget_cannot_hang_from_a_monthly_one(cast):
    chain = await make_chain(cast)
    with pytest.raises(FormInvalid) as caught:
        await service.create_grant(cast.actor("manager"), grant_values(cast.ids["employee"], chain.manager, 100, 1000, period="quarter"))
    assert "period" in caught.value.errors


async def test_only_the_holder_may_hand_on_a_grant_and_only_if_it_allows(cast):
    chain = await make_chain(cast)
    with pytest.raises(NotFound):  # not the manager's grant
        await service.create_grant(cast.actor("ceo"), grant_values(cast.ids["employee"], chain.manager, 100, 1000))
    with pytest.raises(Forbidden):  # employees do not grant
        await service.create_grant(cast.actor("employee"), grant_values(cast.ids["outsider"], chain.employee, 100, 1000))
    with pytest.raises(FormInvalid) as caught:  # outside the manager's team
        await service.create_grant(cast.actor("manager"), grant_values(cast.ids["outsider"], chain.manager, 100, 1000))
    assert caught.value.errors == {"grantee_id": ["Choose someone in your team."]}


async def test_root_grants_are_set_by_admins_for_executives_one_per_scope(cast):
    scope_id, _code = await make_scope(cast)
    with pytest.raises(Forbidden):
        await service.create_grant(cast.actor("ceo"), grant_values(cast.ids["ceo"], None, 100, 1000, scope_id=scope_id))
    with pytest.raises(FormInvalid):
        await service.create_grant(cast.actor("admin"), grant_values(cast.ids["manager"], None, 100, 1000, scope_id=scope_id))
    await service.create_grant(cast.actor("admin"), grant_values(cast.ids["ceo"], None, 100, 1000, scope_id=scope_id))
    with pytest.raises(FormInvalid) as caught:
        await service.create_grant(cast.actor("admin"), grant_values(cast.ids["ceo"], None, 100, 1000, scope_id=scope_id))
    assert "scope_id" in caught.value.errors


async def test_revoking_a_grant_ends_every_grant_delegated_from_it(cast):
    chain = await make_chain(cast)
    seq = await last_seq()
    assert await service.revoke_grant(cast.actor("ceo"), chain.manager) == 2
    rows = await AuthorityGrant.select(AuthorityGrant.id, AuthorityGrant.revoked_at).where(
        AuthorityGrant.id.is_in([chain.root, chain.manager, chain.employee])).run()
    assert {r["id"] for r in rows if r["revoked_at"] is not None} == {chain.manager, chain.employee}
    entries = await AuditEntry.select().where(AuditEntry.seq > seq).run()
    assert [e["action"] for e in entries] == ["authority.revoked"]
    with pytest.raises(DomainError):
        await service.revoke_grant(cast.actor("ceo"), chain.manager)
    with pytest.raises(Forbidden):  # the holder cannot revoke their own
        await service.revoke_grant(cast.actor("employee"), chain.employee)


# --- uses ----------------------------------------------------------------------------------------


async def test_a_use_consumes_its_grant_and_every_grant_above(cast):
    chain = await make_chain(cast)
    result = await use(cast, chain, 300_000)
    assert result.grant_id == chain.employee and result.remaining_budget == 3_700_000
    items = {i["grant"]["id"]: i for i in await service.authority_of(cast.ids["manager"])}
    assert items[chain.manager]["remaining_budget"] == 4_700_000
    items = {i["grant"]["id"]: i for i in await service.authority_of(cast.ids["ceo"])}
    assert items[chain.root]["remaining_budget"] == 9_700_000


async def test_over_the_per_case_limit_says_which_limit_and_what_remains_and_records_nothing(cast):
    chain = await make_chain(cast)
    await use(cast, chain, 300_000, case="C-7")
    seq = await last_seq()
    uses = await AuthorityUse.count().run()
    with pytest.raises(service.UseRefused) as caught:
        await use(cast, chain, 250_000, case="C-7")
    assert caught.value.message == (
        f"Refused: {money(250_000)} is over the per-case limit of the grant held by Ёлкин Иван ({money(500_000)} per case);"
        f" {money(200_000)} remains for case C-7.")
    assert await AuthorityUse.count().run() == uses
    entries = await AuditEntry.select().where(AuditEntry.seq > seq).run()
    assert [e["action"] for e in entries] == ["authority.use_refused"]
    items = await service.authority_of(cast.ids["employee"], case_ref="C-7")
    mine = [i for i in items if i["grant"]["id"] == chain.employee][0]
    assert mine["remaining_for_case"] == 200_000 and mine["remaining_budget"] == 3_700_000


async def test_the_per_case_limit_above_counts_the_uses_of_everyone_below(cast):
    chain = await make_chain(cast, manager=(600_000, 5_000_000))
    await use(cast, chain, 400_000, case="C-9")
    with pytest.raises(service.UseRefused) as caught:
        await use(cast, chain, 300_000, case="C-9", who="manager")
    assert (f"per-case limit of the grant held by Марина Руководова ({money(600_000)} per case); {money(200_000)} remains"
            in caught.value.message)


async def test_a_budget_up_the_chain_refuses_even_when_the_own_budget_has_room(cast):
    chain = await make_chain(cast, manager=(1_000_000, 1_000_000), employee=(500_000, 1_000_000))
    await use(cast, chain, 500_000, case="A", who="manager")
    await use(cast, chain, 400_000, case="B")
    with pytest.raises(service.UseRefused) as caught:
        await use(cast, chain, 200_000, case="C")
    assert caught.value.message == (f"Refused: {money(200_000)} is over the monthly budget of the grant held by Марина Руководова"
                                    f" ({money(1_000_000)}); {money(100_000)} remains this month.")
    items = [i for i in await service.authority_of(cast.ids["employee"]) if i["grant"]["id"] == chain.employee]
    assert items[0]["remaining_budget"] == 100_000  # the least left anywhere up the chain


async def test_uses_outside_validity_or_after_revocation_are_refused(cast):
    chain = await make_chain(cast)
    with pytest.raises(service.UseRefused) as caught:
        await use(cast, chain, 100, used_on=service.today() - timedelta(days=500))
    assert "is valid from" in caught.value.message
    await service.revoke_grant(cast.actor("manager"), chain.employee)
    with pytest.raises(service.UseRefused) as caught:
        await use(cast, chain, 100)
    assert caught.value.message == "Refused: the grant held by Ёлкин Иван was revoked."
    with pytest.raises(FormInvalid):
        await use(cast, chain, 0)
    with pytest.raises(FormInvalid):
        await use(cast, chain, 100, used_on=service.today() + timedelta(days=1))


async def test_a_use_goes_to_the_grant_that_allows_it_and_expires_first(cast):
    chain = await make_chain(cast)
    soon = await service.create_grant(cast.actor("manager"), grant_values(
        cast.ids["employee"], chain.manager, 100_000, 200_000, valid_until=service.today() + timedelta(days=10)))
    assert (await use(cast, chain, 50_000, case="X")).grant_id == soon
    assert (await use(cast, chain, 300_000, case="Y")).grant_id == chain.employee  # over the short one's limit


async def test_someone_without_a_grant_is_told_so(cast):
    chain = await make_chain(cast)
    with pytest.raises(service.UseRefused) as caught:
        await use(cast, chain, 100, who="outsider")
    assert caught.value.message == "Refused: Склад Складов holds no authority to Compensate a customer."


async def test_a_retried_request_records_nothing_new_and_another_body_conflicts(cast):
    chain = await make_chain(cast)
    first = await use(cast, chain, 100_000, request_id="r-1", fingerprint="aaa")
    again = await use(cast, chain, 100_000, request_id="r-1", fingerprint="aaa")
    assert again.replayed and again.use_id == first.use_id and again.remaining_budget == first.remaining_budget
    assert await AuthorityUse.count().where(AuthorityUse.request_key == f"p{cast.ids['employee']}:r-1").run() == 1
    with pytest.raises(service.RequestConflict):
        await use(cast, chain, 200_000, request_id="r-1", fingerprint="bbb")


# --- escalation ----------------------------------------------------------------------------------


async def test_an_escalated_case_approved_by_the_grantor_becomes_a_use_of_the_grantors_grant(cast):
    chain = await make_chain(cast)
    request_id = await service.escalate(cast.actor("employee"), scope_id=chain.scope_id, amount=800_000, case_ref="E-1")
    with pytest.raises(NotFound):
        await service.decide_escalation(cast.actor("ceo"), request_id, True)
    use_id = await service.decide_escalation(cast.actor("manager"), request_id, True)
    row = await AuthorityUse.select().where(AuthorityUse.id == use_id).first().run()
    assert row["grant_id"] == chain.manager and row["amount"] == 800_000 and row["escalation_id"] == request_id
    with pytest.raises(DomainError):
        await service.decide_escalation(cast.actor("manager"), request_id, False)


async def test_a_declined_escalation_records_no_use(cast):
    chain = await make_chain(cast)
    uses = await AuthorityUse.count().run()
    request_id = await service.escalate(cast.actor("employee"), scope_id=chain.scope_id, amount=800_000, case_ref="E-2")
    assert await service.decide_escalation(cast.actor("manager"), request_id, False) is None
    assert await AuthorityUse.count().run() == uses


# --- changing a grant ----------------------------------------------------------------------------


def change(grant: dict, **overrides) -> dict:
    values = {k: grant[k] for k in service.CHANGEABLE}
    values.update(overrides)
    return values


async def grant_row(grant_id: int) -> dict:
    return await AuthorityGrant.select().where(AuthorityGrant.id == grant_id).first().run()


async def test_changing_a_grant_above_the_grantors_own_is_refused_and_changes_nothing(cast):
    chain = await make_chain(cast)
    before = await grant_row(chain.employee)
    seq = await last_seq()
    with pytest.raises(FormInvalid) as caught:
        await service.update_grant(cast.actor("manager"), chain.employee, change(
            before, per_case_limit=1_500_000, budget=6_000_000, valid_until=service.today() + timedelta(days=9999)))
    errors = caught.value.errors
    assert errors["per_case_limit"] == [f"Above the grantor's own per-case limit of {money(1_000_000)}."]
    assert errors["budget"] == [f"Above the grantor's own budget of {money(5_000_000)}."]
    assert errors["valid_until"][0].startswith("The grantor's grant ends on")
    assert await grant_row(chain.employee) == before
    assert await last_seq() == seq


async def test_narrowing_a_grant_narrows_every_grant_handed_on_from_it_in_one_audit_entry(cast):
    chain = await make_chain(cast)
    manager = await grant_row(chain.manager)
    seq = await last_seq()
    until = service.today() + timedelta(days=30)
    result = await service.update_grant(cast.actor("ceo"), chain.manager, change(
        manager, per_case_limit=300_000, budget=3_000_000, valid_until=until, note="Quieter season"))
    assert result == {"narrowed": [chain.employee], "ended": []}
    employee = await grant_row(chain.employee)
    assert (employee["per_case_limit"], employee["budget"], employee["valid_until"]) == (300_000, 3_000_000, until)
    assert (await grant_row(chain.manager))["note"] == "Quieter season"
    entries = await AuditEntry.select().where(AuditEntry.seq > seq).run()
    assert [e["action"] for e in entries] == ["authority.grant_changed"]
    assert '"narrowed":[' in entries[0]["payload"] and '"per_case_limit":[1000000,300000]' in entries[0]["payload"]
    # The narrowed limit holds at once.
    with pytest.raises(service.UseRefused) as caught:
        await use(cast, chain, 400_000)
    assert f"({money(300_000)} per case)" in caught.value.message


async def test_widening_within_the_grantors_own_leaves_the_grants_below_alone(cast):
    chain = await make_chain(cast, manager=(600_000, 5_000_000))
    manager = await grant_row(chain.manager)
    assert await service.update_grant(cast.actor("ceo"), chain.manager, change(manager, per_case_limit=1_000_000)) == {
        "narrowed": [], "ended": []}
    assert (await grant_row(chain.employee))["per_case_limit"] == 500_000


async def test_a_budget_below_what_is_spent_this_period_or_an_end_in_the_past_is_refused(cast):
    chain = await make_chain(cast)
    await use(cast, chain, 300_000)
    employee = await grant_row(chain.employee)
    with pytest.raises(FormInvalid) as caught:
        await service.update_grant(cast.actor("manager"), chain.employee, change(
            employee, budget=200_000, per_case_limit=100_000, valid_until=service.today() - timedelta(days=1)))
    assert caught.value.errors["budget"] == [f"{money(300_000)} of this period's budget is spent already; the budget cannot be less."]
    assert caught.value.errors["valid_until"] == ["The end cannot be in the past; to end the grant now, revoke it."]


async def test_only_those_above_a_grant_change_it(cast):
    chain = await make_chain(cast)
    employee = await grant_row(chain.employee)
    with pytest.raises(Forbidden):
        await service.update_grant(cast.actor("employee"), chain.employee, change(employee, note="mine now"))
    with pytest.raises(Forbidden):
        await service.update_grant(cast.actor("manager"), chain.manager, change(await grant_row(chain.manager), budget=1))
    with pytest.raises(NotFound):
        await service.update_grant(cast.actor("outsider"), chain.employee, change(employee, note="x"))
    await service.revoke_grant(cast.actor("manager"), chain.employee)
    with pytest.raises(DomainError):
        await service.update_grant(cast.actor("manager"), chain.employee, change(employee, note="too late"))


async def test_a_grant_serves_a_goal_the_grantor_may_see(cast):
    from tests.goals.helpers import make_cascade

    goals = await make_cascade(cast)
    chain = await make_chain(cast)
    grant_id = await service.create_grant(cast.actor("manager"), {
        **grant_values(cast.ids["employee"], chain.manager, 100_000, 200_000), "goal_id": goals["department"]})
    assert (await grant_row(grant_id))["goal_id"] == goals["department"]
    assert goals["department"] in [g["id"] for g in await service.purpose_choices(cast.actor("manager"))]
    team = [i for i in await service.team_grants(cast.actor("manager")) if i["grant"]["id"] == grant_id]
    assert team[0]["purpose"] == "Faster first replies"
    # A goal the grantor may not open is refused like a wrong choice.
    private = await make_cascade(cast)
    with pytest.raises(FormInvalid) as caught:
        await service.update_grant(cast.actor("ceo"), chain.manager, change(await grant_row(chain.manager), goal_id=999_999))
    assert caught.value.errors == {"goal_id": ["Choose from the list."]}
    assert private["person"] not in [g["id"] for g in await service.purpose_choices(cast.actor("outsider"))]


# --- counted scopes --------------------------------------------------------------------------------


async def test_counted_amounts_take_the_units_plural_form_in_each_language(cast):
    from servicechain.platform import i18n
    from tests.goals.authority.helpers import scope_row

    scope_id, _code = await make_scope(cast, kind="count")
    scope = await scope_row(scope_id)
    assert [service.format_amount(scope, n) for n in (1, 2, 5)] == ["1 item", "2 items", "5 items"]
    with i18n.use_language("ru"):
        assert [service.format_amount(scope, n) for n in (1, 2, 5, 21)] == ["1 товар", "2 товара", "5 товаров", "21 товар"]
