"""Stored snapshots read by the dashboards: decoded once per process and kept while their id and
checksum hold, a refresh seen at once, memory bounded; and the month the pages show: the last
complete month by default, any stored month on request, the running one as month to date."""

from __future__ import annotations

from datetime import date

import pytest

from servicechain.platform import db, i18n
from servicechain.platform.analytics import dashboards
from servicechain.platform.analytics import snapshot as snapshots
from tests.analytics import dashboard_data as data
from tests.conftest import copied_database

SEP, OCT, NOV = date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)


@pytest.fixture(scope="module")
async def private_db(cast):
    """Snapshots stored here stay out of the other tests' database."""
    async with copied_database("snapshots"):
        yield


@pytest.fixture
async def months(private_db, cast, monkeypatch):
    """September, October and November 2026 stored, November running."""
    async with db.write():
        await db.fetch("DELETE FROM analytics_snapshot")
    stored = {}
    for seed, month in ((3, SEP), (4, OCT), (5, NOV)):
        stored[month] = await snapshots.store(data.build(cast.departments, seed=seed, month=month).panel)
    monkeypatch.setattr(dashboards, "running_month", lambda: NOV)
    snapshots.forget_decoded()
    yield stored
    snapshots.forget_decoded()


@pytest.fixture
def decodes(monkeypatch) -> list[int]:
    """How many times a payload is decoded."""
    calls: list[int] = []
    real = snapshots.decode

    def counted(payload: bytes):
        calls.append(len(payload))
        return real(payload)

    monkeypatch.setattr(snapshots, "decode", counted)
    return calls


def engagement(page) -> float:
    return next(h for h in page["headline"] if h["key"] == "engagement")["value"]


# --- the decoded snapshot kept per process ----------------------------------------------------------


async def test_pages_decode_a_snapshot_once_and_see_a_refresh_at_once(cast, months, decodes):
    ceo = cast.actor("ceo")
    first = await dashboards.company_page(ceo, {})
    again = await dashboards.company_page(ceo, {"sort": "csat"})
    await dashboards.department_page(ceo, cast.departments["support"], {})
    assert len(decodes) == 1 and first["facts"]["month"] == OCT == again["facts"]["month"]

    # A refresh of the month shown stores other bytes: the next view reads them.
    await snapshots.store(data.build(cast.departments, seed=9, month=OCT).panel)
    fresh = await dashboards.company_page(ceo, {})
    assert len(decodes) == 2
    expected = data.build(cast.departments, seed=9, month=OCT).panel.company
    assert engagement(fresh) == pytest.approx(expected.filter(expected["month"] == OCT)["engagement"][0])
    assert engagement(fresh) != pytest.approx(engagement(first))


async def test_another_month_is_decoded_on_its_own_and_kept_beside_the_first(cast, months, decodes):
    ceo = cast.actor("ceo")
    await dashboards.company_page(ceo, {})
    await dashboards.company_page(ceo, {"month": "2026-09"})
    await dashboards.company_page(ceo, {})
    await dashboards.company_page(ceo, {"month": "2026-09"})
    assert len(decodes) == 2


async def test_the_kept_snapshots_are_bounded_by_count_and_by_memory(cast, months, decodes, monkeypatch):
    rows = await snapshots.stored()
    assert [r.month for r in rows] == [SEP, OCT, NOV]
    monkeypatch.setattr(snapshots, "CACHE_ENTRIES", 2)
    for row in rows:
        await snapshots.decoded(row)
    assert [key for key in snapshots._DECODED] == [rows[1].key, rows[2].key]  # the oldest used went first
    await snapshots.decoded(rows[2])
    assert len(decodes) == 3

    # A limit below one panel's size: every view is still served, nothing is kept.
    snapshots.forget_decoded()
    monkeypatch.setattr(snapshots, "CACHE_BYTES", snapshots.panel_bytes(months[OCT].panel) - 1)
    first = await snapshots.decoded(rows[1])
    assert first.panel.frame.equals(months[OCT].panel.frame) and not snapshots._DECODED


async def test_a_damaged_snapshot_is_refused_and_not_kept(cast, months):
    async with db.write():
        await db.fetch("UPDATE analytics_snapshot SET checksum = {} WHERE month = {}", "0" * 64, OCT)
    with pytest.raises(snapshots.SnapshotDamaged, match="checksum"):
        await snapshots.decoded(next(r for r in await snapshots.stored() if r.month == OCT))
    assert not snapshots._DECODED
    page = await dashboards.company_page(cast.actor("ceo"), {})
    assert page["empty"] and page["damaged"]


async def test_views_that_miss_at_once_share_one_decoding(cast, months, decodes):
    import asyncio

    row = next(r for r in await snapshots.stored() if r.month == OCT)
    results = await asyncio.gather(*(snapshots.decoded(row) for _ in range(5)))
    assert len(decodes) == 1 and all(r is results[0] for r in results)


# --- the month shown ---------------------------------------------------------------------------------


def test_the_default_month_is_the_last_complete_one_with_a_snapshot():
    assert dashboards.default_month([SEP, OCT, NOV], NOV) == OCT
    assert dashboards.default_month([SEP, NOV], NOV) == SEP
    assert dashboards.default_month([NOV], NOV) == NOV  # early on, only the running month
    assert dashboards.default_month([], NOV) is None


def test_a_month_parameter_is_read_strictly():
    assert dashboards.parse_params({"month": "2026-10"}).month == OCT
    for text in ("2026-13", "2026-1", "october", "2026-10-01", ""):
        assert dashboards.parse_params({"month": text}).month is None


