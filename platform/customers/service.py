"""Customer scores: checking and storing them, from a file, the API or the demo, and the
follow-ups that low ones open.

One path for every source: :class:`Directory` resolves departments and employees (as they were
on the day of the score, through the assignment history) from dictionaries loaded once per
batch; :func:`parse_score` checks one item and returns the row to store or the problems by
field; :func:`store_scores` writes parsed rows in chunks inside the caller's write
transaction, skipping replays and refusing changed content; :func:`open_follow_ups` assigns a
follow-up to the team's manager at the time for every recent low score.

A low score is a CSAT of 3 or less, a "bad", or an NPS of 6 or less. Scores older than
:data:`FOLLOW_UP_WINDOW_DAYS` when they arrive (a history load) are stored as low but open no
follow-up: nobody calls a customer back about last year.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from servicechain.platform import audit, db
from servicechain.platform.customers.channels import CHANNELS
from servicechain.platform.customers.tables import OUTCOMES, ScoreFollowUp
from servicechain.platform.i18n import gettext as _
from servicechain.platform.i18n import lazy_gettext
from servicechain.platform.lib.dates import BadDate, parse_date
from servicechain.platform.lib.tabular import header_key
from servicechain.platform.lib.text import fold
from servicechain.platform.people.service import today
from servicechain.platform.security import (
    Actor,
    require,
    score_follow_up_for,
    utcnow,
)
from servicechain.platform.web import DomainError, FormInvalid

FOLLOW_UP_HOURS = 24
FOLLOW_UP_WINDOW_DAYS = 30
CHUNK = 5_000
MAX_TEXT = {"case_ref": 200, "comment": 4000, "external_id": 200, "source": 100}

# The fields a score has, in the order the mapping page lists them.
FIELDS: dict[str, Any] = {
    "external_id": lazy_gettext("External id (unique per source)"),
    "given_on": lazy_gettext("Date"),
    "channel": lazy_gettext("Channel"),
    "department": lazy_gettext("Department (code, name or path)"),
    "employee": lazy_gettext("Employee (employee number or email)"),
    "csat": lazy_gettext("CSAT (1–5, or good/bad)"),
    "csat_good": lazy_gettext("Satisfied (yes/no)"),
    "nps": lazy_gettext("NPS (0–10)"),
    "case_ref": lazy_gettext("Case reference"),
    "comment": lazy_gettext("Comment"),
    "source": lazy_gettext("Source"),
}

SCORE_COLUMNS = ("id", "source", "external_id", "given_on", "channel", "case_ref", "department", "employee", "csat",
                 "csat_good", "nps", "low", "comment", "fingerprint", "created_at")
FOLLOW_UP_COLUMNS = ("score", "department", "assignee", "due_at", "status", "outcome", "note", "created_at")

CHANNEL_WORDS: dict[str, tuple[str, ...]] = {
    "phone": ("phone", "call", "calls", "voice", "телефон", "звонок", "колл центр", "колл-центр", "call centre"),
    "chat": ("chat", "messenger", "чат", "мессенджер", "онлайн чат"),
    "email": ("email", "e mail", "mail", "letter", "почта", "письмо", "эл почта", "электронная почта"),
    "courier": ("courier", "delivery", "курьер", "доставка"),
    "store": ("store", "shop", "pickup", "pickup point", "магазин", "даркстор", "пункт выдачи", "самовывоз"),
}
GOOD_WORDS = ("good", "positive", "satisfied", "yes", "true", "like", "хорошо", "хороший", "хорошая", "доволен",
              "довольна", "да", "положительно", "👍")
BAD_WORDS = ("bad", "negative", "dissatisfied", "unsatisfied", "no", "false", "dislike", "плохо", "плохой", "плохая",
             "недоволен", "недовольна", "нет", "отрицательно", "👎")


def _index(words: dict[str, tuple[str, ...]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for code, spellings in words.items():
        found[code] = code
        for spelling in spellings:
            found[header_key(spelling)] = code
    return found


_CHANNEL_INDEX = _index(CHANNEL_WORDS)
_GOOD_INDEX = {**{header_key(w) or w: True for w in GOOD_WORDS}, **{header_key(w) or w: False for w in BAD_WORDS}}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def is_low(csat: int | None, csat_good: bool | None, nps: int | None) -> bool:
    return (csat is not None and csat <= 3) or csat_good is False or (nps is not None and nps <= 6)


# --- resolving people and departments -----------------------------------------------------------


class Directory:
    """Departments and people, with everyone's assignment history, held in dictionaries so a
    million scores resolve without a query each. Lookups are cached by the text given."""

    def __init__(self, departments: list[dict[str, Any]], people: list[dict[str, Any]],
                 assignments: list[dict[str, Any]]):
        self.departments = {d["id"]: d for d in departments}
        self.by_code = {d["code"]: d["id"] for d in departments}
        self.by_code_folded = {d["code"].casefold(): d["id"] for d in departments}
        self.by_name: dict[str, list[int]] = {}
        for d in departments:
            for name in {fold(d["name_en"]), fold(d["name_ru"])}:
                if name:
                    self.by_name.setdefault(name, []).append(d["id"])
        self.people = {p["id"]: p for p in people}
        self.by_number = {p["employee_number"]: p["id"] for p in people}
        self.by_email = {p["email"].lower(): p["id"] for p in people if p["email"]}
        self.history: dict[int, list[tuple[date, date | None, int | None, int | None]]] = {}
        for a in sorted(assignments, key=lambda a: (a["person"], _as_date(a["valid_from"]))):
            self.history.setdefault(a["person"], []).append(
                (_as_date(a["valid_from"]), _as_date(a["valid_to"]) if a["valid_to"] else None, a["department"],
                 a["manager"]))
        self._departments: dict[str, int | str] = {}
        self._employees: dict[str, int | None] = {}
        # A million scores hold a few hundred distinct dates and a handful of channel and
        # score spellings: parse each text once.
        self.dates: dict[str, date | None] = {}
        self.channels: dict[str, str | None] = {}
        self.csats: dict[str, tuple[int | None, bool | None]] = {}

    @classmethod
    async def load(cls, employee_refs: Iterable[str] | None = None) -> Directory:
        """Everything, or (for a small batch) only the people its items name."""
        departments = await db.fetch("SELECT id, code, name_en, name_ru, parent, head, path, active FROM department")
        refs = None if employee_refs is None else sorted({r.strip() for r in employee_refs if r and r.strip()})
        if refs is None or len(refs) > 400:
            people = await db.fetch("SELECT id, employee_number, email, active, manager FROM person")
            assignments = await db.fetch("SELECT person, department, manager, valid_from, valid_to FROM assignment")
        elif refs:
            marks = db.placeholders(len(refs))
            people = await db.fetch(
                f"SELECT id, employee_number, email, active, manager FROM person WHERE employee_number IN ({marks})"
                f" OR LOWER(email) IN ({marks})", *refs, *[r.lower() for r in refs])
            ids = [p["id"] for p in people]
            assignments = await db.fetch(
                f"SELECT person, department, manager, valid_from, valid_to FROM assignment WHERE person IN"
                f" ({db.placeholders(len(ids))})", *ids) if ids else []
        else:
            people, assignments = [], []
        heads = sorted({d["head"] for d in departments if d["head"]} - {p["id"] for p in people})
        if heads:  # heads are follow-up owners: know whether they still work here
            people = people + await db.fetch(
                f"SELECT id, employee_number, email, active, manager FROM person WHERE id IN ({db.placeholders(len(heads))})",
                *heads)
        managers = sorted({a["manager"] for a in assignments if a["manager"]} - {p["id"] for p in people})
        if managers:
            people = people + await db.fetch(
                f"SELECT id, employee_number, email, active, manager FROM person WHERE id IN"
                f" ({db.placeholders(len(managers))})", *managers)
        return cls(departments, people, assignments)

    def department(self, ref: str) -> int | str:
        """The department's id, or a message saying why the text names none (or several)."""
        found = self._departments.get(ref)
        if found is None:
            found = self._departments[ref] = self._find_department(ref)
        return found

    def _find_department(self, ref: str) -> int | str:
        text = ref.strip()
        if text in self.by_code:
            return self.by_code[text]
        if text.casefold() in self.by_code_folded:
            return self.by_code_folded[text.casefold()]
        parts = [fold(p) for p in text.split("/") if p.strip()]
        if not parts:
            return _("Name the department.")
        candidates = self.by_name.get(parts[-1], [])
        if len(parts) > 1:  # a path: each named parent must be the next one up
            def matches(dept_id: int) -> bool:
                current = self.departments[dept_id]
                for name in reversed(parts[:-1]):
                    current = self.departments.get(current["parent"]) if current["parent"] else None
                    if current is None or name not in {fold(current["name_en"]), fold(current["name_ru"])}:
                        return False
                return True

            candidates = [c for c in candidates if matches(c)]
        active = [c for c in candidates if self.departments[c]["active"]] or candidates
        if len(active) == 1:
            return active[0]
        if len(active) > 1:
            return _("Several departments are called “%(name)s”; give its code or its path.", name=text)
        return _("There is no department “%(name)s”.", name=text)

    def employee(self, ref: str) -> int | None:
        if ref in self._employees:
            return self._employees[ref]
        text = ref.strip()
        found = self.by_number.get(text)
        if found is None and "@" in text:
            found = self.by_email.get(text.lower())
        self._employees[ref] = found
        return found

    def placement(self, person_id: int, day: date) -> tuple[int | None, int | None] | None:
        """(department, manager) of the person on that day, from the assignment history."""
        for valid_from, valid_to, department, manager in self.history.get(person_id, ()):
            if valid_from <= day and (valid_to is None or day < valid_to or (day == valid_to == valid_from)):
                return department, manager
        return None

    def owner(self, department_id: int, manager: int | None = None) -> int | None:
        """Who follows a low score up: the employee's manager at the time if still here, else the
        head of the department (or of the nearest department above that has one)."""
        if manager and self.people.get(manager, {}).get("active"):
            return manager
        current = self.departments.get(department_id)
        while current is not None:
            head = current["head"]
            if head and self.people.get(head, {}).get("active"):
                return head
            current = self.departments.get(current["parent"]) if current["parent"] else None
        return None


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


