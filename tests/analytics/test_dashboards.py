"""The analytics dashboards: what the service gives each role from a snapshot, and the pages."""

from __future__ import annotations

import re

import pytest

from servicechain.platform import i18n
from servicechain.platform.analytics import dashboards
from servicechain.platform.security import Forbidden, NotFound
from tests.analytics import dashboard_data as data
from tests.conftest import post_form, text_of
from tests.reports.helpers import BAD_MONTHS


@pytest.fixture(scope="module")
def snapshot(cast):
    return data.build(cast.departments)


@pytest.fixture
def stored(monkeypatch, snapshot):
    """The pages read this snapshot as the latest one."""

    async def select(asked):
        return snapshot, dashboards.month_picker([snapshot.month], snapshot.month, asked, dashboards.running_month())

    monkeypatch.setattr(dashboards, "_select", select)
    return snapshot


def table_ids(page) -> set[int]:
    return {r["id"] for r in page["table"]["rows"]}


# --- service ------------------------------------------------------------------------------------


async def test_executives_see_the_company_with_changes_and_the_planted_chain(cast, snapshot):
    page = await dashboards.company_page(cast.actor("ceo"), {"all": "1"}, snapshot=snapshot)
    assert not page["empty"] and page["company"]
    engagement = page["headline"][0]
    assert engagement["key"] == "engagement" and engagement["value"] is not None
    assert engagement["vs_month"] and engagement["vs_year"]
    company_row = snapshot.panel.company.filter(snapshot.panel.company["month"] == data.MONTH).to_dicts()[0]
    assert engagement["value"] == pytest.approx(company_row["engagement"])
    assert table_ids(page) >= {cast.departments["warehouse"], *data.team_ids("warehouse"), *data.team_ids("support")}
    linked = {r["id"]: r["linked"] for r in page["table"]["rows"]}
    assert linked[cast.departments["warehouse"]] and not linked[data.team_ids("warehouse")[0]]  # removed since: no page
    # engagement moves CSAT two months later in the made-up data; the chain finds it
    pairs = [(c["pair"].people, c["pair"].customer, c["pair"].lag) for c in page["chain"]["cards"]]
    assert ("engagement", "csat", 2) in pairs
    card = next(c for c in page["chain"]["cards"] if (c["pair"].people, c["pair"].customer) == ("engagement", "csat"))
    words = " ".join(card["sentences"])
    assert "2 months later" in words and "higher" in words and "comparisons" in words
    assert not re.search(r"\b(causes?|because|drives|leads to)\b", words)
    assert "<svg" in str(card["chart"]) and 'class="fit"' in str(card["chart"])


async def test_managers_see_their_subtree_only(cast, snapshot):
    page = await dashboards.company_page(cast.actor("manager"), {"all": "1"}, snapshot=snapshot)
    assert not page["company"] and page["focus_name"] == "Customer support"
    support = {cast.departments["support"], cast.departments["support.line1"], *data.team_ids("support")}
    assert table_ids(page) == support
    support_row = snapshot.panel.frame.filter(
        (snapshot.panel.frame["department_id"] == cast.departments["support"])
        & (snapshot.panel.frame["month"] == data.MONTH)).to_dicts()[0]
    assert page["headline"][0]["value"] == pytest.approx(support_row["engagement"])
    movers = {m["id"] for m in page["movers"]["better_list"] + page["movers"]["worse_list"]}
    assert movers <= support
    followers = {f["department_id"] for c in page["chain"]["cards"] for f in c["followers"]}
    assert followers <= support
    # six units under support: too few to compare departments with each other
    explorer = page["chain"]["explorer"]
    assert page["chain"]["units"] <= 6
    across = dashboards.find_pair(dashboards.chain_result(await dashboards.load_context(cast.actor("manager"), snapshot),
                                                          dashboards._units_in_scope(await dashboards.load_context(cast.actor("manager"), snapshot))),
                                  "engagement", "csat", 2, "across")
    assert across.too_small
    assert "too few to say anything" in " ".join(dashboards.describe_pair(across, None, 10))
    assert explorer is not None


