"""What the pages show, read as an attacker would: every page of a period together.

A random company (seeded; a few examples) is rated over two months, partly in a round. Then
every page is rendered through the service functions: the matrix at every pair of levels (rater
node × provider node, each with its totals), the round's matrix at every pair of levels, every
department's scorecard (period, criteria, trend by month, services and their quarters) and the
index of every department (given and received, period and months). Each figure a page shows or
hides is turned into its row of summary rows (the finest figures there are) from its definition
alone — the department groups, months, round and service it is about — not from the decision.

Checked: every shown figure's count and mean are the sums of its rows (pages show true figures);
no hidden figure's row is a combination of the shown figures' rows (exact rank over the
rationals), so no subtraction of totals, drill-downs, months, services or rounds gives back a
hidden count or sum (mean × count); and every shown figure stands for at least the minimum
people. Only figures inside the test's own part of the tree are read (the company's totals hold
other tests' ratings), which gives the attacker fewer figures, never more.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from fractions import Fraction

import pytest

from servicechain.internal_service import service
from servicechain.internal_service.tables import MonthlySummary, RatingRound
from servicechain.platform import db
from servicechain.platform.lib.dates import months_back
from servicechain.platform.people.service import today
from servicechain.platform.security import utcnow
from tests.internal_service import helpers as h
from tests.internal_service.test_disclosure import _reduce, reduce_basis

K = 5


async def _company(cast, seed: int) -> dict:
    rng = random.Random(seed)
    root = await h.department(f"Pages {seed}", cast.departments["company"])
    divisions = [await h.department(f"D{i}", root) for i in range(2)]
    leaves = [await h.department(f"L{i}.{j}", d) for i, d in enumerate(divisions) for j in range(2)]
    everyone = [*divisions, *leaves]
    people = {d: await h.people(d, rng.randint(2, 7)) for d in everyone}
    services = [await h.service(p, f"S{p}") for p in rng.sample(everyone, 3)]
    services.append(await h.service(services and (await _provider(services[0])), "Second"))
    on = today()
    async with db.write():
        row = RatingRound(title="Pages round", opens_on=on - timedelta(days=2), closes_on=on + timedelta(days=5),
                          min_group_size=K, created_at=utcnow())
        await row.save().run()
    last_month = on.replace(day=1) - timedelta(days=3)
    for svc in services:
        provider = await _provider(svc)
        for d, ids in people.items():
            if d == provider or rng.random() < 0.3:
                continue
            chosen = rng.sample(ids, rng.randint(1, len(ids)))
            when = rng.choice([on, last_month])
            in_round = when == on and rng.random() < 0.6
            await h.ratings(svc, [(p, d, rng.randint(1, 5)) for p in chosen], on=when,
                            round_id=row.id if in_round else None)
    return {"root": root, "departments": [root, *everyone], "services": services, "round": row.id}


async def _provider(service_id: int) -> int:
    return (await db.fetch("SELECT provider FROM internal_service WHERE id = {}", service_id))[0]["provider"]


class Reader:
    """Turns a page's figure into its set of summary rows, from its definition."""

    def __init__(self, rows: list[dict], tree: service.Tree, mine: set[int]) -> None:
        self.rows, self.tree, self.mine = rows, tree, mine
        self.shown: list[tuple[str, frozenset[int]]] = []
        self.hidden: list[tuple[str, frozenset[int]]] = []

    def members(self, group: tuple) -> set[int] | None:
        if group[0] == "all" or group[1] not in self.mine:
            return None  # outside the test's part of the tree
        if group[0] == "a":
            return {group[1]}
        path = self.tree.rows[group[1]]["path"]
        return {d for d, r in self.tree.rows.items() if r["path"].startswith(path)}

    def add(self, name: str, cell: dict, *, raters: set[int] | None = None, providers: set[int] | None = None,
            months: set[str] | None = None, round_id: int | None = None, service_id: int | None = None) -> None:
        atoms = frozenset(i for i, r in enumerate(self.rows)
                          if (raters is None or r["rater_department"] in raters)
                          and (providers is None or r["provider_department"] in providers)
                          and (months is None or str(r["month"])[:7] in months)
                          and (round_id is None or r["round"] == round_id)
                          and (service_id is None or r["service"] == service_id))
        if cell["hidden"]:
            self.hidden.append((name, atoms))
            return
        count = sum(self.rows[i]["ratings"] for i in atoms)
        assert (cell["count"] or 0) == count, name
        if count and cell.get("mean") is not None:
            assert cell["mean"] == pytest.approx(sum(self.rows[i]["overall"] for i in atoms) / count), name
        if count:
            people = set().union(*({p for p in self.rows[i]["raters"].split(",") if p} for i in atoms))
            assert len(people) >= K, name
        self.shown.append((name, atoms))