# --- one score ----------------------------------------------------------------------------------


@dataclass
class Parsed:
    """A checked score: the row to store (without id and time) and who follows it up."""

    source: str
    external_id: str
    given_on: date
    channel: str
    case_ref: str
    department: int
    employee: int | None
    csat: int | None
    csat_good: bool | None
    nps: int | None
    low: bool
    comment: str
    fingerprint: str
    manager: int | None = None


def fingerprint(values: dict[str, str]) -> str:
    """The content as sent (trimmed texts), so a replay matches even after a reorganisation."""
    return fingerprint_of(*(values.get(k, "") for k in ("given_on", "channel", "case_ref", "department", "employee",
                                                         "csat", "csat_good", "nps", "comment")))


def fingerprint_of(*texts: str) -> str:
    return hashlib.blake2b("\x1f".join(texts).encode(), digest_size=16).hexdigest()


def _int(text: str, low: int, high: int) -> int | None:
    if text.lstrip("-").isdigit():
        value = int(text)
        if low <= value <= high:
            return value
    return None


_DOTTED = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")


def _parse_day(text: str) -> date | None:
    try:
        if _ISO_DATE.match(text):
            return date.fromisoformat(text[:10])
        dotted = _DOTTED.match(text)
        if dotted:
            return date(int(dotted.group(3)), int(dotted.group(2)), int(dotted.group(1)))
        return parse_date(text)
    except (BadDate, ValueError):
        return None


