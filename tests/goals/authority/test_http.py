"""Authority pages and the JSON API, over HTTP, in both languages."""

from __future__ import annotations

import html
import itertools

from servicechain.goals.authority import service
from servicechain.goals.authority.tables import AuthorityGrant, AuthorityUse
from servicechain.platform import i18n
from servicechain.platform.accounts.service import create_token
from tests.api.helpers import on_app_loop
from tests.conftest import post_form, text_of
from tests.goals.authority.helpers import make_chain

_names = itertools.count()


async def chain_over_http(client, cast):
    return await on_app_loop(client, make_chain, cast)


async def token(client, cast, scopes="authority:read,authority:use") -> dict:
    raw = await on_app_loop(client, create_token, cast.actor("admin"), f"authority-test-{next(_names)}", scopes)
    return {"Authorization": f"Bearer {raw}"}


async def uses_on(client, case_ref: str) -> int:
    return await on_app_loop(client, AuthorityUse.count().where(AuthorityUse.case_ref == case_ref).run)


# --- pages ---------------------------------------------------------------------------------------


async def test_home_says_what_the_employee_may_do_without_asking(client, cast, as_user):
    await chain_over_http(client, cast)
    await as_user("employee")
    page = text_of((await client.get("/")).text)
    assert "My authority" in page and "per case;" in page and "left this month." in page


async def test_recording_a_use_over_the_limit_re_renders_with_the_limit_and_records_nothing(client, cast, as_user):
    chain = await chain_over_http(client, cast)
    await as_user("employee")
    response = await post_form(client, "/authority/uses", {"scope_id": str(chain.scope_id), "amount": "6 000",
                                                           "case_ref": "WEB-1"}, htmx=True)
    assert response.status_code == 422
    assert "is over the per-case limit of the grant held by Ёлкин Иван" in response.text
    assert await uses_on(client, "WEB-1") == 0
    response = await post_form(client, "/authority/uses", {"scope_id": str(chain.scope_id), "amount": "-5", "case_ref": "WEB-1"})
    assert response.status_code == 422 and "at most two decimals" in response.text
    response = await post_form(client, "/authority/uses", {"scope_id": str(chain.scope_id), "amount": "1500,50",
                                                           "case_ref": "WEB-1", "used_on": "2025/13/45"})
    assert response.status_code == 422 and "Write the date as 31.12.2025 or 2025-12-31." in response.text
    response = await post_form(client, "/authority/uses", {"scope_id": str(chain.scope_id), "amount": "1500,50", "case_ref": "WEB-1"})
    assert response.status_code == 303
    assert await uses_on(client, "WEB-1") == 1


async def test_bad_input_in_russian_is_refused_in_russian_and_records_nothing(client, cast, as_user):
    chain = await chain_over_http(client, cast)
    await as_user("employee")
    await post_form(client, "/language", {"language": "ru", "next": "/"})
    try:
        response = await post_form(client, "/authority/uses", {"scope_id": str(chain.scope_id), "amount": "5",
                                                               "case_ref": "RU-1", "used_on": "31-12-2025"})
        assert response.status_code == 422
        with i18n.use_language("ru"):
            expected = i18n.gettext("Write the date as 31.12.2025 or 2025-12-31.")
        assert expected != "Write the date as 31.12.2025 or 2025-12-31." and expected in response.text
        assert await uses_on(client, "RU-1") == 0
    finally:  # the preference is stored on the person: give the cast back its English
        await post_form(client, "/language", {"language": "en", "next": "/"})


async def test_a_manager_grants_within_their_own_and_sees_the_team(client, cast, as_user):
    chain = await chain_over_http(client, cast)
    await as_user("manager")
    data = {"parent_id": str(chain.manager), "grantee_id": str(cast.ids["employee"]), "per_case_limit": "20000",
            "budget": "1000", "period": "month", "valid_from": "2020-01-01", "valid_until": "01.01.2099"}
    response = await post_form(client, "/authority/grants", data)
    assert response.status_code == 422
    page = html.unescape(text_of(response.text))
    assert "Above the grantor's own per-case limit of" in page and "The grantor's grant starts on" in page
    count = await on_app_loop(client, AuthorityGrant.count().where(AuthorityGrant.parent == chain.manager).run)
    data.update(per_case_limit="100", valid_from=service.today().isoformat(), valid_until=service.today().isoformat())
    assert (await post_form(client, "/authority/grants", data)).status_code == 303
    assert await on_app_loop(client, AuthorityGrant.count().where(AuthorityGrant.parent == chain.manager).run) == count + 1
    team = text_of((await client.get("/authority/team")).text)
    assert "Ёлкин Иван" in team


