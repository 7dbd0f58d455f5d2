"""One suppression decision for every figure the internal service pages can show for a period.

**Why one decision.** Every figure is a sum of *atoms*: the rows of the monthly summary (one
rater department, one providing department and service, one month, one round). A page shows
some sums; an attacker who reads every page of a period knows every shown sum and can solve
the linear system they form (a total minus its shown cells, a department minus its months, a
drill-down page minus the page above, the scorecard minus the service breakdown …). Deciding
page by page cannot see the equations that join pages, so a figure hidden as a complement on
one page came back as a total on the next. Here every figure any page can show for a period is
decided at once, and pages only read the decision.

**The figures of a period** (a *universe*, :class:`Universe`): for rater groups ``gr`` and
provider groups ``gp`` — a department with everything below it ``("s", d)``, a department's own
people or own services ``("a", d)`` (only for departments with sub-departments; a leaf's own
group is its subtree) and, with several roots, ``("all",)`` —

- ``MATRIX (gr, gp)``: the 12 months of the window (every matrix level, its row and column
  totals, the scorecard's and the index's period figures);
- ``GIVEN (gp, month)`` and ``RECEIVED (gr, month)``: all raters of a provider group in a month
  (the scorecard trend and its criteria, the index by month), all providers of a rater group in
  a month (the index by month), for every month of the two-year trend;
- ``SERVICE (service)`` and ``SERVICE_QUARTER (service, quarter)``: a service's window and its
  quarters (the scorecard's service breakdown);
- ``ROUND (gr, gp, round)``: the matrix filtered to one round (every round whose ratings lie in
  the universe's months).

**The rule** (primary, then a *witness* per hidden figure). A figure with some, but fewer than
``k``, distinct raters is hidden. For each such figure ``f`` a perturbation ``v`` of the atoms is
chosen — e.g. ``+1`` on an atom of ``f``, ``-1`` on a neighbouring atom outside ``f`` with the
same service, month and round (a *pair*), or ``+1 -1 -1 +1`` on four atoms forming a rectangle
of two rater departments × two services in one month and round — and **every** figure whose
value ``v`` changes is hidden too. Then every shown figure has the same value for the atoms
``x`` and ``x + t·v`` (any ``t``), while ``f`` does not: ``f`` is not a linear function of the
shown figures, whatever combination of pages an attacker reads. A figure hidden because some
``v`` changed it is protected by that same ``v``, so no further round is needed, and hiding
more never breaks a witness (the shown figures only become fewer): the decision is a fixed
point by construction. Counts, sums of scores (mean × count) and the criteria's sums are
protected alike, as they are the same sums of atoms with other weights. Among candidate
witnesses the one that hides the fewest still-shown figures is taken; a single atom (hide
every figure containing it) always works, so every small figure gets one.

Known limits: figures of different periods (another month's window, a live period read twice)
are different universes, so their differences over time are protected by the minimum of each
figure, not jointly; a round whose ratings lie wholly before the universe's months is its own
universe (its atoms are disjoint from this one's).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

MATRIX, GIVEN, RECEIVED, SERVICE, SERVICE_QUARTER, ROUND = range(6)
SUMS = ("overall", "speed", "quality", "courtesy", "willingness")
ALL = ("all",)


@dataclass(frozen=True)
class Atom:
    """One summary row: ``provider`` and ``service`` together are the provider side's finest
    group (a service keeps the department it had on the day of each rating)."""

    rater: int
    provider: int
    service: int
    month: str  # "2026-11"
    round: int  # 0: rated by request, outside rounds
    count: int
    sums: tuple[int, int, int, int, int]  # in SUMS order
    people: int
    raters: str  # ",12,40,": the distinct people behind the row


@dataclass
class Cell:
    """A decided figure: ratings, sums of the five scores, and whether pages may show it."""

    count: int = 0
    sums: tuple[int, ...] = (0, 0, 0, 0, 0)
    hidden: bool = False
    people: int = 0  # exact when under the minimum; otherwise at least the minimum

    @property
    def total(self) -> int:
        return self.sums[0]

    @property
    def mean(self) -> float | None:
        return self.sums[0] / self.count if self.count else None

    def criterion(self, position: int) -> float | None:
        return self.sums[position] / self.count if self.count else None


def _parse(text: str) -> set[str]:
    people = set(text.split(","))
    people.discard("")
    return people


def people_of(rows: Iterable[tuple[int, str]], k: int) -> tuple[int, set[str] | None]:
    """The distinct people behind a figure made of summary rows, given as (people, raters):
    at least its largest row's, which is enough when that reaches ``k``; otherwise every row
    is small and the union of their lists is exact (returned too)."""
    rows = list(rows)
    top = max((n for n, _r in rows), default=0)
    if top >= k:
        return top, None
    together: set[str] = set()
    for _n, raters in rows:
        together |= _parse(raters or "")
    return len(together), together


class Damaged(ValueError):
    """Stored figures that do not match their checksum or cannot be decoded."""


class Figures:
    """The decided figures of one period, as pages read them: every figure's key, ratings, sums,
    people and whether it is hidden, and the id maps that turn a page's question (groups, a
    month, a round, a service) into a key. A :class:`Universe` is one just decided; stored ones
    come back through :meth:`from_bytes`, without the atoms and without searching again."""

    k: int
    hidden: set[int]
    group_ids: dict[tuple, int]
    month_ids: dict[str, int]
    round_ids: dict[int, int]
    service_ids: dict[tuple[int, int], int]
    all_group: int | None
    _G: int
    _Y: int
    _T: int
    _keys: np.ndarray
    _count: np.ndarray
    _sums: np.ndarray
    _people: np.ndarray
    _index: dict[int, int]

    def _encode(self, kind: int, x: int | np.ndarray, y: int | np.ndarray, t: int | np.ndarray) -> int | np.ndarray:
        return ((kind * self._G + x) * self._Y + y) * self._T + t

    def group(self, key: tuple) -> int | None:
        """The dense id of ("s", d), ("a", d) or ALL; a leaf's ("a", d) is its ("s", d)."""
        if key[0] == "a" and key not in self.group_ids:
            key = ("s", key[1])
        return self.group_ids.get(key)

    # --- reading --------------------------------------------------------------------------------

    def cell(self, kind: int, rater: tuple | None = None, provider: tuple | None = None, *, month: str | None = None,
             round_id: int | None = None, service: tuple[int, int] | None = None, quarter: int | None = None) -> Cell:
        """The decided figure of ``kind`` (see the module text); an absent one is empty."""
        key = self._key(kind, rater, provider, month, round_id, service, quarter)
        i = None if key is None else self._index.get(key)
        if i is None:
            return Cell()
        people = int(self._people[i])
        return Cell(count=int(self._count[i]), sums=tuple(int(x) for x in self._sums[i]), hidden=key in self.hidden,
                    people=people)

    def _key(self, kind, rater, provider, month, round_id, service, quarter) -> int | None:
        if kind in (MATRIX, ROUND, RECEIVED):
            r = self.group(rater)  # type: ignore[arg-type]
            if r is None:
                return None
        if kind in (MATRIX, ROUND, GIVEN):
            p = self.group(provider)  # type: ignore[arg-type]
            if p is None:
                return None
        if kind in (GIVEN, RECEIVED):
            t = self.month_ids.get(month)  # type: ignore[arg-type]
            if t is None:
                return None
        if kind == MATRIX:
            return self._encode(MATRIX, r, p, 0)
        if kind == ROUND:
            t = self.round_ids.get(round_id)  # type: ignore[arg-type]
            return None if t is None else self._encode(ROUND, r, p, t)
        if kind == GIVEN:
            return self._encode(GIVEN, 0, p, t)
        if kind == RECEIVED:
            return self._encode(RECEIVED, r, 0, t)
        s = self.service_ids.get(service)  # type: ignore[arg-type]
        if s is None:
            return None
        if kind == SERVICE:
            return self._encode(SERVICE, 0, s + 1, 0)
        return self._encode(SERVICE_QUARTER, 0, s + 1, int(quarter) + 1)  # type: ignore[arg-type]

    def figure_keys(self) -> list[int]:
        """Every decided figure's key, in order: what the disclosure tests and the matrix bench
        enumerate (pages ask for cells)."""
        return self._keys.tolist()

    def services(self) -> list[tuple[int, int]]:
        return list(self.service_ids)

    # --- storing --------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """Every decided figure and the id maps, as a compressed zip of numpy arrays (no pickle)."""
        meta = {"k": self.k, "G": self._G, "Y": self._Y, "T": self._T, "all": self.all_group,
                "groups": [[*key, i] for key, i in self.group_ids.items()],
                "months": [[m, i] for m, i in self.month_ids.items()],
                "rounds": [[r, i] for r, i in self.round_ids.items()],
                "services": [[p, s, i] for (p, s), i in self.service_ids.items()]}
        keys = np.asarray(self._keys, dtype=np.int64)
        hidden = np.isin(keys, np.fromiter(self.hidden, dtype=np.int64, count=len(self.hidden)))
        out = io.BytesIO()
        np.savez_compressed(out, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), keys=keys,
                            count=np.asarray(self._count, dtype=np.int64), sums=np.asarray(self._sums, dtype=np.int64),
                            people=np.asarray(self._people, dtype=np.int64), hidden=hidden)
        return out.getvalue()

    @staticmethod
    def checksum(blob: bytes) -> str:
        return hashlib.sha256(blob).hexdigest()

    @classmethod
    def from_bytes(cls, blob: bytes, checksum: str | None = None) -> Figures:
        """The figures :meth:`to_bytes` wrote. :class:`Damaged` when the bytes are not those whose
        ``checksum`` was stored, or do not decode into a consistent set of figures: a page must
        never show figures nobody decided."""
        if checksum is not None and cls.checksum(blob) != checksum:
            raise Damaged("the stored figures do not match their checksum")
        try:
            with np.load(io.BytesIO(blob), allow_pickle=False) as z:
                meta = json.loads(bytes(z["meta"]).decode())
                keys, count, sums, people, hidden = z["keys"], z["count"], z["sums"], z["people"], z["hidden"]
            made = Figures.__new__(Figures)
            made.k, made._G, made._Y, made._T, made.all_group = meta["k"], meta["G"], meta["Y"], meta["T"], meta["all"]
            made.group_ids = {tuple(g[:-1]): g[-1] for g in meta["groups"]}
            made.month_ids = {m: i for m, i in meta["months"]}
            made.round_ids = {r: i for r, i in meta["rounds"]}
            made.service_ids = {(p, s): i for p, s, i in meta["services"]}
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
            raise Damaged(f"the stored figures cannot be read: {exc}") from exc
        n = len(keys)
        if not (len(count) == len(people) == len(hidden) == n and sums.shape == (n, len(SUMS))
                and hidden.dtype == bool and (n < 2 or bool(np.all(keys[1:] > keys[:-1])))):
            raise Damaged("the stored figures are inconsistent")
        made._keys, made._count, made._sums, made._people = keys, count, sums, people
        made._index = dict(zip(keys.tolist(), range(n), strict=True))
        made.hidden = set(keys[hidden].tolist())
        return made