def parse_score(values: dict[str, str], directory: Directory, default_source: str, today_: date
                ) -> tuple[Parsed | None, list[tuple[str, str]]]:
    """Check one score given as texts by field; returns the parsed score or (field, message)s.

    Dates in the future and before 2000 are refused; a department is required unless the
    employee's assignment on that day says it; CSAT (or "satisfied") or NPS is required.
    """
    problems: list[tuple[str, str]] = []
    get = values.get
    source = (get("source") or default_source).strip()
    external_id = (get("external_id") or "").strip()
    if not external_id:
        problems.append(("external_id", _("The external id is missing.")))
    elif len(external_id) > MAX_TEXT["external_id"]:
        problems.append(("external_id", _("The external id is longer than %(n)s characters.", n=MAX_TEXT["external_id"])))
    if len(source) > MAX_TEXT["source"]:
        problems.append(("source", _("The source is longer than %(n)s characters.", n=MAX_TEXT["source"])))

    raw_date = (get("given_on") or "").strip()
    given_on: date | None = None
    if not raw_date:
        problems.append(("given_on", _("The date is missing.")))
    else:
        if raw_date in directory.dates:
            given_on = directory.dates[raw_date]
        else:
            given_on = directory.dates[raw_date] = _parse_day(raw_date)
        if given_on is None:
            problems.append(("given_on", _("“%(value)s” is not a date we can read (use 31.12.2025 or 2025-12-31).",
                                           value=raw_date[:40])))
        elif given_on > today_ or given_on.year < 2000:
            problems.append(("given_on", _("The date %(value)s is outside the possible range.", value=raw_date[:40])))
            given_on = None

    raw_channel = (get("channel") or "").strip()
    if raw_channel in directory.channels:
        channel = directory.channels[raw_channel]
    else:
        channel = directory.channels[raw_channel] = _CHANNEL_INDEX.get(header_key(raw_channel)) if raw_channel else None
    if channel is None:
        problems.append(("channel", _("“%(value)s” is not a channel; use one of: %(channels)s.", value=raw_channel[:40],
                                      channels=", ".join(CHANNELS)) if raw_channel else _("The channel is missing.")))

    csat: int | None = None
    csat_good: bool | None = None
    raw_csat = (get("csat") or "").strip()
    if raw_csat:
        if raw_csat not in directory.csats:
            number = _int(raw_csat, 1, 5)
            directory.csats[raw_csat] = (number, None if number is not None else
                                         _GOOD_INDEX.get(header_key(raw_csat) or raw_csat))
        csat, csat_good = directory.csats[raw_csat]
        if csat is None:
            if csat_good is None:
                problems.append(("csat", _("CSAT “%(value)s” is out of range: give 1 to 5, or good/bad.",
                                           value=raw_csat[:40])))
    raw_good = (get("csat_good") or "").strip()
    if raw_good:
        good = {"1": True, "0": False}.get(raw_good, _GOOD_INDEX.get(header_key(raw_good) or raw_good))
        if good is None:
            problems.append(("csat_good", _("“%(value)s” is not yes or no.", value=raw_good[:40])))
        elif csat is not None or csat_good is not None:
            problems.append(("csat_good", _("Give CSAT either as 1–5 or as good/bad, not both.")))
        else:
            csat_good = good
    raw_nps = (get("nps") or "").strip()
    nps = None
    if raw_nps:
        nps = _int(raw_nps, 0, 10)
        if nps is None:
            problems.append(("nps", _("NPS “%(value)s” is out of range: give a whole number from 0 to 10.",
                                      value=raw_nps[:40])))
    if not raw_csat and not raw_good and not raw_nps:
        problems.append(("csat", _("Give a CSAT or an NPS score.")))

    employee: int | None = None
    manager: int | None = None
    department: int | None = None
    raw_employee = (get("employee") or "").strip()
    if raw_employee:
        employee = directory.employee(raw_employee)
        if employee is None:
            problems.append(("employee", _("There is no employee “%(value)s” (give the employee number or the email).",
                                           value=raw_employee[:60])))
        elif given_on is not None:
            placed = directory.placement(employee, given_on)
            if placed is not None:
                department, manager = placed
    raw_department = (get("department") or "").strip()
    if department is None:
        if raw_department:
            found = directory.department(raw_department)
            if isinstance(found, str):
                problems.append(("department", found))
            else:
                department = found
        elif employee is not None and given_on is not None:
            problems.append(("employee", _("The employee did not work here on %(day)s; give the department.",
                                           day=given_on.isoformat())))
        elif not raw_employee:
            problems.append(("department", _("Give the department or the employee.")))

    case_ref = (get("case_ref") or "").strip()
    if len(case_ref) > MAX_TEXT["case_ref"]:
        problems.append(("case_ref", _("The case reference is longer than %(n)s characters.", n=MAX_TEXT["case_ref"])))
    comment = (get("comment") or "").strip()
    if len(comment) > MAX_TEXT["comment"]:
        problems.append(("comment", _("The comment is longer than %(n)s characters.", n=MAX_TEXT["comment"])))
    if problems:
        return None, problems
    assert given_on is not None and channel is not None and department is not None
    normal = {"given_on": given_on.isoformat(), "channel": channel, "case_ref": case_ref,
              "department": raw_department, "employee": raw_employee, "csat": str(csat or ""),
              "csat_good": "" if csat_good is None else str(csat_good), "nps": "" if nps is None else str(nps),
              "comment": comment}
    return Parsed(source=source, external_id=external_id, given_on=given_on, channel=channel, case_ref=case_ref,
                  department=department, employee=employee, csat=csat, csat_good=csat_good, nps=nps,
                  low=is_low(csat, csat_good, nps), comment=comment, fingerprint=fingerprint(normal),
                  manager=manager), []