async def test_employees_have_no_analytics(cast, snapshot):
    with pytest.raises(Forbidden):
        await dashboards.company_page(cast.actor("employee"), {}, snapshot=snapshot)


async def test_a_manager_cannot_open_another_subtree(cast, snapshot):
    manager = cast.actor("manager")
    with pytest.raises(Forbidden):
        await dashboards.department_page(manager, cast.departments["warehouse"], {}, snapshot=snapshot)
    with pytest.raises(Forbidden):
        await dashboards.department_page(manager, cast.departments["company"], {}, snapshot=snapshot)
    with pytest.raises(NotFound):
        await dashboards.department_page(manager, 99_999_999, {}, snapshot=snapshot)
    own = await dashboards.department_page(manager, cast.departments["support"], {}, snapshot=snapshot)
    assert {r["id"] for r in own["table"]["rows"]} == {cast.departments["support.line1"], *data.team_ids("support")}


async def test_small_departments_show_no_people_side_figures(cast, snapshot):
    page = await dashboards.department_page(cast.actor("hr"), cast.departments["support.line1"], {}, snapshot=snapshot)
    engagement = next(h for h in page["headline"] if h["key"] == "engagement")
    assert engagement["value"] is None and engagement["why"] == "hidden" and engagement["display"] == "—"
    assert page["hidden_note"]
    csat = next(h for h in page["headline"] if h["key"] == "csat")
    assert csat["value"] == pytest.approx(4.0) and csat["why"] is None
    company = await dashboards.company_page(cast.actor("hr"), {"all": "1"}, snapshot=snapshot)
    hidden = next(r for r in company["table"]["rows"] if r["id"] == data.HIDDEN_TEAM)
    assert [c["why"] for c in hidden["people"][:2]] == ["hidden", "hidden"]
    assert "hidden" not in [c["why"] for c in hidden["customer"]]


def test_a_department_without_people_has_no_hidden_figure_only_none():
    """The report's rule too (metrics.hidden): nobody to answer is no figure, not a hidden one."""
    empty = {"headcount": 0, "engagement": None, "csat": None}
    assert dashboards.figure(empty, "engagement", True)["why"] == "none"
    assert dashboards.figure(None, "engagement", True)["why"] == "none"  # no row that month
    assert dashboards.figure({**empty, "headcount": 3}, "engagement", True)["why"] == "hidden"
    assert dashboards.figure({**empty, "headcount": 3}, "engagement", False)["why"] == "none"  # no pulse
    assert dashboards.figure({**empty, "headcount": 3}, "csat", True)["why"] == "none"  # not a survey figure


async def test_the_table_sorts_by_a_column_with_missing_figures_last(cast, snapshot):
    page = await dashboards.company_page(cast.actor("ceo"), {"sort": "engagement", "order": "desc"}, snapshot=snapshot)
    values = [next(c["value"] for c in r["people"] if c["key"] == "engagement") for r in page["table"]["rows"]]
    known = [v for v in values if v is not None]
    assert known == sorted(known, reverse=True) and values[len(known):] == [None] * (len(values) - len(known))
    column = next(c for c in page["table"]["columns"]["people"] if c["key"] == "engagement")
    assert column["active"] and "order=asc" in column["href"]
    ascending = await dashboards.company_page(cast.actor("ceo"), {"sort": "engagement", "order": "asc"}, snapshot=snapshot)
    values = [next(c["value"] for c in r["people"] if c["key"] == "engagement") for r in ascending["table"]["rows"]]
    assert [v for v in values if v is not None] == sorted(known)