@pytest.mark.parametrize("seed", [3, 11, 29])
async def test_no_page_gives_back_what_another_hides(cast, rollback, seed):
    made = await _company(cast, seed)
    hr = cast.actor("hr")
    tree = await service.Tree.load()
    mine = {d for d in tree.rows if tree.rows[d]["path"].startswith(tree.rows[made["root"]]["path"])}
    rows = await MonthlySummary.select().where(MonthlySummary.rater_department.is_in(list(mine))).run()
    window = set(months_back(today(), service.WINDOW_MONTHS))
    trend = months_back(today(), service.TREND_MONTHS)
    reader = Reader(rows, tree, mine)
    nodes = [d for d in made["departments"] if tree.children.get(d)]
    for round_id in (None, made["round"]):
        for r_node in nodes:
            for p_node in nodes:
                m = await service.matrix(hr, r_node, p_node, round_id=round_id)
                r_total, p_total = ("s", r_node), ("s", p_node)
                where = {"months": window} if round_id is None else {"round_id": round_id}
                for row in m["rows"]:
                    for col, cell in zip(m["cols"], row["cells"], strict=True):
                        reader.add(f"{round_id} {row['key']}×{col['key']}", cell, raters=reader.members(row["key"]),
                                   providers=reader.members(col["key"]), **where)
                    reader.add(f"{round_id} {row['key']}×total", row["total"], raters=reader.members(row["key"]),
                               providers=reader.members(p_total), **where)
                for col, cell in zip(m["cols"], m["totals"], strict=True):
                    reader.add(f"{round_id} total×{col['key']}", cell, raters=reader.members(r_total),
                               providers=reader.members(col["key"]), **where)
                reader.add(f"{round_id} grand", m["grand"], raters=reader.members(r_total),
                           providers=reader.members(p_total), **where)
    # Raters of the test's providers are all the test's people: "all raters" is the test's part.
    for d in made["departments"]:
        group = reader.members(("s", d))
        card = await service.scorecard(hr, d)
        reader.add(f"card {d}", card["period"], providers=group, months=window)
        for point in card["trend"]:
            reader.add(f"card {d} {point['month']}", point, providers=group, months={point["month"]})
        quarters = [sorted(window)[i:i + 3] for i in range(0, 12, 3)]
        for entry in card["services"]:
            reader.add(f"service {entry['id']}", entry, months=window, service_id=entry["id"])
            for q, months in zip(entry["quarters"], quarters, strict=True):
                reader.add(f"service {entry['id']} {months[0]}", q, months=set(months), service_id=entry["id"])
    index = await service.service_index(made["departments"])
    for d, entry in index.items():
        group = reader.members(("s", d))
        for side, where in (("given", {"providers": group}), ("received", {"raters": group})):
            as_cell = lambda e: {"hidden": e["suppressed"], "count": e["ratings"], "mean": None}  # noqa: E731
            reader.add(f"index {side} {d}", as_cell(entry[side]), months=window, **where)
            for month in entry["months"]:
                reader.add(f"index {side} {d} {month['month']}", as_cell(month[side]), months={month["month"]}, **where)
    assert len(trend) == 24 and reader.hidden, "the example hides something"
    basis = reduce_basis([{a: Fraction(1) for a in atoms} for _name, atoms in reader.shown])
    given_back = [name for name, atoms in reader.hidden if atoms and not _reduce({a: Fraction(1) for a in atoms}, basis)]
    assert not given_back
