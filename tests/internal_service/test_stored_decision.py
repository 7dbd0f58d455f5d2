"""A period's suppression decision is kept in the database under a digest of its inputs: a new
process reads it instead of searching again, and any change in the ratings makes a new one."""

from __future__ import annotations


from servicechain.internal_service import disclosure, service
from servicechain.platform import db
from tests.internal_service import helpers as h


def _hidden(made: disclosure.Universe) -> set[int]:
    return set(made.hidden)


async def _decide_as_a_new_process(monkeypatch, *, search_allowed: bool) -> tuple[disclosure.Universe, int]:
    """The decision for today's period with nothing in this process's memory; counts searches."""
    searches = 0
    real = disclosure.Universe._decide

    def counted(self):
        nonlocal searches
        searches += 1
        if not search_allowed:
            raise AssertionError("searched again for inputs whose decision is stored")
        real(self)

    monkeypatch.setattr(disclosure.Universe, "_decide", counted)
    service._decisions.clear()
    tree = await service.Tree.load()
    made = await service.decision(service.today(), await service.min_group(), tree)
    monkeypatch.setattr(disclosure.Universe, "_decide", real)
    return made, searches


async def test_a_new_process_reads_the_stored_decision_and_a_new_rating_makes_another(cast, monkeypatch):
    provider = await h.department("Stored decision provider", cast.departments["company"])
    raters = await h.department("Stored decision raters", cast.departments["company"])
    svc = await h.service(provider, "Stored decision help")
    await h.ratings(svc, [(person, raters, 2) for person in await h.people(raters, 2)])  # a small figure

    first, searches = await _decide_as_a_new_process(monkeypatch, search_allowed=True)
    assert searches == 1
    assert first.hidden, "the small figure is hidden"
    stored = await db.fetch("SELECT COUNT(*) AS n FROM internal_service_decision")
    assert stored[0]["n"] >= 1

    again, searches = await _decide_as_a_new_process(monkeypatch, search_allowed=False)
    assert searches == 0
    assert _hidden(again) == _hidden(first), "the same figures are hidden as when it was decided"

    await h.ratings(svc, [(person, raters, 5) for person in await h.people(raters, 1)])
    changed, searches = await _decide_as_a_new_process(monkeypatch, search_allowed=True)
    assert searches == 1, "other ratings, another digest: decided afresh"


def test_the_digest_follows_every_input():
    atom = disclosure.Atom(1, 2, 3, "2026-10", 0, 4, (16, 16, 16, 16, 16), 4, ",1,2,3,4,")
    base = service._decision_digest({1: None, 2: None}, [atom], 5, {"window": ["2026-10"]})
    assert base == service._decision_digest({1: None, 2: None}, [atom], 5, {"window": ["2026-10"]})
    other_atom = disclosure.Atom(1, 2, 3, "2026-10", 0, 5, (20, 16, 16, 16, 16), 5, ",1,2,3,4,5,")
    for changed in (service._decision_digest({1: None, 2: None}, [other_atom], 5, {"window": ["2026-10"]}),
                    service._decision_digest({1: None, 2: 1}, [atom], 5, {"window": ["2026-10"]}),
                    service._decision_digest({1: None, 2: None}, [atom], 3, {"window": ["2026-10"]}),
                    service._decision_digest({1: None, 2: None}, [atom], 5, {"window": ["2026-09"]})):
        assert changed != base