async def test_the_company_table_shows_three_levels_until_asked_for_all(cast, snapshot):
    page = await dashboards.company_page(cast.actor("ceo"), {"sort": "nonsense", "lag": "9", "people": "x"}, snapshot=snapshot)
    assert page["params"].sort is None and page["params"].lag is None
    assert all(r["depth"] < dashboards.TABLE_LEVELS for r in page["table"]["rows"])


async def test_no_snapshot_is_an_empty_state(cast, monkeypatch):
    async def none(asked):
        return None, None

    monkeypatch.setattr(dashboards, "_select", none)
    page = await dashboards.company_page(cast.actor("admin"), {})
    assert page["empty"] and page["may_refresh"]
    page = await dashboards.company_page(cast.actor("manager"), {})
    assert page["empty"] and not page["may_refresh"]


def test_the_wording_says_when_n_is_too_small_and_never_claims_a_cause():
    from servicechain.platform.analytics.chain import Elasticity, PairResult

    small = PairResult("engagement", "csat", 1, "across", 4, 4, None, None, None, None, None, None, False, True)
    assert "Only 4 departments" in " ".join(dashboards.describe_pair(small, None, 896))
    strong = PairResult("engagement", "csat", 2, "within", 240, 12, -0.41, (-0.5, -0.3), -0.4, (-0.5, -0.3), 0.0001,
                        0.002, True, False)
    text = " ".join(dashboards.describe_pair(strong, Elasticity("engagement", "csat", 2, -0.021, (-0.03, -0.01), 240, 12), 896))
    assert "lower" in text and "896 comparisons" in text and "−0.02" in text
    with i18n.use_language("ru"):
        ru = " ".join(dashboards.describe_pair(strong, None, 896))
    assert "через 2 месяца" in ru


# --- pages --------------------------------------------------------------------------------------


async def test_executives_open_the_dashboard_and_the_menu_links_it(client, as_user, stored, cast):
    await as_user("ceo")
    page = await client.get("/analytics/")
    assert page.status_code == 200
    assert 'href="/analytics/"' in page.text and "<svg" in page.text and "The service-profit chain" in page.text
    assert "not proof that one causes the other" in text_of(page.text)
    # user-given names stay text
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<style" not in page.text and " style=" not in page.text  # the CSP allows no inline styles
    drill = await client.get(f"/analytics/departments/{cast.departments['warehouse']}")
    assert drill.status_code == 200 and "Warehouse team 1" in drill.text


async def test_a_manager_cannot_see_another_subtree(client, as_user, stored, cast):
    await as_user("manager")
    page = await client.get("/analytics/?all=1")
    assert page.status_code == 200 and "Support team 1" in page.text
    assert "Warehouse" not in page.text and "Склад" not in page.text
    refused = await client.get(f"/analytics/departments/{cast.departments['warehouse']}")
    assert refused.status_code == 403 and "Warehouse team" not in refused.text
    assert (await client.get(f"/analytics/departments/{data.team_ids('warehouse')[0]}")).status_code == 404
    assert (await client.get(f"/analytics/departments/{cast.departments['support.line1']}")).status_code == 200


async def test_employees_get_403_and_no_menu_entry(client, as_user, stored):
    await as_user("employee")
    assert (await client.get("/analytics/")).status_code == 403
    assert 'href="/analytics/"' not in (await client.get("/")).text


async def test_the_empty_state_tells_an_admin_what_to_run(client, as_user, monkeypatch):
    async def none(asked):
        return None, None

    monkeypatch.setattr(dashboards, "_select", none)
    await as_user("admin")
    page = await client.get("/analytics/")
    assert page.status_code == 200 and "servicechain analytics refresh" in page.text


