"""Customer scores without HTTP: resolving the team of the day, follow-ups, the figures."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from servicechain.platform import db
from servicechain.platform.customers import metrics, service
from servicechain.platform.customers.tables import CustomerScore, ScoreFollowUp
from servicechain.platform.people.service import today
from servicechain.platform.tables import AuditEntry, Notification
from servicechain.platform.web import DomainError, FormInvalid
from tests.customers import helpers as h


async def _score(source: str, external_id: str) -> dict:
    return await CustomerScore.select().where((CustomerScore.source == source)
                                              & (CustomerScore.external_id == external_id)).first().run()


async def _follow_up(score_id: int) -> dict | None:
    return await ScoreFollowUp.select().where(ScoreFollowUp.score == score_id).first().run()


async def test_a_score_keeps_the_team_and_manager_of_its_day_after_a_transfer(cast, rollback):
    old_team = await h.department("Old team", cast.departments["support"])
    new_team = await h.department("New team", cast.departments["support"], head=cast.ids["ceo"])
    moved_on = today() - timedelta(days=10)
    agent = await h.person(new_team["id"], cast.ids["ceo"],
                           history=[(old_team["id"], cast.ids["manager"], today() - timedelta(days=300), moved_on)])
    source = f"transfer-{h.tag()}"
    counts = await h.save([
        h.item("before", employee=agent["number"], department=None, csat="2", given_on=(moved_on - timedelta(days=3)).isoformat()),
        h.item("after", employee=agent["number"], department=None, csat="2", given_on=(moved_on + timedelta(days=3)).isoformat()),
    ], source=source)
    assert counts == {"received": 2, "created": 2, "skipped": 0, "follow_ups": 2}
    before, after = await _score(source, "before"), await _score(source, "after")
    assert (before["department"], before["employee"]) == (old_team["id"], agent["id"])
    assert after["department"] == new_team["id"]
    # The follow-up goes to the manager the employee had that day.
    assert (await _follow_up(before["id"]))["assignee"] == cast.ids["manager"]
    assert (await _follow_up(after["id"]))["assignee"] == cast.ids["ceo"]
    # A later reorganisation does not move the stored score.
    await db.fetch("UPDATE person SET department = {} WHERE id = {}", cast.departments["warehouse"], agent["id"])
    assert (await _score(source, "before"))["department"] == old_team["id"]


async def test_low_scores_open_follow_ups_for_the_head_when_no_employee_is_named(cast, rollback):
    source = f"low-{h.tag()}"
    await h.save([
        h.item("csat3", csat="3"), h.item("csat4", csat="4"), h.item("bad", csat="bad"),
        h.item("nps6", csat=None, nps="6"), h.item("nps7", csat=None, nps="7"),
        h.item("old", csat="1", given_on=(today() - timedelta(days=service.FOLLOW_UP_WINDOW_DAYS + 5)).isoformat()),
    ], source=source)
    opened = {e: await _follow_up((await _score(source, e))["id"]) for e in ("csat3", "csat4", "bad", "nps6", "nps7", "old")}
    assert {e for e, f in opened.items() if f} == {"csat3", "bad", "nps6"}
    # support.line1 has no head: the head of support above it (the manager) follows it up, due in 24 hours.
    follow_up = opened["csat3"]
    assert follow_up["assignee"] == cast.ids["manager"] and follow_up["status"] == "open"
    assert timedelta(hours=23) < follow_up["due_at"] - follow_up["created_at"] <= timedelta(hours=24)
    # A history load stores old low scores as low without a follow-up nobody could act on.
    assert (await _score(source, "old"))["low"] is True


async def test_one_audit_entry_per_batch_with_counts_and_checksum(cast, rollback):
    before = await AuditEntry.count().where(AuditEntry.action == "scores.batch").run()
    checksum = "ab" * 32
    await service.save_batch(cast.actor("hr"), [h.item(f"a{i}") for i in range(30)], source=f"audit-{h.tag()}",
                             checksum=checksum, via="test")
    entries = await AuditEntry.select().where(AuditEntry.action == "scores.batch").order_by(AuditEntry.seq, ascending=False).run()
    assert len(entries) == before + 1
    payload = entries[0]["payload"]
    payload = json.loads(payload) if isinstance(payload, str) else payload
    assert payload["sha256"] == checksum and payload["created"] == 30 and payload["received"] == 30


async def test_a_replay_is_skipped_and_changed_content_is_refused_naming_the_item(cast, rollback):
    source = f"replay-{h.tag()}"
    batch = [h.item("r1", csat="5", comment="Great"), h.item("r2", csat="4")]
    assert (await h.save(batch, source))["created"] == 2
    assert await h.save(batch, source) == {"received": 2, "created": 0, "skipped": 2, "follow_ups": 0}
    with pytest.raises(service.ScoresRefused) as refused:
        await h.save([h.item("r1", csat="1", comment="Great"), h.item("r3")], source)
    assert refused.value.status == 409
    assert refused.value.problems == [(0, "external_id", service.conflict_message("r1"))]
    # The same external id from another source is another score.
    assert (await h.save([h.item("r1", csat="1")], source + "-other"))["created"] == 1


@pytest.mark.parametrize(("values", "field", "message"), [
    ({"csat": "6"}, "csat", "CSAT “6” is out of range: give 1 to 5, or good/bad."),
    ({"csat": None, "nps": "11"}, "nps", "NPS “11” is out of range: give a whole number from 0 to 10."),
    ({"given_on": "31.02.2025"}, "given_on", "“31.02.2025” is not a date we can read (use 31.12.2025 or 2025-12-31)."),
    ({"department": "Nowhere"}, "department", "There is no department “Nowhere”."),
    ({"channel": "fax"}, "channel", "“fax” is not a channel; use one of: phone, chat, email, courier, store."),
    ({"csat": None}, "csat", "Give a CSAT or an NPS score."),
    ({"employee": "nobody@test.local", "department": None}, "employee",
     "There is no employee “nobody@test.local” (give the employee number or the email)."),
])
async def test_bad_values_are_named_by_field(cast, values, field, message):
    directory = await service.Directory.load()
    parsed, problems = service.parse_score(h.item("x", **values), directory, "test", today())
    assert parsed is None and (field, message) in problems


async def test_departments_match_by_code_name_or_path_in_either_language(cast):
    directory = await service.Directory.load()
    line1 = cast.departments["support.line1"]
    for ref in ("support.line1", "SUPPORT.LINE1", "First line", "первая линия", "Customer support / First line",
                "Компания / Служба поддержки / Первая линия"):
        assert directory.department(ref) == line1, ref
    assert directory.department("Warehouse / First line").startswith("There is no department")


async def test_figures_by_department_and_month(cast, rollback):
    team = await h.department("Figures team", cast.departments["support"])
    day = today().replace(day=1)
    items = [h.item(f"f{i}", department=team["code"], given_on=day.isoformat(), csat=c, nps=n)
             for i, (c, n) in enumerate([("5", "10"), ("4", "9"), ("3", "7"), ("good", "0"), ("bad", None)])]
    await h.save(items, source=f"figures-{h.tag()}")
    rows = await metrics.department_months(day, today(), department_ids=[team["id"]])
    assert len(rows) == 1
    row = rows[0]
    assert row["month"] == day and row["n"] == 5 and row["csat_n"] == 5
    assert row["csat_pct"] == 60.0  # 5, 4 and good of five
    assert row["nps"] == 25.0  # two promoters, one detractor of four
    assert row["low_share"] == 0.6 and row["follow_ups"] == 3 and row["closed_loop_rate"] == 0.0
    follow_up = await db.fetch("SELECT f.id FROM customer_follow_up f JOIN customer_score s ON s.id = f.score"
                               " WHERE s.department = {} ORDER BY f.id LIMIT 1", team["id"])
    await service.close_follow_up(cast.actor("manager"), follow_up[0]["id"], {"outcome": "called_back"})
    row = (await metrics.department_months(day, today(), department_ids=[team["id"]]))[0]
    assert row["closed"] == 1 and row["closed_loop_rate"] == round(1 / 3, 4) and row["median_close_hours"] is not None
    assert metrics.totals(rows)["n"] == 5


async def test_scores_by_case_for_comparing_authority_uses(cast, rollback):
    case = f"HD-{h.tag()}"
    await h.save([h.item("c1", case_ref=case, csat="2"), h.item("c2", case_ref=case, csat="5", nps="9")],
                 source=f"case-{h.tag()}")
    found = await metrics.scores_by_case([case, "HD-none"])
    assert [s["csat"] for s in found[case]] == [2, 5] and found[case][0]["low"] is True and "HD-none" not in found


async def test_closing_a_follow_up_needs_an_outcome_and_happens_once(cast, rollback):
    await h.save([h.item("close", csat="1")], source=(source := f"close-{h.tag()}"))
    follow_up = await _follow_up((await _score(source, "close"))["id"])
    with pytest.raises(FormInvalid) as invalid:
        await service.close_follow_up(cast.actor("manager"), follow_up["id"], {"outcome": "forgot"})
    assert invalid.value.errors == {"outcome": ["Choose what was done."]}
    with pytest.raises(FormInvalid) as invalid:
        await service.close_follow_up(cast.actor("manager"), follow_up["id"], {"outcome": "compensated"})
    assert "authority_use" in invalid.value.errors
    await service.close_follow_up(cast.actor("manager"), follow_up["id"], {"outcome": "resolved", "note": "Sent a new order"})
    row = await ScoreFollowUp.select().where(ScoreFollowUp.id == follow_up["id"]).first().run()
    assert (row["status"], row["outcome"], row["closed_by"]) == ("closed", "resolved", cast.ids["manager"])
    with pytest.raises(DomainError):
        await service.close_follow_up(cast.actor("manager"), follow_up["id"], {"outcome": "resolved"})


async def test_a_compensated_follow_up_links_an_authority_use_on_the_same_case(cast, rollback):
    from tests.goals.authority.helpers import make_chain

    chain = await make_chain(cast)
    case = f"HD-{h.tag()}"
    await h.save([h.item("comp", csat="1", case_ref=case, employee="employee@test.local", department=None)],
                 source=(source := f"comp-{h.tag()}"))
    follow_up = await _follow_up((await _score(source, "comp"))["id"])
    assert follow_up["assignee"] == cast.ids["manager"]
    detail = await service.follow_up_detail(cast.actor("manager"), follow_up["id"])
    assert detail["authority"], "the manager's remaining authority for the case is shown"
    scope = detail["authority"][0]["scope"]
    use_id = await service.compensate(cast.actor("manager"), follow_up["id"], {"scope_id": str(scope["id"]),
                                                                             "amount": "100", "action": "Refund"})
    row = await ScoreFollowUp.select().where(ScoreFollowUp.id == follow_up["id"]).first().run()
    assert (row["status"], row["outcome"], row["authority_use"]) == ("closed", "compensated", use_id)
    use = await db.fetch("SELECT case_ref, grantee FROM authority_use WHERE id = {}", use_id)
    assert use[0] == {"case_ref": case, "grantee": cast.ids["manager"]}
    assert chain is not None


async def test_a_use_on_another_case_cannot_be_linked(cast, rollback):
    from tests.goals.authority.helpers import make_chain

    from servicechain.goals.authority import service as authority

    chain = await make_chain(cast)
    await h.save([h.item("other", csat="2", case_ref=f"HD-{h.tag()}")], source=(source := f"other-{h.tag()}"))
    follow_up = await _follow_up((await _score(source, "other"))["id"])
    elsewhere = await authority.record_use(cast.actor("manager"), grantee_id=cast.ids["manager"], scope_id=chain.scope_id,
                                           amount=10_000, case_ref=f"HD-elsewhere-{h.tag()}")
    uses = [{"id": elsewhere.use_id}]
    with pytest.raises(FormInvalid) as invalid:
        await service.close_follow_up(cast.actor("manager"), follow_up["id"],
                                      {"outcome": "compensated", "authority_use": str(uses[0]["id"])})
    assert invalid.value.errors == {"authority_use": ["That use of authority is not on this case."]}


async def test_reassigning_hands_the_follow_up_to_a_colleague_and_tells_them(cast, rollback):
    await h.save([h.item("hand", csat="2")], source=(source := f"hand-{h.tag()}"))
    follow_up = await _follow_up((await _score(source, "hand"))["id"])
    with pytest.raises(FormInvalid):
        await service.reassign_follow_up(cast.actor("manager"), follow_up["id"], "999999")
    await service.reassign_follow_up(cast.actor("manager"), follow_up["id"], str(cast.ids["employee"]))
    row = await ScoreFollowUp.select().where(ScoreFollowUp.id == follow_up["id"]).first().run()
    assert row["assignee"] == cast.ids["employee"]
    assert await Notification.exists().where((Notification.person == cast.ids["employee"])
                                             & (Notification.link == f"/customers/follow-ups/{follow_up['id']}")).run()
    # Now the employee acts on it; the outsider still may not see it.
    detail = await service.follow_up_detail(cast.actor("employee"), follow_up["id"])
    assert detail["follow_up"]["_acts"] is True
    from servicechain.platform.security import NotFound

    with pytest.raises(NotFound):
        await service.follow_up_detail(cast.actor("outsider"), follow_up["id"])


async def test_overdue_follow_ups_stand_out_and_remind_their_assignee_once(cast, rollback):
    await h.save([h.item("late", csat="2")], source=(source := f"late-{h.tag()}"))
    follow_up = await _follow_up((await _score(source, "late"))["id"])
    await db.fetch("UPDATE customer_follow_up SET due_at = {} WHERE id = {}",
                   follow_up["due_at"] - timedelta(hours=30), follow_up["id"])
    listed = await service.follow_ups_for(cast.actor("manager"), status="overdue")
    assert follow_up["id"] in [r["id"] for r in listed["rows"]] and listed["overdue"] >= 1
    assert all(r["overdue"] for r in listed["rows"])
    first = await service.remind_overdue()
    assert first >= 1
    assert await service.remind_overdue() == 0
    assert await Notification.exists().where((Notification.person == cast.ids["manager"])
                                             & (Notification.link == "/customers/follow-ups?status=overdue")).run()
