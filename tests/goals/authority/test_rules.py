"""Each rule of authority said once: which grants may be used on a day, what is left for a case
and of a budget. What a person may do (the page, the API, the home page), what the use and
escalation forms accept, and whether a use is recorded must agree on every edge."""

from __future__ import annotations

from datetime import timedelta

import pytest

from servicechain.goals.authority import service
from servicechain.platform import db
from servicechain.platform.security import NotFound, utcnow
from servicechain.platform.web import FormInvalid
from tests.api.helpers import on_app_loop
from tests.goals.authority.helpers import grant_values, make_chain
from tests.goals.authority.test_http import chain_over_http, token, uses_on


async def _set_grant(grant_id: int, column: str, value) -> None:
    await db.fetch(f"UPDATE authority_grant SET {column} = {{}} WHERE id = {{}}", value, grant_id)


def _day(days: int):
    return service.today() + timedelta(days=days)


# (what changes, whether the employee's grant may still be used today)
EDGES = {
    "its last day is today": (lambda c: _set_grant(c.employee, "valid_until", _day(0)), True),
    "it ended yesterday": (lambda c: _set_grant(c.employee, "valid_until", _day(-1)), False),
    "it starts tomorrow": (lambda c: _set_grant(c.employee, "valid_from", _day(1)), False),
    "it was revoked": (lambda c: _set_grant(c.employee, "revoked_at", utcnow()), False),
    "the grant above ended yesterday": (lambda c: _set_grant(c.manager, "valid_until", _day(-1)), False),
    "the grant above starts tomorrow": (lambda c: _set_grant(c.manager, "valid_from", _day(1)), False),
    "the grant above was revoked": (lambda c: _set_grant(c.manager, "revoked_at", utcnow()), False),
    "its scope is inactive": (lambda c: db.fetch("UPDATE authority_scope SET active = {} WHERE id = {}", False, c.scope_id),
                              False),
}


@pytest.mark.usefixtures("rollback")
@pytest.mark.parametrize("edge", list(EDGES))
async def test_what_a_person_may_do_the_forms_and_a_use_agree_on_which_grants_are_usable(cast, edge):
    chain = await make_chain(cast)
    change, usable = EDGES[edge]
    await change(chain)
    employee = cast.ids["employee"]
    listed = chain.employee in {i["grant"]["id"] for i in await service.authority_of(employee)}
    with_case = chain.employee in {i["grant"]["id"] for i in await service.authority_of(employee, case_ref="R-1")}
    offered = await service.usable_scope(employee, chain.scope_id) is not None
    try:
        await service.record_use(cast.actor("employee"), grantee_id=employee, scope_id=chain.scope_id, amount=100,
                                 case_ref="R-1")
        recorded = True
    except (service.UseRefused, NotFound):
        recorded = False
    assert (listed, with_case, offered, recorded) == (usable, usable, usable, usable)


@pytest.mark.usefixtures("rollback")
async def test_a_grant_in_an_inactive_scope_cannot_be_handed_on(cast):
    chain = await make_chain(cast)
    await db.fetch("UPDATE authority_scope SET active = {} WHERE id = {}", False, chain.scope_id)
    with pytest.raises(FormInvalid) as refused:
        await service.create_grant(cast.actor("manager"), grant_values(cast.ids["employee"], chain.manager, 100, 1000))
    assert "parent_id" in refused.value.errors


@pytest.mark.usefixtures("rollback")
async def test_what_is_left_for_a_case_and_of_the_budget_is_what_a_use_may_take(cast):
    """The per-case sum counts the uses of everyone below a grant, and the budget left is the
    least up the chain, the same for what a person is told and for the check of a use."""
    chain = await make_chain(cast)  # per case: manager 10 000 ₽, employee 5 000 ₽
    employee = cast.ids["employee"]
    await service.record_use(cast.actor("manager"), grantee_id=cast.ids["manager"], scope_id=chain.scope_id,
                             amount=700_000, case_ref="R-CASE")
    await service.record_use(cast.actor("employee"), grantee_id=employee, scope_id=chain.scope_id, amount=100_000,
                             case_ref="R-CASE")

    async def told() -> dict:
        return next(i for i in await service.authority_of(employee, case_ref="R-CASE") if i["grant"]["id"] == chain.employee)

    # The employee's grant has 400 000 left for the case, the manager's 1 000 000 - 800 000.
    assert (await told())["remaining_for_case"] == 200_000
    with pytest.raises(service.UseRefused):
        await service.record_use(cast.actor("employee"), grantee_id=employee, scope_id=chain.scope_id, amount=200_001,
                                 case_ref="R-CASE")
    result = await service.record_use(cast.actor("employee"), grantee_id=employee, scope_id=chain.scope_id,
                                      amount=200_000, case_ref="R-CASE")
    after = await told()
    assert after["remaining_for_case"] == 0
    # The least budget left up the chain: the employee's 40 000 ₽ less her 3 000 ₽ (the manager's
    # 50 000 ₽ less 10 000 ₽ is more).
    assert result.remaining_budget == after["remaining_budget"] == 4_000_000 - 300_000


@pytest.mark.usefixtures("rollback")
async def test_scopes_are_shaped_alike_on_both_engines(cast):
    chain = await make_chain(cast)
    scope = await service.active_scope(f"  {chain.scope_code} ")
    assert scope is not None and scope["id"] == chain.scope_id and scope["active"] is True
    grant = (await service.authority_of(cast.ids["employee"]))[0]["grant"]
    assert (await service.scope_of_grant(grant))["active"] is True
    await db.fetch("UPDATE authority_scope SET active = {} WHERE id = {}", False, chain.scope_id)
    assert await service.active_scope(chain.scope_code) is None
    assert (await service.scope_of_grant({"scope": chain.scope_id}))["active"] is False