async def test_the_picker_offers_stored_months_only_newest_first_the_running_one_as_month_to_date(cast, months):
    page = await dashboards.company_page(cast.actor("ceo"), {})
    picker = page["facts"]["picker"]
    assert [o["value"] for o in picker["options"]] == ["2026-11", "2026-10", "2026-09"]
    assert picker["options"][0]["label"] == "November 2026 (month to date)"
    assert [o["selected"] for o in picker["options"]] == [False, True, False]
    assert not page["facts"]["month_to_date"] and picker["missing"] is None

    running = await dashboards.company_page(cast.actor("ceo"), {"month": "2026-11"})
    assert running["facts"]["month"] == NOV and running["facts"]["month_to_date"]

    unknown = await dashboards.company_page(cast.actor("ceo"), {"month": "2025-01"})
    assert unknown["facts"]["month"] == OCT and unknown["facts"]["picker"]["missing"] == "January 2025"


async def test_the_pages_open_on_the_last_complete_month_and_switch_by_the_picker(cast, months, as_user):
    client = await as_user("ceo")
    page = await client.get("/analytics/")
    assert page.status_code == 200
    assert '<option value="2026-10" selected>October 2026</option>' in page.text
    assert "November 2026 (month to date)" in page.text and "Figures for October 2026" in page.text
    assert "month is not over" not in page.text

    running = await client.get("/analytics/?month=2026-11&sort=csat")
    assert running.status_code == 200 and "Figures for November 2026" in running.text
    assert "month is not over" in running.text
    # links to a department stay on the month chosen, and sorting keeps it
    assert f'href="/analytics/departments/{cast.departments["support"]}?month=2026-11"' in running.text
    assert "month=2026-11" in running.text.split('id="departments"', 1)[1].split("</thead>", 1)[0]

    department = await client.get(f"/analytics/departments/{cast.departments['support']}?month=2026-09")
    assert department.status_code == 200 and "Figures for September 2026" in department.text
    assert '<option value="2026-09" selected>' in department.text

    missing = await client.get("/analytics/?month=2024-02")
    assert missing.status_code == 200 and "There are no figures for February 2024; showing October 2026." in missing.text


async def test_the_picker_speaks_russian(cast, months, as_user):
    with i18n.use_language("ru"):
        page = await dashboards.company_page(cast.actor("ceo"), {"month": "2026-11"})
    labels = [o["label"] for o in page["facts"]["picker"]["options"]]
    assert labels[0].startswith("Ноябрь 2026") and "месяц" in labels[0] and labels[1] == "Октябрь 2026"


# --- what the pages derive from a snapshot, kept per process ------------------------------------------


async def test_a_warm_view_builds_nothing_again_and_a_moved_department_is_seen_at_once(cast, months, monkeypatch):
    dashboards.forget_pages()
    built: list[str] = []
    company_body, department_body = dashboards._company_body, dashboards._department_body
    monkeypatch.setattr(dashboards, "_company_body", lambda *a: built.append("company") or company_body(*a))
    monkeypatch.setattr(dashboards, "_department_body", lambda *a: built.append("department") or department_body(*a))
    ceo, support = cast.actor("ceo"), cast.departments["support"]
    first = await dashboards.company_page(ceo, {})
    again = await dashboards.company_page(cast.actor("admin"), {})  # another executive: the same page
    await dashboards.department_page(ceo, support, {})
    await dashboards.department_page(ceo, support, {})
    assert built == ["company", "department"] and again["headline"] == first["headline"]
    await dashboards.company_page(ceo, {"sort": "nps"})  # other choices: another page
    with i18n.use_language("ru"):
        await dashboards.company_page(ceo, {})  # another language
    assert built == ["company", "department", "company", "company"]

    # A department moved in the tree since the snapshot: pages follow today's tree at once.
    warehouse = cast.departments["warehouse"]
    path = (await db.fetch("SELECT path FROM department WHERE id = {}", warehouse))[0]["path"]
    async with db.write():
        await db.fetch("UPDATE department SET path = {} WHERE id = {}", path + "moved/", warehouse)
    try:
        await dashboards.company_page(ceo, {})
        assert built[-1] == "company" and len(built) == 5
    finally:
        async with db.write():
            await db.fetch("UPDATE department SET path = {} WHERE id = {}", path, warehouse)


async def test_kept_pages_are_bounded(cast, months, monkeypatch):
    dashboards.forget_pages()
    monkeypatch.setattr(dashboards, "PAGE_CACHE_ENTRIES", 2)
    for sort in ("csat", "nps", "name"):
        await dashboards.company_page(cast.actor("ceo"), {"sort": sort})
    assert len(dashboards._PAGES) == 2
    monkeypatch.setattr(dashboards, "PAGE_CACHE_BYTES", 1)  # nothing fits: every view is built, none kept
    dashboards.forget_pages()
    page = await dashboards.company_page(cast.actor("ceo"), {})
    assert page["headline"] and not dashboards._PAGES


def test_a_snapshot_stored_when_csat_was_the_mean_shows_no_csat_until_refreshed(cast):
    import io
    import json
    import zipfile

    panel = data.build(cast.departments, month=OCT).panel
    payload = snapshots.encode(panel)
    assert snapshots.decode(payload).frame["csat"].null_count() < panel.frame.height
    old = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(payload)) as source, zipfile.ZipFile(old, "w") as target:
        for name in source.namelist():
            body = source.read(name)
            if name == "meta.json":
                body = json.dumps({**json.loads(body), "format": 1}).encode()
            target.writestr(name, body)
    decoded = snapshots.decode(old.getvalue())
    assert decoded.frame["csat"].null_count() == decoded.frame.height
    assert decoded.company["csat"].null_count() == decoded.company.height
    assert decoded.frame["nps"].equals(panel.frame["nps"])  # everything else as stored