async def test_switching_the_pair_works_with_and_without_htmx(client, as_user, stored):
    await as_user("hr")
    query = "/analytics/?people=enps&customer=nps&lag=2&view=across"
    full = await client.get(query)
    assert full.status_code == 200 and "<html" in full.text
    assert 'value="enps" selected' in full.text and 'value="2" selected' in full.text
    fragment = await client.get(query, headers={"HX-Request": "true", "HX-Target": "pair-explorer"})
    assert fragment.status_code == 200 and "<html" not in fragment.text and "<svg" in fragment.text
    assert "eNPS → NPS" in fragment.text
    movers = await client.get("/analytics/?movers=csat", headers={"HX-Request": "true", "HX-Target": "movers"})
    assert movers.status_code == 200 and "<html" not in movers.text and "Better: CSAT" in movers.text


async def test_the_page_in_russian(client, as_user, stored):
    await as_user("ceo")
    await post_form(client, "/language", {"language": "ru", "next": "/analytics/"})
    try:
        page = await client.get("/analytics/")
        text = text_of(page.text)
        assert page.status_code == 200
        assert "Аналитика: Вся компания" in text and "Команда поддержки 1" in text and "Служба поддержки" in text
        assert "Цепочка «сервис — прибыль»" in text and "Это связи, а не доказательство" in text
        assert "к прошлому месяцу" in text and "октябрь 2026" in text and "через 2 месяца" in text
    finally:
        await post_form(client, "/language", {"language": "en", "next": "/"})


@pytest.mark.parametrize("text", list(BAD_MONTHS))
async def test_a_month_that_is_not_one_is_named_and_the_default_month_shown(client, as_user, stored, cast, text):
    """The words of the report form and the command line (lib.dates.parse_month), on both pages
    and in the reader's language; the page itself is the default month's."""
    english, russian = BAD_MONTHS[text]
    await as_user("ceo")
    company = await client.get("/analytics/", params={"month": text})
    assert company.status_code == 200 and "Headline figures, October 2026" in company.text
    assert f'role="alert">{english} Showing October 2026.</p>' in company.text
    department = await client.get(f"/analytics/departments/{cast.departments['warehouse']}", params={"month": text})
    assert department.status_code == 200 and english in department.text
    await post_form(client, "/language", {"language": "ru", "next": "/analytics/"})
    try:
        assert f"{russian} Показан октябрь 2026." in (await client.get("/analytics/", params={"month": text})).text
    finally:
        await post_form(client, "/language", {"language": "en", "next": "/"})


async def test_no_month_in_the_address_is_the_default_month_without_a_word(client, as_user, stored):
    await as_user("ceo")
    page = await client.get("/analytics/")
    assert page.status_code == 200 and 'role="alert"' not in page.text and "is not a month" not in page.text
    assert dashboards.asked_month({}) == (None, None)
    assert dashboards.asked_month({"month": "2026-10"}) == (data.MONTH, None)


async def test_the_page_reads_a_snapshot_stored_in_the_database(client, as_user, cast):
    """Through the real store and load (Parquet in the database and back), not a snapshot in memory."""
    from datetime import date

    from servicechain.platform import db
    from servicechain.platform.analytics import snapshot as snapshots

    month = date(2031, 5, 1)  # a month no other test stores; removed again below
    await snapshots.store(data.build(cast.departments, month=month).panel)
    try:
        await as_user("manager")
        page = await client.get("/analytics/?all=1&month=2031-05")
        assert page.status_code == 200 and "May 2031" in page.text and "Support team 3" in page.text
        assert "Warehouse team" not in page.text
    finally:
        async with db.write():
            await db.fetch("DELETE FROM analytics_snapshot WHERE month = {}", month)


async def test_the_department_page_names_who_followed_in_the_chain(cast, snapshot):
    page = await dashboards.department_page(cast.actor("hr"), cast.departments["support"], {}, snapshot=snapshot)
    named = {f["id"] for c in page["chain_here"] for f in c["followers"]}
    assert named and named <= set(data.team_ids("support"))  # only departments below this one
    warehouse = await dashboards.department_page(cast.actor("hr"), cast.departments["warehouse"], {}, snapshot=snapshot)
    assert not {f["id"] for c in warehouse["chain_here"] for f in c["followers"]} & set(data.team_ids("support"))


