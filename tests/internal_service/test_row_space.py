"""The faster decision keeps the guarantee: on random universes larger than the exact-rational
tests' (test_disclosure), no hidden figure lies in the row space of the shown ones, checked with
numpy's rank (0/1 rows over at most a few hundred atoms: exact enough in floating point)."""

from __future__ import annotations

import numpy as np
import pytest

from servicechain.internal_service.disclosure import Atom, Universe

K = 4
MONTHS = ["2026-04", "2026-06", "2026-07", "2026-08", "2026-09"]
WINDOW = MONTHS[2:]


def random_universe(seed: int) -> Universe:
    rng = np.random.default_rng(seed)
    # one company, 2-4 divisions, 1-4 departments in each
    parents: dict[int, int | None] = {1: None}
    for _d in range(int(rng.integers(2, 5))):
        division = len(parents) + 1
        parents[division] = 1
        for _t in range(int(rng.integers(1, 5))):
            parents[len(parents) + 1] = division
    departments = list(parents)
    atoms, seen = [], set()
    for _i in range(int(rng.integers(40, 120))):
        rater, provider = (int(x) for x in rng.choice(departments, 2))
        key = (rater, provider, provider * 10 + int(rng.integers(0, 2)), str(rng.choice(MONTHS)), int(rng.integers(0, 3)))
        if key in seen:
            continue
        seen.add(key)
        # mostly small rows, some large: people of the rater department, some rating twice
        people = sorted(int(p) for p in rng.choice(np.arange(rater * 100, rater * 100 + 12),
                                                   int(rng.choice([1, 1, 2, 2, 3, 5, 8])), replace=False))
        n = len(people) + int(rng.integers(0, 2))
        score = int(rng.integers(1, 6))
        atoms.append(Atom(*key, n, (score * n,) * 5, len(people), "," + ",".join(map(str, people)) + ","))
    return Universe(parents, atoms, K, window=WINDOW, trend=MONTHS, rounds=[1, 2],
                    quarters={m: i // 3 for i, m in enumerate(WINDOW)})


@pytest.mark.parametrize("seed", range(30))
def test_no_hidden_figure_is_in_the_row_space_of_the_shown_ones(seed):
    u = random_universe(seed)
    keys = u.figure_keys()
    rows = np.zeros((len(keys), u.size))
    for i, key in enumerate(keys):
        rows[i, u.vector(key)] = 1.0
    hidden = np.asarray([key in u.hidden for key in keys])
    shown = rows[~hidden]
    assert hidden.any() or not any(0 < u._people[i] < K for i in range(len(keys)))
    # An orthonormal basis of the shown rows' span (SVD); a hidden row in the span would have
    # no part outside it.
    if len(shown):
        _u, sv, vt = np.linalg.svd(shown, full_matrices=False)
        basis = vt[sv > sv.max() * max(shown.shape) * np.finfo(float).eps]
    else:
        basis = np.zeros((0, u.size))
    for row in rows[hidden]:
        outside = row - (basis @ row) @ basis
        assert np.linalg.norm(outside) > 1e-6, "a hidden figure is a sum of shown ones"
    for i in np.flatnonzero(~hidden):
        assert u._people[i] >= K, "a shown figure stands for at least the minimum"