# --- storing ------------------------------------------------------------------------------------


@dataclass
class Counts:
    received: int = 0
    created: int = 0
    skipped: int = 0  # stored before with the same content
    follow_ups: int = 0
    conflicts: list[tuple[Any, str]] = field(default_factory=list)  # (row or index, external id)

    def as_dict(self) -> dict[str, int]:
        return {"received": self.received, "created": self.created, "skipped": self.skipped,
                "follow_ups": self.follow_ups}


class Store:
    """Writes parsed scores chunk by chunk inside one write transaction (or only checks them,
    with ``write=False``): duplicates within the batch are caught in a set, earlier scores of
    the same source are looked up per chunk only for sources that had any."""

    def __init__(self, directory: Directory, *, write: bool, now: datetime | None = None):
        self.directory = directory
        self.write = write
        self.now = now or utcnow()
        self.follow_up_since = today() - timedelta(days=FOLLOW_UP_WINDOW_DAYS)
        self.seen: dict[tuple[str, str], Any] = {}
        self.sources_with_rows: dict[str, bool] = {}
        self.pending: list[tuple[Any, Parsed]] = []
        self.counts = Counts()
        self.next_id: int | None = None
        self.writing: asyncio.Task | None = None

    def duplicate(self, parsed: Parsed, where: Any) -> Any:
        """Where this external id was first seen in the batch, or None (and remember it)."""
        key = (parsed.source, parsed.external_id)
        first = self.seen.get(key)
        if first is None:
            self.seen[key] = where
        return first

    async def add(self, where: Any, parsed: Parsed) -> None:
        self.counts.received += 1
        self.pending.append((where, parsed))
        if len(self.pending) >= CHUNK:
            await self.flush()

    async def flush(self) -> None:
        pending, self.pending = self.pending, []
        if not pending:
            return
        existing = await self._existing(pending)
        fresh: list[Parsed] = []
        for where, parsed in pending:
            known = existing.get((parsed.source, parsed.external_id))
            if known is None:
                fresh.append(parsed)
            elif known == parsed.fingerprint:
                self.counts.skipped += 1
            else:
                self.counts.conflicts.append((where, parsed.external_id))
        self.counts.created += len(fresh)
        if not self.write or not fresh or self.counts.conflicts:
            # A check, or a batch already refused: count what would happen, write nothing.
            self.counts.follow_ups += sum(1 for p in fresh if p.low and p.given_on >= self.follow_up_since)
            return
        ids = await self._ids(len(fresh))
        now = self.now
        scores = [(i, p.source, p.external_id, p.given_on, p.channel, p.case_ref, p.department, p.employee, p.csat,
                   p.csat_good, p.nps, p.low, p.comment, p.fingerprint, now) for i, p in zip(ids, fresh)]
        due = now + timedelta(hours=FOLLOW_UP_HOURS)
        follow_ups = [
            (i, p.department, self.directory.owner(p.department, p.manager), due, "open", "", "", now)
            for i, p in zip(ids, fresh) if p.low and p.given_on >= self.follow_up_since
        ]
        self.counts.follow_ups += len(follow_ups)
        await self.drain()
        if db.is_sqlite():
            # SQLite writes in aiosqlite's thread without holding the GIL: let it insert this
            # chunk while the next one is parsed. (asyncpg encodes COPY rows on this thread.)
            self.writing = asyncio.create_task(self._insert(scores, follow_ups))
        else:
            await self._insert(scores, follow_ups)

    async def _insert(self, scores: list[tuple], follow_ups: list[tuple]) -> None:
        await db.bulk_insert("customer_score", SCORE_COLUMNS, scores)
        await db.bulk_insert("customer_follow_up", FOLLOW_UP_COLUMNS, follow_ups)

    async def drain(self) -> None:
        """Wait for the chunk being written; its error, if any, is raised here."""
        if self.writing is not None:
            task, self.writing = self.writing, None
            await task

    async def finish(self) -> None:
        """Write what is left and wait until everything is written."""
        try:
            await self.flush()
        finally:
            await self.drain()

    async def _existing(self, pending: list[tuple[Any, Parsed]]) -> dict[tuple[str, str], str]:
        by_source: dict[str, list[str]] = {}
        for _where, parsed in pending:
            by_source.setdefault(parsed.source, []).append(parsed.external_id)
        found: dict[tuple[str, str], str] = {}
        for source, external_ids in by_source.items():
            if source not in self.sources_with_rows:
                rows = await db.fetch("SELECT 1 AS hit FROM customer_score WHERE source = {} LIMIT 1", source)
                self.sources_with_rows[source] = bool(rows)
            if not self.sources_with_rows[source]:
                continue  # nothing stored before for this source: only this batch, caught by `seen`
            for start in range(0, len(external_ids), 500):
                part = external_ids[start:start + 500]
                rows = await db.fetch(
                    f"SELECT external_id, fingerprint FROM customer_score WHERE source = {{}} AND external_id IN"
                    f" ({db.placeholders(len(part))})", source, *part)
                found.update({(source, r["external_id"]): r["fingerprint"] for r in rows})
        return found

    async def _ids(self, count: int) -> list[int]:
        """Ids up front, so follow-ups can point at their scores without reading them back.
        PostgreSQL takes them from the sequence; on SQLite BEGIN IMMEDIATE keeps others out."""
        if db.engine().engine_type == "postgres":
            rows = await db.fetch(
                "SELECT nextval(pg_get_serial_sequence('customer_score', 'id')) AS id FROM generate_series(1, {})", count)
            return [r["id"] for r in rows]
        if self.next_id is None:
            self.next_id = (await db.fetch("SELECT COALESCE(MAX(id), 0) + 1 AS top FROM customer_score"))[0]["top"]
        first = self.next_id
        self.next_id += count
        return list(range(first, first + count))


