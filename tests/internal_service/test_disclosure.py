"""One suppression decision per period: no hidden figure can be worked out from the shown ones.

The attack covered: an attacker reads **every** figure every page of a period shows (all matrix
levels with their totals, every scorecard's period, trend by month and criteria, every service
breakdown, the index by department and month, the matrix of each round) and solves the linear
system they form, over the rows of the monthly summary (the finest figures there are). A hidden
figure is given back exactly when its row of atoms lies in the span of the shown figures' rows;
the tests check, by exact rank (Gaussian elimination over the rationals), that no hidden figure
does. Atoms that are empty are left out, i.e. the attacker is assumed to know which combinations
have no ratings at all. Counts, sums of scores and criteria's sums are the same rows of the
system with other values, so what holds for the count holds for them.

Not covered here: bounds (counts are whole and positive, scores 1-5), which narrow a hidden
figure without fixing it, and differences between periods (another month's window).
"""

from __future__ import annotations

from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servicechain.internal_service.disclosure import GIVEN, MATRIX, RECEIVED, ROUND, SERVICE, SERVICE_QUARTER, Atom, Universe

K = 5
MONTHS = [f"2026-{m:02d}" for m in range(1, 13)]
WINDOW = MONTHS[6:]
QUARTERS = {m: i // 3 for i, m in enumerate(WINDOW)}


def reduce_basis(vectors: list[dict[int, Fraction]]) -> list[tuple[int, dict[int, Fraction]]]:
    """An echelon basis of the span: (pivot atom, row with 1 at the pivot)."""
    basis: list[tuple[int, dict[int, Fraction]]] = []
    for v in vectors:
        row = _reduce(dict(v), basis)
        if row:
            pivot = min(row)
            scale = row[pivot]
            row = {a: x / scale for a, x in row.items()}
            # keep the basis fully reduced on pivots so later reductions are one pass
            basis = [(p, _eliminate(r, pivot, row)) for p, r in basis]
            basis.append((pivot, row))
    return basis


def _eliminate(row: dict[int, Fraction], pivot: int, by: dict[int, Fraction]) -> dict[int, Fraction]:
    factor = row.get(pivot)
    if not factor:
        return row
    out = dict(row)
    for a, x in by.items():
        y = out.get(a, Fraction(0)) - factor * x
        if y:
            out[a] = y
        else:
            out.pop(a, None)
    return out


def _reduce(row: dict[int, Fraction], basis: list[tuple[int, dict[int, Fraction]]]) -> dict[int, Fraction]:
    for pivot, b in basis:
        row = _eliminate(row, pivot, b)
    return row


def derivable(universe: Universe, shown: list[int], hidden: list[int]) -> list[int]:
    """The hidden figures whose atoms' row is a combination of the shown figures' rows."""
    basis = reduce_basis([{a: Fraction(1) for a in universe.vector(key)} for key in shown])
    return [key for key in hidden if not _reduce({a: Fraction(1) for a in universe.vector(key)}, basis)]


def check(universe: Universe) -> None:
    keys = universe.figure_keys()
    shown = [key for key in keys if key not in universe.hidden]
    hidden = [key for key in keys if key in universe.hidden]
    assert not derivable(universe, shown, hidden)
    # and primary suppression: every shown figure stands for at least K people
    for key in shown:
        assert people(universe, [key]) >= K
    # In every sum with a shown total (the same sums the pages show: a level's row and column,
    # the months of the window, a department's services, a service's quarters) the hidden
    # parts together stand for at least K people, so total − shown parts names no small group.
    for key in shown:
        for _total, parts in universe._equations(key):
            keys = [int(universe._keys[p]) for p in parts]
            assert sorted(a for k_ in keys for a in universe.vector(k_)) == sorted(universe.vector(key)), "a true sum"
            hidden_parts = [k_ for k_ in keys if k_ in universe.hidden]
            if hidden_parts:
                assert people(universe, hidden_parts) >= K
    # A round's figure beside the window's: the rest of the window is not a small group.
    for key in shown:
        kind, x, y, t = universe._decode(key)
        if kind == ROUND and universe._encode(MATRIX, x, y, 0) in universe._index:
            whole = universe._encode(MATRIX, x, y, 0)
            if whole in universe.hidden or set(universe.vector(key)) - set(universe.vector(whole)):
                continue
            rest = set(universe.vector(whole)) - set(universe.vector(key))
            if rest:
                assert len(set().union(*(universe.atoms[a].raters.strip(",").split(",") for a in rest))) >= K


def people(universe: Universe, keys: list[int]) -> int:
    atoms = {a for key in keys for a in universe.vector(key)}
    return len(set().union(*(universe.atoms[a].raters.strip(",").split(",") for a in atoms)))


@st.composite
def company(draw):
    """A random tree (one or two roots, up to three levels) and summary rows over it: rater
    and provider departments, one of three services per provider, a month, a round or none."""
    size = draw(st.integers(3, 10))
    roots = draw(st.integers(1, 2))
    parents: dict[int, int | None] = {}
    for d in range(1, size + 1):
        parents[d] = None if d <= roots else draw(st.integers(1, d - 1))
    # Few months, services and rounds, so figures overlap in many ways; one month before the
    # window (trend only), two in it (one quarter).
    rows = draw(st.lists(st.tuples(st.integers(1, size), st.integers(1, size), st.integers(0, 1),
                                   st.sampled_from(["2026-05", "2026-07", "2026-08"]), st.sampled_from([0, 1, 2]),
                                   st.lists(st.integers(1, 30), min_size=1, max_size=8, unique=True), st.integers(1, 5)),
                         min_size=1, max_size=40))
    atoms, seen = [], set()
    for rater, provider, service, month, rnd, people, score in rows:
        key = (rater, provider, provider * 10 + service, month, rnd)
        if key in seen:
            continue
        seen.add(key)
        n = len(people) + score % 2  # some people rated twice
        atoms.append(Atom(*key, n, (score * n,) * 5, len(people), "," + ",".join(map(str, sorted(people))) + ","))
    return parents, atoms


def universe(parents, atoms, k=K) -> Universe:
    return Universe(parents, atoms, k, window=WINDOW, trend=MONTHS, quarters=QUARTERS, rounds=[1, 2])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(company())
def test_no_hidden_figure_is_a_combination_of_shown_figures(data):
    parents, atoms = data
    check(universe(parents, atoms))


@settings(max_examples=40, deadline=None)
@given(company())
def test_a_round_alone_is_safe_too(data):
    parents, atoms = data
    check(Universe(parents, [a for a in atoms if a.round == 1], K, window=(), rounds=[1], kinds=(ROUND,)))


def test_the_drill_down_case_from_the_note():
    """The gap the last session left. Division B (3) has departments B1 (5), B2 (6) and its own
    service; X (2) and Z (4) rate it. Two people of Z rated B's own service: (Z, B itself) is
    small. Deciding page by page, B's page (raters × B1, B2, B itself) hid (Z, B itself) and, as
    a complement in Z's row, (Z, B1); the top page, where (Z, B) is one cell, decided on its own
    and showed it; and B1's column on B's page showed the column total and (X, B1). So
    (Z, B1) = (all, B1) − (X, B1), and then (Z, B itself) = (Z, B) − (Z, B1) − (Z, B2). Decided
    once, whatever is hidden is hidden on every page, and no combination gives it back."""
    parents = {1: None, 2: 1, 3: 1, 4: 1, 5: 3, 6: 3}
    people = iter(range(1, 1000))

    def row(rater: int, provider: int, service: int, n: int) -> Atom:
        ids = [next(people) for _i in range(n)]
        return Atom(rater, provider, service, "2026-10", 1, n, (4 * n,) * 5, n, "," + ",".join(map(str, ids)) + ",")

    atoms = [row(2, 5, 50, 6), row(2, 6, 60, 7), row(4, 5, 50, 9), row(4, 6, 60, 8), row(4, 3, 30, 2)]
    u = universe(parents, atoms)
    small = u.cell(MATRIX, ("s", 4), ("a", 3))
    assert small.count == 2 and small.hidden
    check(u)
    # What the old pages showed, one level at a time, is no longer all shown together.
    old_leak = [u.cell(MATRIX, ("s", 1), ("s", 5)), u.cell(MATRIX, ("s", 2), ("s", 5)), u.cell(MATRIX, ("s", 4), ("s", 3)),
                u.cell(MATRIX, ("s", 4), ("s", 6))]
    assert any(c.hidden for c in old_leak)


def test_every_kind_of_figure_is_decided_and_read_back():
    parents = {1: None, 2: 1, 3: 1}
    people = ",".join(str(p) for p in range(1, 11))
    atoms = [Atom(2, 3, 30, "2026-10", 1, 10, (40, 41, 42, 43, 44), 10, f",{people},")]
    u = universe(parents, atoms)
    for cell in (u.cell(MATRIX, ("s", 2), ("s", 3)), u.cell(MATRIX, ("s", 1), ("s", 1)), u.cell(GIVEN, None, ("s", 3), month="2026-10"),
                 u.cell(RECEIVED, ("s", 2), None, month="2026-10"), u.cell(SERVICE, service=(3, 30)),
                 u.cell(SERVICE_QUARTER, service=(3, 30), quarter=QUARTERS["2026-10"]), u.cell(ROUND, ("a", 2), ("s", 3), round_id=1)):
        assert (cell.count, cell.sums, cell.hidden) == (10, (40, 41, 42, 43, 44), False)
    assert u.cell(GIVEN, None, ("s", 3), month="2026-09").count == 0


def test_a_lone_small_figure_hides_what_would_give_it_back():
    parents = {1: None, 2: 1, 3: 1, 4: 1}
    big = ",".join(str(p) for p in range(1, 11))
    atoms = [Atom(2, 3, 30, "2026-10", 1, 10, (40,) * 5, 10, f",{big},"),
             Atom(4, 3, 30, "2026-10", 1, 2, (4,) * 5, 2, ",50,51,")]
    u = universe(parents, atoms)
    assert u.cell(MATRIX, ("s", 4), ("s", 3)).hidden
    # (company, 3) minus (2, 3) would be (4, 3): one of them is hidden with it
    assert u.cell(MATRIX, ("s", 1), ("s", 3)).hidden or u.cell(MATRIX, ("s", 2), ("s", 3)).hidden
    check(u)


def _atom(rater: int, provider: int, people: list[int], *, month: str = "2026-10", rnd: int = 1, score: int = 4) -> Atom:
    n = len(people)
    return Atom(rater, provider, provider * 10, month, rnd, n, (score * n,) * 5, n, "," + ",".join(map(str, people)) + ",")


def test_two_small_cells_hidden_together_do_not_give_back_their_sum():
    """Two raters' departments with one person each: each hidden, and each the other's witness
    (one up, one down, the total unchanged). But total − the shown third department would be
    the two people's sum, so the third is hidden too."""
    parents = {1: None, 2: 1, 3: 1, 4: 1, 5: 1}
    atoms = [_atom(2, 5, [1]), _atom(3, 5, [2]), _atom(4, 5, list(range(10, 20)))]
    u = universe(parents, atoms)
    assert u.cell(MATRIX, ("s", 2), ("s", 5)).hidden and u.cell(MATRIX, ("s", 3), ("s", 5)).hidden
    assert u.cell(MATRIX, ("s", 4), ("s", 5)).hidden or u.cell(MATRIX, ("s", 1), ("s", 5)).hidden
    check(u)


def test_a_rounds_figure_beside_the_window_does_not_give_back_the_rest():
    """Six people rated in the round, one more outside it in the same months: the round's
    figure (six) and the window's (seven) are each large enough, but their difference is one
    person's rating, so the round's figure is hidden."""
    parents = {1: None, 2: 1, 3: 1}
    atoms = [_atom(2, 3, list(range(1, 7)), rnd=1), _atom(2, 3, [7], rnd=0, score=1)]
    u = universe(parents, atoms)
    assert not u.cell(MATRIX, ("s", 2), ("s", 3)).hidden
    assert u.cell(ROUND, ("s", 2), ("s", 3), round_id=1).hidden
    check(u)