async def test_the_api_treats_an_inactive_scope_as_unknown_and_lists_no_authority_in_it(client, cast):
    chain = await chain_over_http(client, cast)
    headers = await token(client, cast)
    body = {"employee": "employee@test.local", "scope": chain.scope_code, "amount": 10, "case_ref": "R-API-1"}
    listed = await client.get("/api/v1/authority", params={"employee": "employee@test.local"}, headers=headers)
    assert chain.scope_code in {i["scope"] for i in listed.json()["items"]}
    await on_app_loop(client, db.fetch, "UPDATE authority_scope SET active = {} WHERE id = {}", False, chain.scope_id)
    refused = await client.post("/api/v1/authority/uses", json=body, headers=headers)
    assert refused.status_code == 404 and refused.json()["detail"] == "No scope has this code."
    listed = await client.get("/api/v1/authority", params={"employee": "employee@test.local", "case_ref": "R-API-1"},
                              headers=headers)
    assert listed.status_code == 200 and chain.scope_code not in {i["scope"] for i in listed.json()["items"]}
    assert await uses_on(client, "R-API-1") == 0


@pytest.mark.usefixtures("rollback")
async def test_the_budget_left_is_exactly_what_a_use_may_take(cast):
    chain = await make_chain(cast, employee=(500_000, 600_000))  # 5 000 ₽ per case, 6 000 ₽ a month
    employee = cast.ids["employee"]
    await service.record_use(cast.actor("employee"), grantee_id=employee, scope_id=chain.scope_id, amount=400_000,
                             case_ref="R-B1")
    left = next(i for i in await service.authority_of(employee) if i["grant"]["id"] == chain.employee)["remaining_budget"]
    assert left == 200_000
    with pytest.raises(service.UseRefused, match="monthly budget"):
        await service.record_use(cast.actor("employee"), grantee_id=employee, scope_id=chain.scope_id, amount=left + 1,
                                 case_ref="R-B2")
    result = await service.record_use(cast.actor("employee"), grantee_id=employee, scope_id=chain.scope_id, amount=left,
                                      case_ref="R-B2")
    assert result.remaining_budget == 0


@pytest.mark.usefixtures("rollback")
async def test_a_root_grant_needs_an_active_scope(cast):
    chain = await make_chain(cast)
    await service.revoke_grant(cast.actor("admin"), chain.root)
    await db.fetch("UPDATE authority_scope SET active = {} WHERE id = {}", False, chain.scope_id)
    with pytest.raises(FormInvalid) as refused:
        await service.create_grant(cast.actor("admin"), grant_values(cast.ids["ceo"], None, 100, 1000, scope_id=chain.scope_id))
    assert "scope_id" in refused.value.errors


def test_a_grant_is_refused_exactly_where_narrowing_would_cut_it():
    """"Within the grantor's" is one rule: a field draws an error when, and only when, cutting the
    grant to its grantor's (what narrowing does to the grants below) would change it."""
    from datetime import date
    from itertools import product

    parent = {"per_case_limit": 100, "budget": 1000, "period": "month", "valid_from": date(2026, 1, 1),
              "valid_until": date(2026, 12, 31), "scope_row": {"kind": "money"}}
    open_parent = {**parent, "valid_until": None}
    checked = {"per_case_limit": "per-case limit", "budget": "budget of", "valid_from": "starts on",
               "valid_until": "ends on"}
    for above, per_case, budget, start, until in product(
            (parent, open_parent), (99, 100, 101), (999, 1000, 1001), (date(2025, 12, 31), date(2026, 1, 1), date(2026, 1, 2)),
            (None, date(2026, 12, 30), date(2026, 12, 31), date(2027, 1, 1))):
        values = {"per_case_limit": per_case, "budget": budget, "period": "month", "valid_from": start, "valid_until": until}
        errors = service._grant_errors(values, above)
        cut = service._within(values, above)
        for field, words in checked.items():
            refused = any(words in message for message in errors.get(field, []))
            assert refused == (cut[field] != values[field]), (field, values, above, errors)
        # What narrowing leaves is never refused against the grantor's.
        narrowed = {**values, **cut, "valid_until": cut["valid_until"] or date(2026, 6, 30)}
        narrowed["per_case_limit"] = min(narrowed["per_case_limit"], narrowed["budget"])
        assert not service._grant_errors(narrowed, above), (narrowed, above)


@pytest.mark.usefixtures("rollback")
@pytest.mark.parametrize("ceo_until_days, approver", [(100, "manager"), (350, "ceo")])
async def test_an_escalation_goes_to_the_grantor_of_the_usable_grant_that_expires_last(cast, ceo_until_days, approver):
    from servicechain.goals.authority.tables import EscalationRequest

    chain = await make_chain(cast)  # the manager's grant to the employee runs 300 days from today
    await service.create_grant(cast.actor("ceo"), grant_values(cast.ids["employee"], chain.root, 1000, 10_000,
                                                               valid_until=_day(ceo_until_days)))
    request_id = await service.escalate(cast.actor("employee"), scope_id=chain.scope_id, amount=800_000, case_ref="R-E1")
    request = await EscalationRequest.select().where(EscalationRequest.id == request_id).first().run()
    assert request["approver"] == cast.ids[approver]
    # A grant that may not be used is nobody's to ask: the manager's, revoked, leaves the ceo's.
    await service.revoke_grant(cast.actor("manager"), chain.employee)
    request_id = await service.escalate(cast.actor("employee"), scope_id=chain.scope_id, amount=800_000, case_ref="R-E2")
    assert (await EscalationRequest.select().where(EscalationRequest.id == request_id).first().run())["approver"] == cast.ids["ceo"]