class ScoresRefused(Exception):
    """The batch has problems; nothing of it was saved. ``problems``: (row or index, field, message)."""

    def __init__(self, problems: list[tuple[Any, str, str]], status: int = 422):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems
        self.status = status


def conflict_message(external_id: str) -> str:
    return _("A score with the external id “%(id)s” is already stored with different content.", id=external_id)


async def save_batch(actor: Actor, items: list[dict[str, str]], *, source: str, checksum: str, via: str) -> dict[str, int]:
    """Save a batch of scores given as texts by field (the API's items): all or nothing.

    Raises ScoresRefused(422) naming each bad item by index, or ScoresRefused(409) naming the
    external ids already stored with other content. Items stored before with the same content
    are skipped. One audit entry with the counts and the checksum of the body.
    """
    today_ = today()
    async with db.write():
        directory = await Directory.load(employee_refs=[i.get("employee", "") for i in items])
        store = Store(directory, write=True)
        problems: list[tuple[Any, str, str]] = []
        for index, values in enumerate(items):
            parsed, found = parse_score(values, directory, source, today_)
            if parsed is not None and store.duplicate(parsed, index) is not None:
                found = [("external_id", _("The external id “%(id)s” is also in item %(index)s.",
                                           id=parsed.external_id, index=store.seen[(parsed.source, parsed.external_id)]))]
            if found:
                problems.extend((index, f, m) for f, m in found)
            elif not problems:
                await store.add(index, parsed)  # type: ignore[arg-type]
        if problems:
            await store.drain()
            raise ScoresRefused(problems)
        await store.finish()
        if store.counts.conflicts:
            raise ScoresRefused([(i, "external_id", conflict_message(e)) for i, e in store.counts.conflicts], 409)
        counts = store.counts.as_dict()
        await audit.record(actor, "scores.batch", object_type="scores", object_id=checksum[:16],
                           summary=f"{counts['created']} scores from {source}", source=source, via=via,
                           sha256=checksum, **counts)
    return counts