async def test_an_employee_cannot_grant_nor_see_another_teams_uses(client, cast, as_user):
    chain = await chain_over_http(client, cast)
    await on_app_loop(client, service.record_use, cast.actor("employee"), grantee_id=cast.ids["employee"],
                      scope_id=chain.scope_id, amount=100, case_ref="PRIVATE-LEDGER-1")
    await as_user("outsider")
    assert (await client.get("/authority/grants/new")).status_code == 403
    assert "<td>PRIVATE-LEDGER-1</td>" not in (await client.get("/authority/ledger?case_ref=PRIVATE-LEDGER-1")).text
    await as_user("manager")
    assert "<td>PRIVATE-LEDGER-1</td>" in (await client.get("/authority/ledger?case_ref=PRIVATE-LEDGER-1")).text
    csv = await client.get("/authority/ledger.csv?case_ref=PRIVATE-LEDGER-1")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "PRIVATE-LEDGER-1" in csv.text and ",1.00,RUB," in csv.text


async def test_an_escalation_is_approved_in_one_step_from_the_inbox(client, cast, as_user):
    chain = await chain_over_http(client, cast)
    await as_user("employee")
    response = await post_form(client, "/authority/escalations", {"scope_id": str(chain.scope_id), "amount": "8000",
                                                                  "case_ref": "ESC-WEB-1", "reason": "Lost luggage"})
    assert response.status_code == 303
    await as_user("manager")
    inbox = await client.get("/authority/escalations")
    assert "ESC-WEB-1" in inbox.text
    request_id = await on_app_loop(client, lambda: service.escalations_for(cast.actor("manager")))
    pending = [e for e in request_id["inbox"] if e["case_ref"] == "ESC-WEB-1"][0]
    response = await post_form(client, f"/authority/escalations/{pending['id']}/decide", {"decision": "approve"})
    assert response.status_code == 303
    assert await uses_on(client, "ESC-WEB-1") == 1


async def test_admins_define_scopes_in_both_languages(client, cast, as_user):
    await as_user("admin")
    response = await post_form(client, "/authority/admin/scopes", {"code": "Bad Code", "name_en": "", "name_ru": "", "kind": "money"})
    assert response.status_code == 422 and "Name the scope in both languages." in response.text
    response = await post_form(client, "/authority/admin/scopes", {"code": "gift-http", "name_en": "give a gift",
                                                                    "name_ru": "сделать подарок", "kind": "money"})
    assert response.status_code == 303
    assert "gift-http" in (await client.get("/authority/admin")).text


# --- API -----------------------------------------------------------------------------------------


async def test_api_answers_the_authority_of_an_employee_in_roubles(client, cast):
    chain = await chain_over_http(client, cast)
    headers = await token(client, cast)
    await on_app_loop(client, service.record_use, cast.actor("employee"), grantee_id=cast.ids["employee"],
                      scope_id=chain.scope_id, amount=120_050, case_ref="API-1")
    response = await client.get("/api/v1/authority", params={"employee": "employee@test.local", "case_ref": "API-1"}, headers=headers)
    assert response.status_code == 200
    item = [i for i in response.json()["items"] if i["scope"] == chain.scope_code][0]
    assert item["per_case_limit"] == 5000 and item["remaining_for_case"] == 3799.5 and item["remaining_budget"] == 38799.5
    response = await client.get("/api/v1/authority", params={"employee": "nobody@test.local"}, headers=headers)
    assert response.status_code == 404 and set(response.json()) == {"detail", "errors"}


async def test_api_records_a_use_once_per_request_id(client, cast):
    chain = await chain_over_http(client, cast)
    headers = await token(client, cast)
    body = {"employee": "employee@test.local", "scope": chain.scope_code, "amount": 1000.5, "case_ref": "API-2",
            "request_id": f"req-{chain.scope_code}", "note": "voucher"}
    first = await client.post("/api/v1/authority/uses", json=body, headers=headers)
    assert first.status_code == 201 and first.json()["remaining_budget"] == 38999.5
    again = await client.post("/api/v1/authority/uses", json=body, headers=headers)
    assert again.status_code == 201 and again.json() == first.json()
    assert await uses_on(client, "API-2") == 1
    other = await client.post("/api/v1/authority/uses", json={**body, "amount": 2000}, headers=headers)
    assert other.status_code == 409 and set(other.json()) == {"detail", "errors"}
    # The id is the sender's: reused for another employee it is another body too, not a new use.
    manager = await client.post("/api/v1/authority/uses", json={**body, "employee": "manager@test.local"}, headers=headers)
    assert manager.status_code == 409
    assert await on_app_loop(client, AuthorityUse.count().where(AuthorityUse.request_key.like(f"%:{body['request_id']}")).run) == 1


async def test_api_refuses_with_the_reason_and_rejects_bad_amounts(client, cast):
    chain = await chain_over_http(client, cast)
    headers = await token(client, cast)
    body = {"employee": "employee@test.local", "scope": chain.scope_code, "amount": 6000, "case_ref": "API-3"}
    refused = await client.post("/api/v1/authority/uses", json=body, headers=headers)
    assert refused.status_code == 422
    assert "over the per-case limit" in refused.json()["detail"] and "remains for case API-3" in refused.json()["detail"]
    for amount in (10.005, -1, "ten"):
        bad = await client.post("/api/v1/authority/uses", json={**body, "amount": amount}, headers=headers)
        assert bad.status_code == 422, amount
    unknown = await client.post("/api/v1/authority/uses", json={**body, "scope": "no-such-scope"}, headers=headers)
    assert unknown.status_code == 404
    assert await uses_on(client, "API-3") == 0
    read_only = await token(client, cast, "authority:read")
    assert (await client.post("/api/v1/authority/uses", json=body, headers=read_only)).status_code == 403