def test_links_and_forms_keep_the_other_choices():
    params = dashboards.parse_params({"people": "enps", "lag": "1", "sort": "csat", "order": "asc", "movers": "nps"})
    column = next(c for c in dashboards.table_columns(params)["customer"] if c["key"] == "csat")
    assert column["href"] == "?sort=csat&order=desc&people=enps&lag=1&movers=nps"
    assert params.carry("movers") == [("sort", "csat"), ("order", "asc"), ("people", "enps"), ("lag", "1")]
    assert dashboards.parse_params({}).carry() == []  # defaults are not repeated in the address


async def test_a_damaged_snapshot_is_a_message_not_an_error(client, as_user, monkeypatch, cast):
    from servicechain.platform.analytics.snapshot import SnapshotDamaged

    async def damaged(asked):
        raise SnapshotDamaged("the analytics snapshot of 2026-10 does not match its checksum")

    monkeypatch.setattr(dashboards, "_select", damaged)
    await as_user("admin")
    for url in ("/analytics/", f"/analytics/departments/{cast.departments['support']}"):
        page = await client.get(url)
        assert page.status_code == 200 and "does not match its checksum" in page.text
        assert "servicechain analytics refresh" in page.text


async def test_a_manager_who_leads_no_department_sees_no_figures(cast, snapshot):
    from servicechain.platform.security import Actor

    nobody_led = Actor(kind="person", person_id=cast.ids["employee"], role="manager", name="x", language="en")
    page = await dashboards.company_page(nobody_led, {}, snapshot=snapshot)
    assert page["nothing_headed"] and "table" not in page and "headline" not in page
    with pytest.raises(Forbidden):
        await dashboards.department_page(nobody_led, cast.departments["support"], {}, snapshot=snapshot)


async def test_the_explorer_names_followers_of_a_pair_the_chain_did_not_pick(cast, snapshot):
    page = await dashboards.company_page(cast.actor("ceo"), {"people": "engagement", "customer": "csat", "lag": "1"},
                                         snapshot=snapshot)
    assert ("engagement", "csat", 1) not in [(c["pair"].people, c["pair"].customer, c["pair"].lag) for c in page["chain"]["cards"]]
    assert page["chain"]["explorer"]["followers"]
    assert len({(c["pair"].people, c["pair"].customer) for c in page["chain"]["cards"]}) == len(page["chain"]["cards"])


async def test_a_scatter_chart_draws_a_fixed_sample_and_fits_the_line_to_every_point(cast, snapshot, monkeypatch):
    from servicechain.platform.analytics import chain, charts

    fits = []
    real = charts.scatter_chart

    def recorded(points, **kwargs):
        fits.append(kwargs.get("fit"))
        return real(points, **kwargs)

    monkeypatch.setattr(charts, "scatter_chart", recorded)
    monkeypatch.setattr(chain, "SCATTER_POINTS", 40)
    dashboards.forget_pages()
    page = await dashboards.company_page(cast.actor("ceo"), {}, snapshot=snapshot)
    card = page["chain"]["cards"][0]
    assert card["points"] > 40 and str(card["chart"]).count("<circle") == 40
    assert card["sampled"] == f"40 of {card['points']} points drawn, chosen at random; the line fits them all."
    units = dashboards._units_in_scope(await dashboards.load_context(cast.actor("ceo"), snapshot))
    pair = card["pair"]
    assert fits[0] == pytest.approx(chain.fit_line(chain.scatter_points(units, pair.people, pair.customer, pair.lag,
                                                                        pair.view)))
    dashboards.forget_pages()
    again = await dashboards.company_page(cast.actor("ceo"), {}, snapshot=snapshot)
    assert str(again["chain"]["cards"][0]["chart"]) == str(card["chart"])  # the same dots every time