# --- follow-ups ---------------------------------------------------------------------------------

FOLLOW_UP_SELECT = (
    "SELECT f.id, f.score, f.department, f.assignee, f.due_at, f.status, f.outcome, f.note, f.authority_use,"
    " f.closed_at, f.closed_by, f.created_at, s.given_on, s.channel, s.case_ref, s.csat, s.csat_good, s.nps,"
    " s.comment, s.source, s.external_id, s.employee, d.name_en AS department_en, d.name_ru AS department_ru,"
    " a.full_name AS assignee_name, e.full_name AS employee_name"
    " FROM customer_follow_up f JOIN customer_score s ON s.id = f.score JOIN department d ON d.id = f.department"
    " LEFT JOIN person a ON a.id = f.assignee LEFT JOIN person e ON e.id = s.employee"
)


def _normalise_follow_up(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    for key in ("due_at", "closed_at", "created_at"):
        if isinstance(row.get(key), str):
            row[key] = datetime.fromisoformat(row[key])
    if isinstance(row.get("given_on"), str):
        row["given_on"] = date.fromisoformat(row["given_on"])
    due = row["due_at"]
    if due is not None and due.tzinfo is None:
        row["due_at"] = due = due.replace(tzinfo=now.tzinfo)
    row["overdue"] = row["status"] == "open" and due < now
    return row


async def follow_ups_for(actor: Actor, *, status: str = "open", limit: int = 200) -> dict[str, Any]:
    """The follow-ups the actor acts on: assigned to them, and (for department heads) those of
    the departments they head; for those who read every score, all of them. Overdue first."""
    require(actor, "scores.follow_ups")
    from servicechain.platform.security import can, department_paths_headed

    reach, reach_args = "1 = 1", []
    if not can(actor, "scores.view_all"):
        paths = await department_paths_headed(actor.person_id)  # type: ignore[arg-type]
        reach = "(" + " OR ".join(["f.assignee = {}"] + ["d.path LIKE {}"] * len(paths)) + ")"
        reach_args = [actor.person_id, *[p + "%" for p in paths]]
    now = utcnow()
    conditions, args = [reach], list(reach_args)
    if status in ("open", "closed"):
        conditions.append("f.status = {}")
        args.append(status)
    else:  # overdue
        conditions.append("f.status = 'open' AND f.due_at < {}")
        args.append(now)
    order = "f.closed_at DESC, f.id DESC" if status == "closed" else "f.due_at, f.id"
    rows = await db.fetch(f"{FOLLOW_UP_SELECT} WHERE {' AND '.join(conditions)} ORDER BY {order} LIMIT {int(limit)}",
                          *args)
    counts = await db.fetch(
        "SELECT COUNT(*) AS n, SUM(CASE WHEN f.due_at < {} THEN 1 ELSE 0 END) AS overdue FROM customer_follow_up f"
        f" JOIN department d ON d.id = f.department WHERE f.status = 'open' AND {reach}", now, *reach_args)
    return {"rows": [_normalise_follow_up(r, now) for r in rows], "open": counts[0]["n"] or 0,
            "overdue": counts[0]["overdue"] or 0}


async def follow_up_detail(actor: Actor, follow_up_id: int) -> dict[str, Any]:
    """One follow-up with its score, and the assignee's authority for the case (what they may
    still spend on it), so they can make it right at once. 404 for those who may not see it."""
    from servicechain.goals.authority import service as authority

    base = await score_follow_up_for(actor, follow_up_id)
    rows = await db.fetch(f"{FOLLOW_UP_SELECT} WHERE f.id = {{}}", follow_up_id)
    row = _normalise_follow_up(rows[0], utcnow())
    row["_acts"] = base["_acts"]
    items: list[dict[str, Any]] = []
    uses: list[dict[str, Any]] = []
    if row["assignee"]:
        items = await authority.authority_of(row["assignee"], case_ref=row["case_ref"] or None)
        if row["case_ref"]:
            uses = await db.fetch(
                "SELECT u.id, u.amount, u.used_on, u.action, s.code AS scope_code, s.name_en, s.name_ru, s.kind, s.unit,"
                " p.full_name AS grantee_name FROM authority_use u JOIN authority_scope s ON s.id = u.scope"
                " JOIN person p ON p.id = u.grantee WHERE u.case_ref = {} ORDER BY u.id", row["case_ref"])
    linked = None
    if row["authority_use"]:
        found = await db.fetch(
            "SELECT u.id, u.amount, u.used_on, u.case_ref, s.code AS scope_code, s.name_en, s.name_ru, s.kind, s.unit"
            " FROM authority_use u JOIN authority_scope s ON s.id = u.scope WHERE u.id = {}", row["authority_use"])
        linked = found[0] if found else None
    return {"follow_up": row, "authority": items, "case_uses": uses, "linked_use": linked}


async def close_follow_up(actor: Actor, follow_up_id: int, values: dict[str, Any]) -> None:
    """Record the outcome: called back, resolved or compensated (then naming the authority use
    on this case that compensated the customer). For the assignee and the department's heads;
    FormInvalid for a bad outcome, DomainError(409) when it is closed already. Audited."""
    row = await score_follow_up_for(actor, follow_up_id, write=True)
    outcome = str(values.get("outcome") or "").strip()
    note = str(values.get("note") or "").strip()
    raw_use = str(values.get("authority_use") or "").strip()
    errors: dict[str, list[str]] = {}
    if outcome not in OUTCOMES:
        errors["outcome"] = [_("Choose what was done.")]
    if len(note) > 2000:
        errors["note"] = [_("At most %(n)s characters.", n=2000)]
    use_id: int | None = None
    if outcome == "compensated":
        if not raw_use.isdigit():
            errors["authority_use"] = [_("Choose the use of authority that compensated the customer.")]
        else:
            use_id = int(raw_use)
    elif raw_use:
        use_id = int(raw_use) if raw_use.isdigit() else None
        if use_id is None:
            errors["authority_use"] = [_("Choose a use of authority from the list.")]
    if use_id is not None and "authority_use" not in errors:
        score = await db.fetch("SELECT case_ref FROM customer_score WHERE id = {}", row["score"])
        use = await db.fetch("SELECT case_ref FROM authority_use WHERE id = {}", use_id)
        if not use or not score[0]["case_ref"] or use[0]["case_ref"] != score[0]["case_ref"]:
            errors["authority_use"] = [_("That use of authority is not on this case.")]
    if errors:
        raise FormInvalid(errors)
    now = utcnow()
    async with db.write():
        done = await db.fetch(
            "UPDATE customer_follow_up SET status = 'closed', outcome = {}, note = {}, authority_use = {},"
            " closed_at = {}, closed_by = {} WHERE id = {} AND status = 'open' RETURNING id",
            outcome, note, use_id, now, actor.person_id, follow_up_id)
        if not done:
            raise DomainError(_("This follow-up is closed already."), 409)
        await audit.record(actor, "scores.follow_up.close", object_type="customer_follow_up", object_id=follow_up_id,
                           summary=outcome, outcome=outcome, authority_use=use_id)


async def compensate(actor: Actor, follow_up_id: int, data: dict[str, Any]) -> int:
    """The assignee makes it right at once: records a use of their own authority on the score's
    case and closes the follow-up as compensated, linked to that use. FormInvalid for bad input,
    UseRefused (nothing recorded; the refusal is audited) over a limit. Returns the use's id."""
    from servicechain.goals.authority import forms as authority_forms
    from servicechain.goals.authority import service as authority

    row = await score_follow_up_for(actor, follow_up_id, write=True)
    if row["status"] != "open":
        raise DomainError(_("This follow-up is closed already."), 409)
    if row["assignee"] != actor.person_id:
        raise FormInvalid({"scope_id": [_("Only the person the follow-up is assigned to can use their authority here.")]})
    score = (await db.fetch("SELECT case_ref FROM customer_score WHERE id = {}", row["score"]))[0]
    if not score["case_ref"]:
        raise FormInvalid({"scope_id": [_("This score names no case, so authority cannot be recorded against it.")]})
    raw_scope = str(data.get("scope_id") or "").strip()
    items = await authority.authority_of(actor.person_id, case_ref=score["case_ref"])  # type: ignore[arg-type]
    scope = next((i["scope"] for i in items if str(i["scope"]["id"]) == raw_scope), None)
    if scope is None:
        raise FormInvalid({"scope_id": [_("Choose from the list.")]})
    values, errors = authority_forms.parse_use({**data, "case_ref": score["case_ref"]}, scope["kind"], today())
    if errors:
        raise FormInvalid(errors)
    result = await authority.record_use(actor, grantee_id=actor.person_id, scope_id=scope["id"],  # type: ignore[arg-type]
                                        **values)
    await close_follow_up(actor, follow_up_id, {"outcome": "compensated", "authority_use": str(result.use_id),
                                                "note": values.get("action") or data.get("note") or ""})
    return result.use_id


async def reassign_follow_up(actor: Actor, follow_up_id: int, person_id: Any) -> None:
    """Hand a follow-up to a chosen person: an active colleague. For the assignee and the
    department's heads. Notifies the new assignee. Audited."""
    from servicechain.platform import outbox
    from servicechain.platform.people.tables import Person

    row = await score_follow_up_for(actor, follow_up_id, write=True)
    if row["status"] != "open":
        raise DomainError(_("This follow-up is closed already."), 409)
    raw = str(person_id or "").strip()
    target = await Person.select().where(Person.id == int(raw)).first().run() if raw.isdigit() and len(raw) < 10 else None
    if target is None or not target["active"]:
        raise FormInvalid({"assignee": [_("Choose someone who works here.")]})
    async with db.write():
        await ScoreFollowUp.update({ScoreFollowUp.assignee: target["id"]}).where(ScoreFollowUp.id == follow_up_id).run()
        await outbox.notify(target["id"], _("A low customer score was handed to you to follow up."),
                            f"/customers/follow-ups/{follow_up_id}")
        await audit.record(actor, "scores.follow_up.assign", object_type="customer_follow_up", object_id=follow_up_id,
                           summary=target["full_name"], before={"assignee": row["assignee"]},
                           after={"assignee": target["id"]})


async def may_reassign_to(actor: Actor, follow_up: dict[str, Any]) -> list[dict[str, Any]]:
    """Whom the follow-up may be handed to: the active people of its department (and below)."""
    if not follow_up.get("_acts"):
        return []
    path = await db.fetch("SELECT path FROM department WHERE id = {}", follow_up["department"])
    if not path:
        return []
    return await db.fetch(
        "SELECT p.id, p.full_name, p.employee_number FROM person p JOIN department d ON d.id = p.department"
        " WHERE p.active = {} AND d.path LIKE {} ORDER BY p.full_name LIMIT 300", True, path[0]["path"] + "%")


async def remind_overdue(now: datetime | None = None) -> int:
    """Tell each assignee once about follow-ups that went past their due time (mail when they
    have an address, and a notification). Returns how many were reminded."""
    from servicechain.platform import outbox
    from servicechain.platform.i18n import use_language

    now = now or utcnow()
    async with db.write():
        rows = await db.fetch(
            "SELECT f.id, f.assignee, p.email, p.language FROM customer_follow_up f JOIN person p ON p.id = f.assignee"
            " WHERE f.status = 'open' AND f.due_at < {} AND f.reminded_at IS NULL AND p.active = {} ORDER BY f.id"
            " LIMIT 2000", now, True)
        by_person: dict[int, list[dict[str, Any]]] = {}
        for row in rows:
            by_person.setdefault(row["assignee"], []).append(row)
        for person_id, items in by_person.items():
            with use_language(items[0]["language"] or "ru"):
                from servicechain.platform.i18n import ngettext

                text = ngettext("%(count)s customer follow-up is overdue.", "%(count)s customer follow-ups are overdue.",
                                len(items), count=len(items))
                await outbox.notify(person_id, text, "/customers/follow-ups?status=overdue")
                if items[0]["email"]:
                    await outbox.enqueue_mail(items[0]["email"], text, text + "\n\n" + _(
                        "Call the customers back and record what was done: %(link)s",
                        link="/customers/follow-ups?status=overdue"))
        ids = [r["id"] for r in rows]
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            await db.fetch(f"UPDATE customer_follow_up SET reminded_at = {{}} WHERE id IN ({db.placeholders(len(part))})",
                           now, *part)
        if ids:
            await audit.record(audit_actor(), "scores.follow_up.remind", object_type="customer_follow_up",
                               summary=f"{len(ids)} overdue", count=len(ids), people=len(by_person))
    return len(rows)


def audit_actor() -> Actor:
    from servicechain.platform.security import SYSTEM

    return SYSTEM


Progress = Callable[[str, int, int], None]


async def home_follow_ups(actor: Actor) -> dict[str, int]:
    """What the home page shows: the open follow-ups assigned to the actor, and how many are overdue."""
    if not actor.is_person:
        return {"open": 0, "overdue": 0}
    rows = await db.fetch(
        "SELECT COUNT(*) AS n, SUM(CASE WHEN due_at < {} THEN 1 ELSE 0 END) AS overdue FROM customer_follow_up"
        " WHERE assignee = {} AND status = 'open'", utcnow(), actor.person_id)
    return {"open": rows[0]["n"] or 0, "overdue": rows[0]["overdue"] or 0}