async def test_the_openapi_document_describes_the_authority_endpoints(client):
    document = (await client.get("/schema/openapi.json")).json()
    assert "/api/v1/authority" in document["paths"] and "/api/v1/authority/uses" in document["paths"]
    responses = document["paths"]["/api/v1/authority/uses"]["post"]["responses"]
    assert {"201", "404", "409", "422"} <= set(responses)


# --- changing a grant ----------------------------------------------------------------------------


async def test_a_manager_changes_a_grant_from_the_team_page_within_their_own(client, cast, as_user):
    chain = await chain_over_http(client, cast)
    await as_user("manager")
    team = await client.get("/authority/team")
    assert f'href="/authority/grants/{chain.employee}/edit"' in team.text
    form = await client.get(f"/authority/grants/{chain.employee}/edit")
    assert form.status_code == 200 and 'value="5000"' in form.text and 'value="40000"' in form.text
    data = {"per_case_limit": "20 000", "budget": "-5", "valid_from": "2020-01-01", "valid_until": "2099/31/12", "note": ""}
    response = await post_form(client, f"/authority/grants/{chain.employee}/edit", data)
    assert response.status_code == 422
    page = html.unescape(text_of(response.text))
    assert "at most two decimals" in page and "Write the date as 31.12.2025 or 2025-12-31." in page
    data.update(budget="40000", valid_until=(service.today()).isoformat())
    response = await post_form(client, f"/authority/grants/{chain.employee}/edit", data)
    assert response.status_code == 422 and "Above the grantor&#39;s own per-case limit of" in response.text.replace("'", "&#39;")
    grant = await on_app_loop(client, AuthorityGrant.select().where(AuthorityGrant.id == chain.employee).first().run)
    assert grant["per_case_limit"] == 500_000  # nothing changed
    data.update(per_case_limit="2500,50", note="Smaller cases this quarter", valid_from=grant["valid_from"].isoformat())
    response = await post_form(client, f"/authority/grants/{chain.employee}/edit", data)
    assert response.status_code == 303 and response.headers["location"] == "/authority/team"
    grant = await on_app_loop(client, AuthorityGrant.select().where(AuthorityGrant.id == chain.employee).first().run)
    assert grant["per_case_limit"] == 250_050 and grant["note"] == "Smaller cases this quarter"


async def test_changing_a_grant_in_russian_explains_in_russian(client, cast, as_user):
    chain = await chain_over_http(client, cast)
    await as_user("ceo")
    await post_form(client, "/language", {"language": "ru", "next": "/"})
    try:
        form = await client.get(f"/authority/grants/{chain.manager}/edit")
        assert "Изменение полномочия" in form.text and "Из этого полномочия передано дальше 1 полномочие." in text_of(form.text)
        response = await post_form(client, f"/authority/grants/{chain.manager}/edit", {
            "per_case_limit": "десять", "budget": "50000", "valid_from": "2020-01-01", "valid_until": "2099-01-01"})
        assert response.status_code == 422
        with i18n.use_language("ru"):
            expected = i18n.gettext("Enter an amount in roubles above zero, with at most two decimals: 1500 or 1 500,50.")
        assert expected in html.unescape(response.text)
    finally:
        await post_form(client, "/language", {"language": "en", "next": "/"})


async def test_the_grant_form_offers_goals_as_its_purpose(client, cast, as_user):
    from tests.goals.helpers import make_cascade

    goals = await on_app_loop(client, make_cascade, cast)
    chain = await chain_over_http(client, cast)
    await as_user("manager")
    form = await client.get(f"/authority/grants/new?parent={chain.manager}")
    assert f'<option value="{goals["department"]}"' in form.text
    data = {"parent_id": str(chain.manager), "grantee_id": str(cast.ids["employee"]), "per_case_limit": "100",
            "budget": "1000", "period": "month", "valid_from": service.today().isoformat(),
            "valid_until": service.today().isoformat(), "goal_id": str(goals["department"])}
    assert (await post_form(client, "/authority/grants", data)).status_code == 303
    assert "for “Faster first replies”" in html.unescape((await client.get("/authority/team")).text)


async def test_admins_name_a_counted_scopes_unit_in_both_languages(client, cast, as_user):
    await as_user("admin")
    data = {"code": f"deliver-{next(_names)}-http", "name_en": "deliver for free", "name_ru": "доставить бесплатно",
            "kind": "count", "unit": "deliveries", "unit_ru": ""}
    response = await post_form(client, "/authority/admin/scopes", data)
    assert response.status_code == 422
    assert "one and many: delivery|deliveries." in response.text and "in three forms" in response.text
    data.update(unit="delivery|deliveries", unit_ru="доставка | доставки | доставок")
    assert (await post_form(client, "/authority/admin/scopes", data)).status_code == 303
    assert "delivery|deliveries / доставка|доставки|доставок" in (await client.get("/authority/admin")).text