class Universe(Figures):
    """Every figure the pages of one period can show, decided together (see the module text).

    ``parents`` maps every department to its parent (None at a root), closed ones included;
    ``months`` are the universe's months, oldest first; ``window`` the months of the matrix's
    period (a subset); ``quarters`` maps window months to the service breakdown's quarter;
    ``trend`` the months shown month by month; ``rounds`` the rounds with a ``ROUND`` matrix
    here. ``kinds`` limits the figure kinds (a round's own universe has ``ROUND`` only).
    ``keep_parts`` False drops the atoms once decided (pages only read cells)."""

    def __init__(self, parents: Mapping[int, int | None], atoms: Sequence[Atom], k: int, *, window: Iterable[str],
                 trend: Iterable[str] = (), quarters: Mapping[str, int] | None = None, rounds: Iterable[int] = (),
                 kinds: Iterable[int] = (MATRIX, GIVEN, RECEIVED, SERVICE, SERVICE_QUARTER, ROUND),
                 keep_parts: bool = True) -> None:
        self.k = k
        self.atoms = list(atoms)
        self.size = len(self.atoms)
        self.kinds = set(kinds)
        self._tree(parents)
        window, trend, rounds = set(window), set(trend), set(rounds)
        quarters = dict(quarters or {})
        # Dense numbers for everything that goes into a figure's key.
        self.service_ids: dict[tuple[int, int], int] = {}
        self.month_ids: dict[str, int] = {}
        self.round_ids: dict[int, int] = {}
        n = len(self.atoms)
        atoms = self.atoms
        # Column by column through lists (numpy item assignment in a loop costs ~10x more).
        index, services, month_ids, round_ids = self.dept_index, self.service_ids, self.month_ids, self.round_ids

        def ints(values: Iterable[int]) -> np.ndarray:
            return np.fromiter(values, dtype=np.int64, count=n)

        rd = ints(index[a.rater] for a in atoms)
        pd = ints(index[a.provider] for a in atoms)
        ps = ints(services.setdefault((a.provider, a.service), len(services)) for a in atoms)
        mo = ints(month_ids.setdefault(a.month, len(month_ids)) for a in atoms)
        rn = ints(round_ids.setdefault(a.round, len(round_ids)) for a in atoms)
        months = list(month_ids)  # the flags by month id, then per atom
        by_month = np.asarray([(m in window, m in trend, m in quarters) for m in months], dtype=bool).reshape(-1, 3)
        flags = np.zeros((n, 4), dtype=bool)  # in window, in trend, has a round figure, has a quarter
        flags[:, 0], flags[:, 1], flags[:, 3] = by_month[mo, 0], by_month[mo, 1], by_month[mo, 2]
        round_keys = list(round_ids)
        flags[:, 2] = np.asarray([r in rounds for r in round_keys], dtype=bool)[rn] if n else False
        qt = np.asarray([quarters.get(m, 0) for m in months], dtype=np.int64)[mo] if n else np.zeros(0, dtype=np.int64)
        count = ints(a.count for a in atoms)
        sums = np.asarray([a.sums for a in atoms], dtype=np.int64).reshape(n, len(SUMS))
        people = ints(a.people for a in atoms)
        self._atom_people = people
        self._rd, self._pd, self._ps, self._mo, self._rn, self._flags, self._qt = rd, pd, ps, mo, rn, flags, qt
        self._window_ids = [i for m, i in self.month_ids.items() if m in window]
        self._quarter_ids = sorted(set(quarters.values()))
        self._window_set = set(self._window_ids)
        self._services_of: dict[int, list[int]] = {}
        self._service_owner: list[int] = []
        for (provider, _service), s in self.service_ids.items():
            self._services_of.setdefault(self._own_group[provider], []).append(s)
            self._service_owner.append(self._own_group[provider])
        self._G = len(self.groups) + 1
        self._Y = max(self._G, len(self.service_ids) + 1)
        self._T = max(len(self.month_ids), len(self.round_ids), 5) + 1
        keys, owners = self._memberships(rd, pd, ps, mo, rn, flags, qt)
        by_atom = np.argsort(owners, kind="stable")
        self._atom_keys = keys[by_atom]
        self._atom_starts = np.searchsorted(owners[by_atom], np.arange(n + 1))
        order = np.argsort(keys, kind="stable")
        keys, owners = keys[order], owners[order]
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else np.zeros(0, dtype=np.int64)
        self._keys = keys[starts]
        self._starts = np.r_[starts, len(keys)]
        self._owners = owners
        if len(keys):
            self._count = np.add.reduceat(count[owners], starts)
            self._sums = np.add.reduceat(sums[owners], starts, axis=0)
            self._people = np.maximum.reduceat(people[owners], starts)
        else:
            self._count = np.zeros(0, dtype=np.int64)
            self._sums = np.zeros((0, len(SUMS)), dtype=np.int64)
            self._people = np.zeros(0, dtype=np.int64)
        self._index = {key: i for i, key in enumerate(self._keys.tolist())}
        self._exact_people()
        self.hidden: set[int] = set()  # figure keys
        self._decide()
        # What only the search needed: a decision is kept in memory, several per worker.
        self._memo, self._parsed, self._by, self._at, self._near_r, self._near_p = {}, {}, {}, {}, [], []
        self._count_of, self._same_memo, self._positions = {}, {}, {}
        del self._atom_keys, self._atom_starts
        if not keep_parts:  # pages read cells only; tests read each figure's atoms too (``vector``)
            self.atoms, self._owners = [], np.zeros(0, dtype=np.int64)

    # --- the trees ------------------------------------------------------------------------------

    def _tree(self, parents: Mapping[int, int | None]) -> None:
        children: dict[int | None, list[int]] = {}
        for d, p in parents.items():
            children.setdefault(p, []).append(d)
        roots = sorted(children.get(None, []))
        self.groups: list[tuple] = []
        self.group_ids: dict[tuple, int] = {}

        def gid(key: tuple) -> int:
            if key not in self.group_ids:
                self.group_ids[key] = len(self.groups) + 1  # 0 stays free for "every rater/provider"
                self.groups.append(key)
            return self.group_ids[key]

        self.dept_index = {d: i for i, d in enumerate(sorted(parents))}
        chains: list[list[int]] = []
        for d in sorted(parents):
            chain = [] if not children.get(d) else [gid(("a", d))]
            up: int | None = d
            seen = set()
            while up is not None and up not in seen:
                seen.add(up)
                chain.append(gid(("s", up)))
                up = parents.get(up)
            if len(roots) > 1:
                chain.append(gid(ALL))
            chains.append(chain)
        if len(roots) == 1:
            self.group_ids[ALL] = self.group_ids[("s", roots[0])] if ("s", roots[0]) in self.group_ids else gid(("s", roots[0]))
        elif ALL not in self.group_ids:
            gid(ALL)
        self.group_children: dict[int, list[int]] = {}
        for d in sorted(parents):
            if children.get(d):
                self.group_children[self.group_ids[("s", d)]] = [self.group_ids[("a", d)],
                                                                 *(self.group_ids[("s", c)] for c in sorted(children[d]))]
        if len(roots) > 1:
            self.group_children[self.group_ids[ALL]] = [self.group_ids[("s", r)] for r in roots]
        self.all_group = self.group_ids.get(ALL)
        self.group_parent = {c: g for g, cs in self.group_children.items() for c in cs}
        self._own_group = {d: c[0] for d, c in zip(sorted(parents), chains, strict=True)}
        order: list[int] = []
        stack = sorted(roots, reverse=True)
        while stack:
            d = stack.pop()
            order.append(d)
            stack.extend(sorted(children.get(d, []), reverse=True))
        position = {d: i for i, d in enumerate(order)}
        self._dfs_rank = [position.get(d, len(order)) for d in sorted(parents)]
        self.length = max((len(c) for c in chains), default=1)
        self.chain = np.full((len(chains), self.length), -1, dtype=np.int64)
        for i, c in enumerate(chains):
            self.chain[i, :len(c)] = c
        self._chains = chains

    # --- figures --------------------------------------------------------------------------------

    def _memberships(self, rd, pd, ps, mo, rn, flags, qt) -> tuple[np.ndarray, np.ndarray]:
        """(figure key, atom) for every figure each atom is a part of."""
        keys, owners = [], []
        idx = np.arange(len(rd), dtype=np.int64)
        rc, pc = self.chain[rd], self.chain[pd]
        win, trend, rounds, quarter = flags[:, 0], flags[:, 1], flags[:, 2], flags[:, 3]

        def add(kind: int, x, y, t, mask) -> None:
            keys.append(self._encode(kind, x[mask] if isinstance(x, np.ndarray) else x,
                                     y[mask] if isinstance(y, np.ndarray) else y,
                                     t[mask] if isinstance(t, np.ndarray) else t))
            owners.append(idx[mask])

        for i in range(self.length):
            for j in range(self.length):
                both = (rc[:, i] >= 0) & (pc[:, j] >= 0)
                if MATRIX in self.kinds:
                    add(MATRIX, rc[:, i], pc[:, j], 0, both & win)
                if ROUND in self.kinds:
                    add(ROUND, rc[:, i], pc[:, j], rn, both & rounds)
        for j in range(self.length):
            if GIVEN in self.kinds:
                add(GIVEN, 0, pc[:, j], mo, (pc[:, j] >= 0) & trend)
            if RECEIVED in self.kinds:
                add(RECEIVED, rc[:, j], 0, mo, (rc[:, j] >= 0) & trend)
        if SERVICE in self.kinds:
            add(SERVICE, 0, ps + 1, 0, win)
        if SERVICE_QUARTER in self.kinds:
            add(SERVICE_QUARTER, 0, ps + 1, qt + 1, win & quarter)
        if not keys:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(keys).astype(np.int64), np.concatenate(owners)

    def _who(self, a: int) -> frozenset[str]:
        found = self._parsed.get(a)
        if found is None:
            found = self._parsed[a] = frozenset(_parse(self.atoms[a].raters))
        return found

    def _exact_people(self) -> None:
        """A figure's people are at least its largest atom's; under the minimum, the union of its
        atoms' rater lists (every atom is then small too). All small figures at once: their
        (figure, person) pairs, counted once each."""
        self._parsed: dict[int, frozenset[str]] = {}
        small = np.flatnonzero((self._people < self.k) & (np.diff(self._starts) > 1))
        if not len(small):
            return
        sizes = np.diff(self._starts)
        fig = np.repeat(np.arange(len(self._keys)), sizes)
        chosen = np.zeros(len(self._keys), dtype=bool)
        chosen[small] = True
        mask = chosen[fig]
        figs, atoms = fig[mask], self._owners[mask]
        ptr, persons = self._rater_lists()
        lens = ptr[atoms + 1] - ptr[atoms]
        total = int(lens.sum())
        if not total:
            return
        rep_fig = np.repeat(figs, lens)
        first = np.repeat(ptr[atoms] - (np.cumsum(lens) - lens), lens)
        who = persons[first + np.arange(total)]
        pairs = np.unique(rep_fig * (int(persons.max()) + 1) + who)
        counted = np.bincount(pairs // (int(persons.max()) + 1), minlength=len(self._keys))
        self._people[small] = counted[small]

    def _rater_lists(self) -> tuple[np.ndarray, np.ndarray]:
        """The atoms' rater lists as one array of person numbers (``persons[ptr[a]:ptr[a + 1]]``
        are atom ``a``'s); only atoms under the minimum have lists (``summary``)."""
        texts = [a.raters.strip(",") if a.people < self.k and a.raters else "" for a in self.atoms]
        lens = np.fromiter((t.count(",") + 1 if t else 0 for t in texts), dtype=np.int64, count=len(texts))
        ptr = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(lens, out=ptr[1:])
        joined = ",".join(t for t in texts if t)
        if not joined:
            return ptr, np.zeros(0, dtype=np.int64)
        _names, persons = np.unique(np.asarray(joined.split(",")), return_inverse=True)
        return ptr, persons.astype(np.int64)

    def _figures_of(self, a: int) -> frozenset[int]:
        """The keys of every figure atom ``a`` is a part of."""
        cached = self._memo.get(a)
        if cached is None:
            cached = self._memo[a] = frozenset(self._atom_keys[self._atom_starts[a]:self._atom_starts[a + 1]].tolist())
        return cached

    def touched(self, v: Mapping[int, int]) -> set[int]:
        """The figures whose value the perturbation ``v`` (atom → weight) changes."""
        if len(v) <= 2 or set(v.values()) - {1, -1}:
            if len(v) == 1:
                return set(self._figures_of(next(iter(v))))
            if len(v) == 2:
                (a, wa), (b, wb) = v.items()
                if wa == -wb:
                    return set(self._figures_of(a) ^ self._figures_of(b))
            net: dict[int, int] = {}
            for a, w in v.items():
                for key in self._figures_of(a):
                    net[key] = net.get(key, 0) + w
            return {key for key, x in net.items() if x}
        # four atoms, two +1 and two -1: a key in an odd number of them changes, and so does a
        # key in both +1 atoms only, or both -1 atoms only
        plus = [self._figures_of(a) for a, w in v.items() if w > 0]
        minus = [self._figures_of(a) for a, w in v.items() if w < 0]
        if len(plus) != 2 or len(minus) != 2:
            net = {}
            for a, w in v.items():
                for key in self._figures_of(a):
                    net[key] = net.get(key, 0) + w
            return {key for key, x in net.items() if x}
        odd = plus[0] ^ plus[1] ^ minus[0] ^ minus[1]
        return set(odd | ((plus[0] & plus[1]) - minus[0] - minus[1]) | ((minus[0] & minus[1]) - plus[0] - plus[1]))

    # --- the decision ---------------------------------------------------------------------------

    def _decide(self) -> None:
        self._memo: dict[int, list[int]] = {}
        self._same_memo: dict[tuple[str, int], list[int]] = {}
        self._positions: dict[int, dict[int, int]] = {}
        self._count_of = dict(zip(self._keys.tolist(), self._count.tolist()))
        self._witnessed: set[int] = set()
        primary = np.flatnonzero((self._people > 0) & (self._people < self.k) & (self._count > 0)).tolist()
        primary += self._small_rests(set(primary))
        self.hidden = {int(self._keys[f]) for f in primary}
        if not primary:
            return
        self._neighbours()
        self._protect(primary)
        # A shown total whose hidden parts together stand for fewer than k people gives their
        # sum back (total minus the shown parts): one more part is protected, until none does.
        changed = set(self.hidden)
        while changed:
            more = self._small_unions(changed)
            before = set(self.hidden)
            self.hidden |= {int(self._keys[f]) for f in more}
            self._protect(more)
            changed = self.hidden - before

    def _protect(self, figures: list[int]) -> None:
        """A witness for each of ``figures`` (indexes) not yet changed by an earlier one."""
        for f in sorted(figures, key=lambda f: (int(self._count[f]), int(self._keys[f]))):
            key = int(self._keys[f])
            if key in self._witnessed:
                continue
            best, best_cost = None, None
            count_of = self._count_of
            for v in self._candidates(f, key):
                hit = self.touched(v)
                if key not in hit:
                    continue
                # the ratings it would hide besides: hiding a large total costs more than a cell
                cost = sum(map(count_of.__getitem__, hit - self.hidden))
                if best_cost is None or cost < best_cost:
                    best, best_cost = hit, cost
                    if cost == 0:
                        break
            assert best is not None  # a single atom of f always changes f
            self.hidden |= best
            self._witnessed |= best

    def vector(self, key: int) -> list[int]:
        """The atoms of a figure (for tests: the figure's row in the linear system)."""
        i = self._index[key]
        return self._owners[self._starts[i]:self._starts[i + 1]].tolist()

    def _decode(self, key: int) -> tuple[int, int, int, int]:
        rest, t = divmod(key, self._T)
        rest, y = divmod(rest, self._Y)
        kind, x = divmod(rest, self._G)
        return kind, x, y, t

    def _union_people(self, figures: Iterable[int]) -> int:
        figures = list(figures)
        top = max(int(self._people[f]) for f in figures)
        if top >= self.k:
            return top
        return len(frozenset().union(*(self._who(a) for f in figures
                                       for a in self._owners[self._starts[f]:self._starts[f + 1]].tolist())))

    def _equations(self, key: int) -> list[tuple[int, list[int]]]:
        """(total, parts) for every sum the figure ``key`` is a total of (keys; parts without
        ratings left out): along the rater tree, the provider tree, the window's months, a
        department's own services and a service's quarters."""
        kind, x, y, t = self._decode(key)
        enc, kids = self._encode, self.group_children
        parts: list[list[int]] = []
        if kind in (MATRIX, ROUND):
            parts.append([enc(kind, c, y, t) for c in kids.get(x, ())])
            parts.append([enc(kind, x, c, t) for c in kids.get(y, ())])
            if kind == MATRIX and x == self.all_group:
                parts.append([enc(GIVEN, 0, y, m) for m in self._window_ids])
                parts.append([enc(SERVICE, 0, s + 1, 0) for s in self._services_of.get(y, ())])
            if kind == MATRIX and y == self.all_group:
                parts.append([enc(RECEIVED, x, 0, m) for m in self._window_ids])
        elif kind == GIVEN:
            parts.append([enc(GIVEN, 0, c, t) for c in kids.get(y, ())])
        elif kind == RECEIVED:
            parts.append([enc(RECEIVED, c, 0, t) for c in kids.get(x, ())])
        elif kind == SERVICE:
            parts.append([enc(SERVICE_QUARTER, 0, y, q + 1) for q in self._quarter_ids])
        index = self._index
        return [(key, [index[p] for p in ps if p in index]) for ps in parts if ps]

    def _totals_of(self, key: int) -> list[int]:
        """The sums (their totals' keys) figure ``key`` is a part of (see ``_equations``)."""
        kind, x, y, t = self._decode(key)
        enc, up = self._encode, self.group_parent
        out = []
        if kind in (MATRIX, ROUND, RECEIVED) and x in up:
            out.append(enc(kind, up[x], y, t))
        if kind in (MATRIX, ROUND, GIVEN) and y in up:
            out.append(enc(kind, x, up[y], t))
        if kind == GIVEN and t in self._window_set:
            out.append(enc(MATRIX, self.all_group, y, 0))
        if kind == RECEIVED and t in self._window_set:
            out.append(enc(MATRIX, x, self.all_group, 0))
        if kind == SERVICE:
            out.append(enc(MATRIX, self.all_group, self._service_owner[y - 1], 0))
        if kind == SERVICE_QUARTER:
            out.append(enc(SERVICE, 0, y, 0))
        return out

    def _small_unions(self, changed: Iterable[int]) -> list[int]:
        """Shown parts to protect next: in every sum with a shown total next to a figure in
        ``changed`` (keys), the smallest shown part where the hidden parts together stand for
        fewer than k people."""
        more: set[int] = set()
        totals = {t for key in changed for t in self._totals_of(key) if t in self._index and t not in self.hidden}
        for key in sorted(totals):
            for _total, parts in self._equations(key):
                hidden = [p for p in parts if int(self._keys[p]) in self.hidden]
                if not hidden or self._union_people(hidden) >= self.k:
                    continue
                shown = [p for p in parts if int(self._keys[p]) not in self.hidden]
                if shown:
                    more.add(min(shown, key=lambda p: (int(self._count[p]), int(self._keys[p]))))
        return sorted(more)

    def _small_rests(self, primary: set[int]) -> list[int]:
        """Round figures to hide because the window's figure minus the round's (the rest of the
        12 months) stands for some, but fewer than k, people. Only where the round's figure lies
        wholly inside the window: otherwise the difference is not a group of ratings."""
        if ROUND not in self.kinds or MATRIX not in self.kinds or not len(self._keys):
            return []
        kinds = self._keys // (self._G * self._Y * self._T)
        rounds = np.flatnonzero(kinds == ROUND)
        if not len(rounds):
            return []
        # the window's figure of each round figure: same groups, t = 0
        whole_keys = self._keys[rounds] - (ROUND - MATRIX) * self._G * self._Y * self._T - self._keys[rounds] % self._T
        at = np.searchsorted(self._keys, whole_keys)
        at = np.minimum(at, len(self._keys) - 1)
        found = self._keys[at] == whole_keys
        rest = np.where(found, self._count[at] - self._count[rounds], 0)
        # a round's figure with ratings outside the window is not part of the window's
        outside = np.zeros(len(self._keys), dtype=bool)
        sizes = np.diff(self._starts)
        out_atoms = ~self._flags[:, 0]
        per = np.add.reduceat(out_atoms[self._owners].astype(np.int64), self._starts[:-1]) if len(self._owners) else sizes
        outside = per > 0
        candidates = rounds[(rest > 0) & found & ~outside[rounds]]
        if not len(candidates):
            return []
        # The rest's largest row without looking at every row per round: per window figure, its
        # largest row's people and round, and the largest row of another round; a rest (the
        # figure without round t) has the first unless t is that round.
        fig = np.repeat(np.arange(len(self._keys)), sizes)
        p, r = self._atom_people[self._owners], self._rn[self._owners]
        top = np.maximum.reduceat(p, self._starts[:-1])
        top_round = np.full(len(self._keys), -1, dtype=np.int64)
        is_top = p == top[fig]
        top_round[fig[is_top]] = r[is_top]
        second = np.maximum.reduceat(np.where(r != top_round[fig], p, -1), self._starts[:-1])
        whole = at[np.searchsorted(rounds, candidates)]
        t = self._keys[candidates] % self._T
        rest_top = np.where(top_round[whole] == t, second[whole], top[whole])
        small = (rest_top < self.k) & ~np.isin(candidates, np.fromiter(primary, dtype=np.int64, count=len(primary)))
        result = []
        for i, w, ti in zip(candidates[small].tolist(), whole[small].tolist(), t[small].tolist(), strict=True):
            rest_atoms = [a for a in self._owners[self._starts[w]:self._starts[w + 1]].tolist() if int(self._rn[a]) != ti]
            if len(frozenset().union(*(self._who(a) for a in rest_atoms))) < self.k:
                result.append(i)
        return result

    def _neighbours(self) -> None:
        """Atoms sorted three ways, to find those that share (service, month, round), (rater,
        month, round) or (rater, service) with a given atom."""
        T, R = self._T, len(self.round_ids) + 1
        S = len(self.service_ids) + 1
        D = len(self.dept_index) + 1
        # within a group, atoms in the tree's depth-first order of their other side, so the
        # atoms next to one in the list are its nearest relatives in the tree
        rank = np.asarray(self._dfs_rank, dtype=np.int64)
        provider_rank = rank[self._pd]
        self._by = {}
        for name, key, then in (("smr", (self._ps * T + self._mo) * R + self._rn, rank[self._rd]),
                                ("rmr", (self._rd * T + self._mo) * R + self._rn, provider_rank),
                                ("rs", self._rd * S + self._ps, self._mo)):
            order = np.lexsort((then, key))
            self._by[name] = (key[order], order)
        self._at_code = (len(self.service_ids) + 1, len(self.month_ids) + 1, R)
        codes = self._at_of(self._rd, self._ps, self._mo, self._rn)
        self._at = dict(zip(codes.tolist(), range(len(codes))))
        self._D, self._S = D, S
        # (parent group, grandparent group) of each atom's rater and provider department
        def near(chain: list[int]) -> tuple[int, int]:
            return (chain[1] if len(chain) > 1 else -1, chain[2] if len(chain) > 2 else -1)
        by_dept = [near(c) for c in self._chains]
        self._near_r = [by_dept[d] for d in self._rd.tolist()]
        self._near_p = [by_dept[d] for d in self._pd.tolist()]

    def _at_of(self, r, s, m, n):
        """One number for (rater department, service, month, round): the key of ``_at``."""
        S, M, R = self._at_code
        return ((r * S + s) * M + m) * R + n

    def _same(self, name: str, value: int) -> list[int]:
        # Kept: on scattered data the same large groups are asked for by thousands of figures.
        found = self._same_memo.get((name, value))
        if found is None:
            keys, order = self._by[name]
            lo, hi = np.searchsorted(keys, value, "left"), np.searchsorted(keys, value, "right")
            found = self._same_memo[(name, value)] = order[lo:hi].tolist()
        return found

    def _position(self, others: list[int], a: int) -> int:
        """Where atom ``a`` is in ``others`` (a list ``_same`` keeps), 0 if absent."""
        where = self._positions.get(id(others))
        if where is None:
            where = self._positions[id(others)] = {b: i for i, b in enumerate(others)}
        return where.get(a, 0)

    def _closest(self, a: int, others: list[int], side: str, limit: int, mine: set[int]) -> list[int]:
        """Up to ``limit`` atoms of ``others`` outside the figure whose atoms are ``mine``,
        nearest to ``a`` in the rater (``side`` "r") or provider tree: same parent first, then
        same grandparent, then the most ratings. ``others`` is in the tree's order, so only the
        atoms around ``a`` in it are looked at."""
        near = self._near_r if side == "r" else self._near_p
        here = near[a]
        at = self._position(others, a)
        scored = []
        for b in others[max(0, at - 24):at + 24]:
            if b in mine:
                continue
            there = near[b]
            scored.append((-(here[0] == there[0]) - (here[1] == there[1]), -self.atoms[b].count, b))
        scored.sort()
        return [b for _s, _c, b in scored[:limit]]

    def _candidates(self, f: int, key: int) -> Iterable[dict[int, int]]:
        T, R = self._T, len(self.round_ids) + 1
        mine = self._owners[self._starts[f]:self._starts[f + 1]].tolist()
        inside = set(mine)
        mine.sort(key=lambda a: -self.atoms[a].count)
        for a in mine[:3]:
            rd, ps, mo, rn = int(self._rd[a]), int(self._ps[a]), int(self._mo[a]), int(self._rn[a])
            raters = self._closest(a, self._same("smr", (ps * T + mo) * R + rn), "r", 3, inside)
            providers = self._closest(a, self._same("rmr", (rd * T + mo) * R + rn), "p", 3, inside)
            times = [b for b in self._same("rs", rd * self._S + ps) if b not in inside][:3]
            for b in raters:
                for c in providers:
                    d = self._at.get(self._at_of(int(self._rd[b]), int(self._ps[c]), mo, rn))
                    if d is not None:
                        yield {a: 1, b: -1, c: -1, d: 1}
            for e in times:
                me, ne = int(self._mo[e]), int(self._rn[e])
                for b in raters:
                    d = self._at.get(self._at_of(int(self._rd[b]), ps, me, ne))
                    if d is not None:
                        yield {a: 1, b: -1, e: -1, d: 1}
                for c in providers:
                    d = self._at.get(self._at_of(rd, int(self._ps[c]), me, ne))
                    if d is not None:
                        yield {a: 1, c: -1, e: -1, d: 1}
            for b in (*raters, *providers, *times):
                yield {a: 1, b: -1}
            yield {a: 1}
