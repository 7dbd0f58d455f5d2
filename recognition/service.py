"""Recognition and rewards: company values, thanks between colleagues, feeds, manager rewards
within a budget, and what people would like to be rewarded with.

Permissions come from platform.security (capabilities and the ``*_for`` loaders); every change
is written in one transaction with its audit entry. Messages for people are in their language.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from servicechain.platform import audit, db, outbox
from servicechain.platform.config import get_settings
from servicechain.platform.i18n import current_language, format_date, format_datetime, format_money, lazy_gettext, ngettext, use_language
from servicechain.platform.i18n import gettext as _
from servicechain.platform.lib.text import fold
from servicechain.platform.people.service import department_name, today
from servicechain.platform.people.tables import Department, Person
from servicechain.platform.security import (
    Actor,
    NotFound,
    can,
    department_for,
    is_in_reach,
    manages,
    people_in_reach,
    person_for,
    preferences_for,
    recognition_for,
    require,
    reward_budget_for,
    reward_report_scope,
    utcnow,
)
from servicechain.platform.web import DomainError, FormInvalid
from servicechain.recognition.forms import (
    BudgetForm,
    PreferencesForm,
    RecognitionForm,
    RewardForm,
    ValueForm,
)
from servicechain.recognition.tables import (
    MONEY_KINDS,
    REACTIONS,
    REWARD_KINDS,
    CompanyValue,
    RecognitionReaction,
    RecognitionRecipient,
    Reward,
    RewardBudget,
    RewardPreference,
)

# A colleague may thank this many times in 24 hours: enough for a busy day, not for a script.
DAILY_LIMIT = 20
# PostgreSQL advisory lock namespaces (the two-integer key space, apart from the one-bigint keys
# of platform.audit, outbox and accounts): the second key is a person's id.
SENDER_LOCK = 7_305_101  # a sender's thanks, counted against the daily limit
BUDGET_PERIODS_LOCK = 7_305_102  # a manager's budget periods, which may not overlap
REACTIONS_LOCK = 7_305_103  # a person's reactions, each toggled on or off
PREFERENCES_LOCK = 7_305_104  # a person's one ranking of reward kinds
PAGE_SIZE = 20
PERIODS = (7, 30, 90, 365)  # the feed filter's "last N days"

KIND_LABELS = {
    "bonus": lazy_gettext("Bonus"),
    "gift": lazy_gettext("Gift"),
    "day_off": lazy_gettext("Extra day off"),
    "praise": lazy_gettext("Public praise"),
    "learning": lazy_gettext("Learning budget"),
    "responsibility": lazy_gettext("New responsibility"),
}
REACTION_LABELS = {
    "thanks": lazy_gettext("Thanks"),
    "applause": lazy_gettext("Applause"),
    "heart": lazy_gettext("Love it"),
}


def reaction_choices() -> list[tuple[str, str]]:
    return [(k, str(REACTION_LABELS[k])) for k in REACTIONS]


def amount_text(kopecks: int) -> str:
    """Kopecks as a form shows them again: "5000" or "1500.50"."""
    roubles, rest = divmod(kopecks, 100)
    return f"{roubles}.{rest:02d}" if rest else str(roubles)


def kind_label(kind: str) -> str:
    return str(KIND_LABELS.get(kind, kind))


def value_name(row: dict[str, Any], prefix: str = "") -> str:
    ru, en = row.get(prefix + "name_ru"), row.get(prefix + "name_en")
    return (ru if current_language() == "ru" else en) or en or ru or ""


def value_description(row: dict[str, Any]) -> str:
    return (row["description_ru"] if current_language() == "ru" else row["description_en"]) or ""


# --- company values --------------------------------------------------------------------------


async def list_values(*, include_retired: bool = False) -> list[dict[str, Any]]:
    # Raw SQL: the feed, the thanks form and every thanks sent ask for these, and the ORM's
    # query building cost more CPU than the query.
    rows = await db.fetch("SELECT * FROM company_value" + ("" if include_retired else " WHERE retired_at IS NULL")
                          + " ORDER BY position, id")
    for row in rows:
        row["name"] = value_name(row)
        row["description"] = value_description(row)
    return rows


async def value_for_edit(actor: Actor, value_id: int) -> dict[str, Any]:
    require(actor, "recognition.values_manage")
    row = await CompanyValue.select().where(CompanyValue.id == value_id).first().run()
    if row is None:
        raise NotFound()
    return row


async def save_value(actor: Actor, data: dict[str, Any], value_id: int | None = None) -> int:
    """Admins define values. The code is what the API and chat bots name, so it is unique."""
    require(actor, "recognition.values_manage")
    form = ValueForm.from_data(data)
    errors = form.validate()
    async with db.write():
        before = await value_for_edit(actor, value_id) if value_id else None
        if not errors:
            clash = await CompanyValue.select(CompanyValue.id).where(CompanyValue.code == form.parsed["code"]).first().run()
            if clash and clash["id"] != value_id:
                errors["code"] = [_("A value with this code already exists.")]
        if errors:
            raise FormInvalid(errors)
        if before is None:
            row = CompanyValue(**form.parsed)
            await row.save().run()
            value_id = row.id
            await audit.record(actor, "value.create", object_type="company_value", object_id=value_id,
                               summary=f"Company value {form.parsed['code']} defined", after=form.parsed)
        else:
            await CompanyValue.update(form.parsed).where(CompanyValue.id == value_id).run()
            await audit.record(actor, "value.update", object_type="company_value", object_id=value_id,
                               summary=f"Company value {form.parsed['code']} changed",
                               before={k: before[k] for k in form.parsed}, after=form.parsed)
    return value_id  # type: ignore[return-value]


async def set_value_retired(actor: Actor, value_id: int, retired: bool) -> None:
    """Retired values cannot be chosen any more; recognitions that named them keep the name."""
    async with db.write():
        row = await value_for_edit(actor, value_id)
        await CompanyValue.update({CompanyValue.retired_at: utcnow() if retired else None}).where(
            CompanyValue.id == value_id).run()
        await audit.record(actor, "value.retire" if retired else "value.restore", object_type="company_value",
                           object_id=value_id, summary=f"Company value {row['code']} {'retired' if retired else 'restored'}")


async def _one_at_a_time(namespace: int, person_id: int) -> None:
    """Inside a write transaction: wait until no other transaction holds this person's lock of
    this kind, until commit. For checks that count or look for rows and then insert: PostgreSQL's
    READ COMMITTED lets two transactions read the same rows before either inserts, and the
    statement after the lock reads what the one before us committed. SQLite needs nothing: its
    write transactions (BEGIN IMMEDIATE) already run one at a time."""
    if db.engine().engine_type == "postgres":
        await db.fetch("SELECT pg_advisory_xact_lock({}, {})", namespace, person_id)


# --- giving thanks ---------------------------------------------------------------------------


PERSON_COLUMNS = "id, full_name, email, employee_number, department, active, language"


def _person_query(identifiers: list[str]) -> tuple[str, list[Any]]:
    # Emails are stored lower-case (every way in lowers them, as signing in relies on), so the
    # email's own index finds them; lower(email) read all 20,000 people on every thanks.
    lowered = [i.lower() for i in identifiers]
    return (f"SELECT {PERSON_COLUMNS} FROM person WHERE email IN ({db.placeholders(len(lowered))})"
            f" OR employee_number IN ({db.placeholders(len(identifiers))})", [*lowered, *identifiers])


def _match_people(identifiers: list[str], rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for ident in identifiers:
        for row in rows:
            if (row["email"] or "").lower() == ident.lower() or row["employee_number"] == ident:
                found[ident] = row
                break
    return found


async def find_people(identifiers: list[str]) -> dict[str, dict[str, Any]]:
    """People by email (any case) or employee number; unknown identifiers are left out."""
    if not identifiers:
        return {}
    sql, args = _person_query(identifiers)
    return _match_people(identifiers, await db.fetch(sql, *args))


async def give_recognition(actor: Actor, data: dict[str, Any], *, sender_id: int | None = None) -> int:
    """Thank one or more colleagues for one or more company values.

    The sender is the actor, or for an API token (a chat bot trusted to speak for its users)
    the person named by ``sender_id``. Refused, with nothing saved: thanking yourself, someone
    who has left or is unknown, a retired or unknown value, an empty or overlong message, and
    more than DAILY_LIMIT recognitions from one sender in 24 hours. Recipients are notified in
    the app; the audit entry names the actor (a person or the token).
    """
    return (await _give(actor, data, sender_id))["id"]


async def give_recognition_card(actor: Actor, data: dict[str, Any], *,
                                 every_value: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """give_recognition for a person, returning the new recognition's card as ``hydrate`` shows
    it to them, its sender (no reactions yet): made from what was just written instead of read
    back, which cost the thanks form three more queries. ``every_value``: list_values(include_retired=True)
    when the caller has read it (the form shows the values again), so they are read once."""
    return await _give(actor, data, None, every_value)


async def _give(actor: Actor, data: dict[str, Any], sender_id: int | None,
                every_value: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    require(actor, "api.recognition.write" if actor.kind == "token" else "recognition.give")
    if actor.kind != "token":
        sender_id = actor.person_id
    form = RecognitionForm.from_data(data)
    errors = form.validate()
    # Every check that needs no lock is read before the transaction, the sender and the
    # recipients in one query: under load each query inside a write transaction holds SQLite's
    # one writer for a trip through the event loop. Only the daily limit must be counted
    # atomically with the insert, and the insert itself counts it.
    sql = f"SELECT 1 AS part, {PERSON_COLUMNS} FROM person WHERE id = {{}}"
    args: list[Any] = [sender_id or 0]
    if form.to:
        recipients_sql, recipients_args = _person_query(form.to)
        sql += " UNION ALL " + recipients_sql.replace("SELECT ", "SELECT 2 AS part, ", 1)
        args += recipients_args
    rows = await db.fetch(sql, *args)
    sender = next((r for r in rows if r["part"] == 1), None) if sender_id else None
    if sender is None or not sender["active"]:
        errors.setdefault("from", []).append(_("The sender is not someone who works here."))
    people = _match_people(form.to, [r for r in rows if r["part"] == 2])
    recipients: list[dict[str, Any]] = []
    for ident in form.to:
        person = people.get(ident)
        if person is None:
            errors.setdefault("to", []).append(_("Nobody has the email or employee number %(who)s.", who=ident))
        elif not person["active"]:
            errors.setdefault("to", []).append(_("%(name)s has left the company.", name=person["full_name"]))
        elif sender and person["id"] == sender["id"]:
            errors.setdefault("to", []).append(_("You cannot thank yourself; thank a colleague."))
        elif person["id"] not in {r["id"] for r in recipients}:
            recipients.append(person)
    if every_value is not None:
        values = [v for v in every_value if v["code"] in form.values]
    else:
        values = await db.fetch("SELECT id, code, name_en, name_ru, position, retired_at FROM company_value"
                                f" WHERE code IN ({db.placeholders(len(form.values))})", *form.values) if form.values else []
    by_code = {v["code"]: v for v in values}
    for code in form.values:
        if code not in by_code:
            errors.setdefault("values", []).append(_("There is no company value %(code)s.", code=code))
        elif by_code[code]["retired_at"] is not None:
            errors.setdefault("values", []).append(
                _("The value “%(name)s” has been retired; choose a current one.", name=value_name(by_code[code])))
    if errors:
        raise FormInvalid(errors)
    public = form.visibility == "public"
    async with db.write():
        # Two thanks of one sender at once would both count 19 and both insert the 20th.
        await _one_at_a_time(SENDER_LOCK, sender["id"])  # type: ignore[index]
        # The time is taken holding the writer (and the sender's lock), so ids and times keep the
        # same order (the feeds' period filter relies on it, see _first_id_since) and the 24 hours
        # are counted back from the moment of the insert, not from before a wait for the lock.
        now = utcnow()
        # Inserted only while the sender is under the daily limit, counted in the same statement.
        inserted = await db.fetch(
            "INSERT INTO recognition (sender, message, story, case_ref, public, created_at, via_token)"
            " SELECT {}, {}, {}, {}, {}, {}, {}"
            " WHERE (SELECT COUNT(*) FROM recognition WHERE sender = {} AND created_at >= {}) < {} RETURNING id",
            sender["id"], form.message, form.story, form.case_ref, public, now,  # type: ignore[index]
            actor.name if actor.kind == "token" else "", sender["id"], now - timedelta(days=1), DAILY_LIMIT,  # type: ignore[index]
        )
        if not inserted:
            raise FormInvalid({"__all__": [_("You have sent %(n)s recognitions in the last 24 hours, the most allowed. "
                                             "Try again tomorrow.", n=DAILY_LIMIT)]})
        rec_id = inserted[0]["id"]
        await db.fetch(
            "INSERT INTO recognition_recipient (recognition, person, department, public) VALUES "
            + ", ".join(["({}, {}, {}, {})"] * len(recipients)),
            *[v for p in recipients for v in (rec_id, p["id"], p["department"], public)])
        await db.fetch(
            "INSERT INTO recognition_value (recognition, value, public) VALUES " + ", ".join(["({}, {}, {})"] * len(form.values)),
            *[v for c in form.values for v in (rec_id, by_code[c]["id"], public)])
        for person in recipients:
            with use_language(person["language"] or "ru"):
                await outbox.notify(person["id"], _("%(name)s thanked you: %(text)s", name=sender["full_name"],  # type: ignore[index]
                                                    text=form.message[:200]), f"/recognition/{rec_id}")
        await audit.record(
            actor, "recognition.give", object_type="recognition", object_id=rec_id,
            summary=f"{sender['full_name']} thanked {', '.join(p['full_name'] for p in recipients)}",  # type: ignore[index]
            sender=sender["id"], recipients=[p["id"] for p in recipients], values=form.values,  # type: ignore[index]
            public=public, token=actor.name if actor.kind == "token" else None,
        )
    # hydrate's shape and order: recipients as named, values by position.
    return {"id": rec_id, "sender": sender["id"], "message": form.message, "story": form.story,  # type: ignore[index]
            "case_ref": form.case_ref, "public": public, "created_at": now,
            "via_token": actor.name if actor.kind == "token" else "", "sender_name": sender["full_name"],  # type: ignore[index]
            "when": _when(now, current_language()),
            "recipients": [{"id": p["id"], "full_name": p["full_name"], "employee_number": p["employee_number"]}
                           for p in recipients],
            "values": [{"code": v["code"], "name": value_name(v)}
                       for v in sorted((by_code[c] for c in form.values), key=lambda v: (v["position"], v["id"]))],
            "reactions": {k: {"count": 0, "mine": False} for k in REACTIONS}}


async def toggle_reaction(actor: Actor, recognition_id: int, kind: str) -> None:
    """One reaction of each kind per person; reacting again takes it back."""
    async with db.write():
        await recognition_for(actor, recognition_id)
        if kind not in REACTIONS:
            raise DomainError(_("There is no such reaction."))
        key = f"{recognition_id}:{actor.person_id}:{kind}"
        # A double click: the second toggle must see the first one's reaction, not insert it again.
        await _one_at_a_time(REACTIONS_LOCK, actor.person_id)  # type: ignore[arg-type]
        existing = await RecognitionReaction.select(RecognitionReaction.id).where(RecognitionReaction.key == key).first().run()
        if existing:
            await RecognitionReaction.delete().where(RecognitionReaction.id == existing["id"]).run()
        else:
            await RecognitionReaction.insert(RecognitionReaction(recognition=recognition_id, person=actor.person_id,
                                                                 kind=kind, key=key, created_at=utcnow())).run()


# --- feeds -----------------------------------------------------------------------------------


async def _first_id_since(since: datetime) -> int:
    """Recognitions are written in time order (id and time come from one insert), so the first
    one written since then bounds the scan from below: one step on the created_at index. The
    feeds check the time as well, so nothing older than the period shows."""
    rows = await db.fetch("SELECT id FROM recognition WHERE created_at >= {} ORDER BY created_at LIMIT 1", since)
    return rows[0]["id"] if rows else 2**31 - 1


async def _subtree_ids(department: dict[str, Any]) -> list[int]:
    rows = await Department.select(Department.id).where(Department.path.like(department["path"] + "%")).run()
    return [r["id"] for r in rows]


async def feed(
    actor: Actor,
    *,
    department_id: int | None = None,
    person_id: int | None = None,
    value: str = "",
    days: int | None = None,
    before: int | None = None,
    limit: int = PAGE_SIZE,
) -> dict[str, Any]:
    """A page of recognitions, newest first: the company's, a department's (and those below), or
    one person's (received and given). Keyset paging: ``before`` is the last id of the previous
    page. Private recognitions appear only in the person feed, for the person and their managers.
    """
    require(actor, "recognition.view")
    args: list[Any] = []
    value_row = None
    if value:
        value_row = await CompanyValue.select().where(CompanyValue.code == value).first().run()
        if value_row is None:
            return {"items": [], "next": None}
    since = utcnow() - timedelta(days=days) if days else None
    # The smallest id written since then bounds the scan; the time itself is checked as well,
    # since rows loaded in bulk need not be in time order.
    floor = await _first_id_since(since) if since else 0
    recent = " AND EXISTS (SELECT 1 FROM recognition r2 WHERE r2.id = {} AND r2.created_at >= {{}})"
    ceiling = before if before else 2**31 - 1
    if person_id is not None:
        await person_for(actor, person_id)
        own = person_id == actor.person_id
        see_private_received = own or await manages(actor, person_id)
        received = "SELECT recognition AS id FROM recognition_recipient WHERE person = {} AND recognition < {} AND recognition >= {}"
        given = "SELECT id FROM recognition WHERE sender = {} AND id < {} AND id >= {}"
        received += "" if see_private_received else " AND public = {}"
        given += "" if own else " AND public = {}"
        parts = [received, given]
        args = [person_id, ceiling, floor, *([] if see_private_received else [True]),
                person_id, ceiling, floor, *([] if own else [True])]
        sql = f"SELECT id FROM ({parts[0]} UNION {parts[1]}) AS mine WHERE 1 = 1"
        if value_row:
            sql += " AND EXISTS (SELECT 1 FROM recognition_value rv WHERE rv.recognition = mine.id AND rv.value = {})"
            args.append(value_row["id"])
        if since:
            sql += recent.format("mine.id")
            args.append(since)
        sql += f" ORDER BY id DESC LIMIT {limit + 1}"
    elif department_id is not None:
        department = await department_for(actor, department_id)
        ids = await _subtree_ids(department)
        sql = ("SELECT DISTINCT rr.recognition AS id FROM recognition_recipient rr"
               f" WHERE rr.department IN ({db.placeholders(len(ids))}) AND rr.public = {{}} AND rr.recognition < {{}} AND rr.recognition >= {{}}")
        args = [*ids, True, ceiling, floor]
        if value_row:
            sql += " AND EXISTS (SELECT 1 FROM recognition_value rv WHERE rv.recognition = rr.recognition AND rv.value = {})"
            args.append(value_row["id"])
        if since:
            sql += recent.format("rr.recognition")
            args.append(since)
        sql += f" ORDER BY rr.recognition DESC LIMIT {limit + 1}"
    elif value_row:
        sql = "SELECT recognition AS id FROM recognition_value WHERE value = {} AND public = {} AND recognition < {} AND recognition >= {}"
        args = [value_row["id"], True, ceiling, floor]
        if since:
            sql += recent.format("recognition")
            args.append(since)
        sql += f" ORDER BY recognition DESC LIMIT {limit + 1}"
    else:
        # The company feed, the one everyone opens: the page's rows with their senders at once
        # (the same walk down the public-id index), so hydrate reads only the details.
        sql = (f"SELECT {CARD_COLUMNS} FROM recognition r JOIN person p ON p.id = r.sender"
               " WHERE r.public = {} AND r.id < {} AND r.id >= {}")
        args = [True, ceiling, floor]
        if since:
            sql += " AND r.created_at >= {}"
            args.append(since)
        sql += f" ORDER BY r.id DESC LIMIT {limit + 1}"
        rows = await db.fetch(sql, *args)
        return {"items": await hydrate(actor, [r["id"] for r in rows[:limit]], rows=rows[:limit]),
                "next": rows[limit - 1]["id"] if len(rows) > limit else None}
    rows = await db.fetch(sql, *args)
    ids = [r["id"] for r in rows[:limit]]
    return {"items": await hydrate(actor, ids), "next": ids[-1] if len(rows) > limit else None}


@lru_cache(maxsize=4096)
def _when(created_at: datetime, language: str) -> str:
    """A card's time as people read it, in ``language`` (the current one: the key says which).
    Babel's formatting cost more than the rest of a card, and a feed shows the same recent
    recognitions to everyone: the text depends only on the time, the language and the company's
    time zone, which is fixed for the process."""
    return format_datetime(created_at, "short")


CARD_COLUMNS = "r.id, r.sender, r.message, r.story, r.case_ref, r.public, r.created_at, r.via_token, p.full_name AS sender_name"


async def hydrate(actor: Actor, ids: list[int], *, rows: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Recognitions with sender, recipients, values and reactions, in the order of ``ids``;
    ``rows``: the recognitions' CARD_COLUMNS when the caller has read them already."""
    if not ids:
        return []
    marks = db.placeholders(len(ids))
    recs = rows if rows is not None else await db.fetch(
        f"SELECT {CARD_COLUMNS} FROM recognition r JOIN person p ON p.id = r.sender WHERE r.id IN ({marks})", *ids)
    # Recipients, values and reactions in one trip: on PostgreSQL each query is a round trip to
    # the server, and a feed page showed the cost of four.
    details = await db.fetch(
        "SELECT 'p' AS k, rr.recognition AS rec, p.id AS num, p.full_name AS t1, p.employee_number AS t2, '' AS t3, rr.id AS ord"
        f" FROM recognition_recipient rr JOIN person p ON p.id = rr.person WHERE rr.recognition IN ({marks})"
        " UNION ALL SELECT 'v', rv.recognition, v.position, v.code, v.name_en, v.name_ru, v.id"
        f" FROM recognition_value rv JOIN company_value v ON v.id = rv.value WHERE rv.recognition IN ({marks})"
        " UNION ALL SELECT 'x', recognition, COUNT(*), kind, '', '', SUM(CASE WHEN person = {} THEN 1 ELSE 0 END)"
        f" FROM recognition_reaction WHERE recognition IN ({marks}) GROUP BY recognition, kind",
        *ids, *ids, actor.person_id or 0, *ids)
    language = current_language()
    by_id = {r["id"]: {**r, "public": bool(r["public"]), "when": _when(r["created_at"], language), "recipients": [], "values": [],
                       "reactions": {k: {"count": 0, "mine": False} for k in REACTIONS}} for r in recs}
    for d in sorted(details, key=lambda d: (d["num"], d["ord"]) if d["k"] == "v" else (0, d["ord"])):
        target = by_id[d["rec"]]
        if d["k"] == "p":
            target["recipients"].append({"id": d["num"], "full_name": d["t1"], "employee_number": d["t2"]})
        elif d["k"] == "v":
            target["values"].append({"code": d["t1"], "name": value_name({"name_en": d["t2"], "name_ru": d["t3"]})})
        elif d["t1"] in target["reactions"]:
            target["reactions"][d["t1"]] = {"count": int(d["num"]), "mine": bool(d["ord"])}
    return [by_id[i] for i in ids if i in by_id]


async def recognition_card(actor: Actor, recognition_id: int) -> dict[str, Any]:
    await recognition_for(actor, recognition_id)
    return (await hydrate(actor, [recognition_id]))[0]


# --- rewards and budgets -----------------------------------------------------------------------


async def budget_status(manager_id: int, on: date | None = None) -> dict[str, Any] | None:
    """The manager's budget covering ``on`` (today), with what is spent and what remains."""
    on = on or today()
    budget = await RewardBudget.select().where(
        (RewardBudget.manager == manager_id) & (RewardBudget.starts_on <= on) & (RewardBudget.ends_on >= on)
    ).first().run()
    if budget is None:
        return None
    rows = await db.fetch("SELECT COALESCE(SUM(amount), 0) AS spent FROM reward WHERE from_budget = {}", budget["id"])
    spent = int(rows[0]["spent"])
    return {**budget, "spent": spent, "remaining": budget["amount"] - spent}


async def preference_ranking(person_id: int) -> dict[str, Any]:
    row = await RewardPreference.select().where(RewardPreference.person == person_id).first().run()
    ranking = [k for k in (row["ranking"] if row else "").split(",") if k in REWARD_KINDS]
    return {"ranking": ranking, "note": row["note"] if row else "", "updated_at": row["updated_at"] if row else None,
            "labels": [kind_label(k) for k in ranking]}


async def reward_form(actor: Actor, to: str = "") -> dict[str, Any]:
    """What the reward form shows: the recipient (when named and in reach) with their ranking
    of reward kinds as it is now, and what remains of the giver's budget."""
    require(actor, "rewards.give")
    recipient = None
    lookup_error = ""
    if to:
        found = (await find_people([to])).get(to)
        if found and found["id"] != actor.person_id and found["active"] and await is_in_reach(actor, found["id"]):
            # Preferences are for the person's managers up the chain and HR: an executive who may
            # reward anyone does not see those of people outside their own line.
            try:
                await preferences_for(actor, found["id"])
                preferences = await preference_ranking(found["id"])
            except NotFound:
                preferences = None
            recipient = {**found, "preferences": preferences}
        else:
            lookup_error = _("Nobody within your reach has the email or employee number %(who)s.", who=to)
    return {"recipient": recipient, "lookup_error": lookup_error, "budget": await budget_status(actor.person_id),  # type: ignore[arg-type]
            "values_options": [(v["code"], v["name"]) for v in await list_values()],
            "kinds": [(k, kind_label(k)) for k in REWARD_KINDS], "money_kinds": MONEY_KINDS}


async def give_reward(actor: Actor, data: dict[str, Any]) -> int:
    """A manager rewards someone in their reach. Kinds that cost money draw on the manager's
    budget for today; a reward over what remains is refused, saying what remains. The
    recipient's ranking of the kind at this moment is kept with the reward (the top-three
    metric reads it). Audited; the recipient is notified."""
    require(actor, "rewards.give")
    form = RewardForm.from_data(data)
    errors = form.validate()
    p = form.parsed
    async with db.write():
        recipient = (await find_people([form.to])).get(form.to) if form.to else None
        if form.to and recipient is None:
            errors.setdefault("to", []).append(_("Nobody has the email or employee number %(who)s.", who=form.to))
        elif recipient is not None:
            if recipient["id"] == actor.person_id:
                errors.setdefault("to", []).append(_("You cannot reward yourself."))
            elif not recipient["active"]:
                errors.setdefault("to", []).append(_("%(name)s has left the company.", name=recipient["full_name"]))
            elif not await is_in_reach(actor, recipient["id"]):
                errors.setdefault("to", []).append(_("%(name)s is not within your reach: you may reward only people you manage.",
                                                     name=recipient["full_name"]))
        value_id = None
        if p.get("value"):
            value_row = await CompanyValue.select().where(CompanyValue.code == p["value"]).first().run()
            if value_row is None:
                errors.setdefault("value", []).append(_("There is no company value %(code)s.", code=p["value"]))
            elif value_row["retired_at"] is not None:
                errors.setdefault("value", []).append(
                    _("The value “%(name)s” has been retired; choose a current one.", name=value_name(value_row)))
            else:
                value_id = value_row["id"]
        if p.get("recognition_id") and recipient is not None:
            try:
                await recognition_for(actor, p["recognition_id"])
                named = await RecognitionRecipient.exists().where(
                    (RecognitionRecipient.recognition == p["recognition_id"]) & (RecognitionRecipient.person == recipient["id"])).run()
            except NotFound:
                named = False
            if not named:
                errors.setdefault("recognition_id", []).append(_("That recognition does not thank this person."))
        budget = None
        if not errors and p["kind"] in MONEY_KINDS:
            if db.engine().engine_type == "postgres":  # two rewards at once must not both fit the last roubles
                await db.fetch("SELECT id FROM reward_budget WHERE manager = {} FOR UPDATE", actor.person_id)
            budget = await budget_status(actor.person_id)  # type: ignore[arg-type]
            if budget is None:
                errors["amount"] = [_("You have no reward budget for today; HR sets budgets.")]
            elif p["amount"] > budget["remaining"]:
                errors["amount"] = [_("This is over your budget: %(remaining)s remains until %(until)s.",
                                      remaining=format_money(budget["remaining"]), until=format_date(budget["ends_on"]))]
        if errors:
            raise FormInvalid(errors)
        ranking = (await preference_ranking(recipient["id"]))["ranking"]  # type: ignore[index]
        rank = ranking.index(p["kind"]) + 1 if p["kind"] in ranking else None
        reward = Reward(giver=actor.person_id, recipient=recipient["id"], kind=p["kind"], amount=p["amount"],  # type: ignore[index]
                        reason=p["reason"], value=value_id, recognition=p["recognition_id"], goal_id=p["goal_id"],
                        from_budget=budget["id"] if budget else None, preference_rank=rank,
                        department=recipient["department"], created_at=utcnow())  # type: ignore[index]
        await reward.save().run()
        with use_language(recipient["language"] or "ru"):  # type: ignore[index]
            await outbox.notify(recipient["id"], _("%(name)s gave you a reward: %(kind)s.", name=actor.name,  # type: ignore[index]
                                                   kind=kind_label(p["kind"])), "/rewards/")
        await audit.record(actor, "reward.give", object_type="reward", object_id=reward.id,
                           summary=f"Reward ({p['kind']}) to {recipient['full_name']}",  # type: ignore[index]
                           recipient=recipient["id"], kind=p["kind"], amount=p["amount"], value=p.get("value") or None,  # type: ignore[index]
                           recognition=p["recognition_id"], goal_id=p["goal_id"], preference_rank=rank,
                           budget=budget["id"] if budget else None)
    return reward.id


async def rewards_page(actor: Actor) -> dict[str, Any]:
    """Rewards the actor received and, for those who give them, gave; with their budget."""
    async def listing(column: str) -> list[dict[str, Any]]:
        rows = await db.fetch(
            "SELECT w.id, w.kind, w.amount, w.reason, w.created_at, w.preference_rank, g.full_name AS giver_name,"
            " r.full_name AS recipient_name, v.name_en, v.name_ru FROM reward w JOIN person g ON g.id = w.giver"
            " JOIN person r ON r.id = w.recipient LEFT JOIN company_value v ON v.id = w.value"
            f" WHERE w.{column} = {{}} ORDER BY w.created_at DESC, w.id DESC LIMIT 100", actor.person_id)
        for row in rows:
            row["kind_label"] = kind_label(row["kind"])
            row["value_name"] = value_name(row) if row["name_en"] else ""
        return rows

    giver = can(actor, "rewards.give")
    return {"received": await listing("recipient"), "given": await listing("giver") if giver else [],
            "budget": await budget_status(actor.person_id) if giver else None}  # type: ignore[arg-type]


async def set_budget(actor: Actor, data: dict[str, Any]) -> int:
    """HR sets a manager's reward budget for a period; periods of one manager may not overlap."""
    require(actor, "rewards.budgets")
    form = BudgetForm.from_data(data)
    errors = form.validate()
    p = form.parsed
    async with db.write():
        manager = (await find_people([form.manager])).get(form.manager) if form.manager else None
        if form.manager and (manager is None or not manager["active"]):
            errors.setdefault("manager", []).append(_("Nobody working here has the email or employee number %(who)s.",
                                                      who=form.manager))
        if not errors:  # two budgets set at once must not both find the period free
            await _one_at_a_time(BUDGET_PERIODS_LOCK, manager["id"])  # type: ignore[index]
        if not errors and await _overlaps(manager["id"], p["starts_on"], p["ends_on"]):  # type: ignore[index]
            errors["starts_on"] = [_("This manager already has a budget for part of this period.")]
        if errors:
            raise FormInvalid(errors)
        budget = RewardBudget(manager=manager["id"], starts_on=p["starts_on"], ends_on=p["ends_on"], amount=p["amount"],  # type: ignore[index]
                              set_by=actor.person_id, created_at=utcnow())
        await budget.save().run()
        await audit.record(actor, "reward_budget.set", object_type="reward_budget", object_id=budget.id,
                           summary=f"Reward budget for {manager['full_name']}", manager=manager["id"],  # type: ignore[index]
                           starts_on=p["starts_on"], ends_on=p["ends_on"], amount=p["amount"])
    return budget.id


async def _overlaps(manager_id: int, starts_on: date, ends_on: date, *, other_than: int | None = None) -> bool:
    """Periods of one manager may not overlap: a reward draws on the one budget covering its day."""
    clause = (RewardBudget.manager == manager_id) & (RewardBudget.starts_on <= ends_on) & (RewardBudget.ends_on >= starts_on)
    if other_than is not None:
        clause = clause & (RewardBudget.id != other_than)
    return await RewardBudget.exists().where(clause).run()


async def _drawn(budget_id: int) -> dict[str, Any]:
    """What has been given from a budget: how many rewards, how much, and on which days."""
    row = (await db.fetch("SELECT COUNT(*) AS n, COALESCE(SUM(amount), 0) AS spent, MIN(created_at) AS first,"
                          " MAX(created_at) AS last FROM reward WHERE from_budget = {}", budget_id))[0]
    tz = get_settings().tz

    def day(value: Any) -> date | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite hands aggregates of timestamps back as text
            value = datetime.fromisoformat(value)
        return value.astimezone(tz).date()

    return {"n": int(row["n"]), "spent": int(row["spent"]), "first": day(row["first"]), "last": day(row["last"])}


async def budget_for_edit(actor: Actor, budget_id: int) -> dict[str, Any]:
    """A budget with its manager and what has been drawn on it, for HR's edit form."""
    budget = await reward_budget_for(actor, budget_id)
    manager = await Person.select(Person.id, Person.full_name, Person.employee_number).where(
        Person.id == budget["manager"]).first().run()
    return {**budget, "manager_row": manager, "drawn": await _drawn(budget_id)}


async def update_budget(actor: Actor, budget_id: int, data: dict[str, Any]) -> None:
    """HR changes a budget's period or amount; the manager stays. The amount cannot go below
    what has already been given from it, and the period must still hold the days those rewards
    were given on (otherwise they would count against no budget). Audited with before and after."""
    form = BudgetForm.from_data({**data, "manager": "-"})  # the manager is fixed; the form needs one
    errors = form.validate()
    p = form.parsed
    async with db.write():
        budget = await reward_budget_for(actor, budget_id)
        # A budget set for this manager meanwhile must count against the overlap check (the
        # manager's lock first, as set_budget takes it, then the row).
        await _one_at_a_time(BUDGET_PERIODS_LOCK, budget["manager"])
        if db.engine().engine_type == "postgres":  # a reward given meanwhile must count against the check
            await db.fetch("SELECT id FROM reward_budget WHERE id = {} FOR UPDATE", budget_id)
        drawn = await _drawn(budget_id)
        if p.get("amount") is not None and p["amount"] < drawn["spent"]:
            errors.setdefault("amount", []).append(
                _("%(spent)s has already been given from this budget; it cannot be less than that.",
                  spent=format_money(drawn["spent"])))
        if not errors and drawn["n"] and (p["starts_on"] > drawn["first"] or p["ends_on"] < drawn["last"]):
            errors["starts_on"] = [_("Rewards from this budget were given from %(first)s to %(last)s; the period must "
                                     "include those days.", first=format_date(drawn["first"]), last=format_date(drawn["last"]))]
        if not errors and await _overlaps(budget["manager"], p["starts_on"], p["ends_on"], other_than=budget_id):
            errors["starts_on"] = [_("This manager already has a budget for part of this period.")]
        if errors:
            raise FormInvalid(errors)
        change = {"starts_on": p["starts_on"], "ends_on": p["ends_on"], "amount": p["amount"]}
        await RewardBudget.update(change).where(RewardBudget.id == budget_id).run()
        await audit.record(actor, "reward_budget.update", object_type="reward_budget", object_id=budget_id,
                           summary="Reward budget changed", manager=budget["manager"],
                           before={k: budget[k] for k in change}, after=change)


async def remove_budget(actor: Actor, budget_id: int) -> None:
    """HR removes a budget set by mistake. One with rewards given from it stays (the rewards
    point at it): lower it to what is spent or shorten its period instead. Audited."""
    async with db.write():
        budget = await reward_budget_for(actor, budget_id)
        # A reward given meanwhile must count: rewards hold their budget's row while they check
        # it, and deleting the budget would delete a reward it missed with it (the key cascades).
        if db.engine().engine_type == "postgres":
            await db.fetch("SELECT id FROM reward_budget WHERE id = {} FOR UPDATE", budget_id)
        drawn = await _drawn(budget_id)
        if drawn["n"]:
            raise DomainError(ngettext(
                "%(num)s reward was given from this budget, so it cannot be removed; lower it to what is spent or end "
                "its period instead.",
                "%(num)s rewards were given from this budget, so it cannot be removed; lower it to what is spent or end "
                "its period instead.", drawn["n"]))
        await RewardBudget.delete().where(RewardBudget.id == budget_id).run()
        await audit.record(actor, "reward_budget.remove", object_type="reward_budget", object_id=budget_id,
                           summary="Reward budget removed", manager=budget["manager"],
                           before={k: budget[k] for k in ("starts_on", "ends_on", "amount")})


async def list_budgets(actor: Actor) -> list[dict[str, Any]]:
    require(actor, "rewards.budgets")
    rows = await db.fetch(
        "SELECT b.id, b.starts_on, b.ends_on, b.amount, p.full_name, p.id AS manager_id,"
        " COALESCE((SELECT SUM(amount) FROM reward w WHERE w.from_budget = b.id), 0) AS spent,"
        " (SELECT COUNT(*) FROM reward w WHERE w.from_budget = b.id) AS rewards"
        " FROM reward_budget b JOIN person p ON p.id = b.manager ORDER BY b.ends_on DESC, p.full_name LIMIT 500")
    for row in rows:
        row["remaining"] = row["amount"] - int(row["spent"])
    return rows


# --- preferences -------------------------------------------------------------------------------


async def preferences_card(actor: Actor, person_id: int) -> dict[str, Any]:
    """A person's ranking: for them, their managers up the chain and HR only (404 otherwise)."""
    person = await preferences_for(actor, person_id)
    return {"person": person, "preferences": await preference_ranking(person_id)}


async def save_preferences(actor: Actor, data: dict[str, Any]) -> None:
    """Each person ranks the kinds of reward they value most; kinds left blank are unranked."""
    require(actor, "rewards.preferences_own")
    form = PreferencesForm.from_data(data)
    errors = form.validate()
    if errors:
        raise FormInvalid(errors)
    async with db.write():
        ranking = ",".join(form.ranking)
        # Two saves at once: the second must update the ranking the first inserted.
        await _one_at_a_time(PREFERENCES_LOCK, actor.person_id)  # type: ignore[arg-type]
        existing = await RewardPreference.select(RewardPreference.id).where(RewardPreference.person == actor.person_id).first().run()
        if existing:
            await RewardPreference.update({RewardPreference.ranking: ranking, RewardPreference.note: form.note,
                                           RewardPreference.updated_at: utcnow()}).where(RewardPreference.id == existing["id"]).run()
        else:
            await RewardPreference.insert(RewardPreference(person=actor.person_id, ranking=ranking, note=form.note,
                                                           updated_at=utcnow())).run()
        await audit.record(actor, "reward_preference.save", object_type="person", object_id=actor.person_id,
                           summary="Reward preferences saved", ranking=form.ranking)


async def top_three_share(*, giver_id: int | None = None, department_id: int | None = None,
                          since: date | None = None, until: date | None = None) -> dict[str, Any]:
    """How many rewards fell in the recipient's top three kinds when given: for one giver, or
    for recipients in a department and those below (their department when rewarded), within
    the days ``since``..``until``. For reports (issue 9 reads it); callers check who may see it
    (``platform.security.reward_report_scope``). ``share`` is None when there were no rewards."""
    sql = "SELECT COUNT(*) AS n, SUM(CASE WHEN w.preference_rank <= 3 THEN 1 ELSE 0 END) AS top FROM reward w"
    where, args = [], []
    if department_id is not None:
        dept = await Department.select(Department.path).where(Department.id == department_id).first().run()
        if dept is None:
            raise NotFound()
        sql += " JOIN department d ON d.id = w.department"
        where.append("d.path LIKE {}")
        args.append(dept["path"] + "%")
    if giver_id is not None:
        where.append("w.giver = {}")
        args.append(giver_id)
    period, period_args = _period_bounds(since, until)
    where += period
    args += period_args
    if where:
        sql += " WHERE " + " AND ".join(where)
    row = (await db.fetch(sql, *args))[0]
    return _share(int(row["n"] or 0), int(row["top"] or 0))


def _period_bounds(since: date | None, until: date | None) -> tuple[list[str], list[Any]]:
    """Reward times within the days ``since``..``until`` inclusive, in the company's time zone."""
    where: list[str] = []
    args: list[Any] = []
    if since:
        where.append("w.created_at >= {}")
        args.append(datetime.combine(since, time.min, tzinfo=get_settings().tz))
    if until:
        where.append("w.created_at < {}")
        args.append(datetime.combine(until + timedelta(days=1), time.min, tzinfo=get_settings().tz))
    return where, args


def _share(n: int, top: int) -> dict[str, Any]:
    return {"rewards": n, "in_top_three": top, "share": (top / n) if n else None}


async def top_three_table(*, since: date | None = None, until: date | None = None) -> dict[str, list[dict[str, Any]]]:
    """The top-three share for every giver and every department (a department counts the rewards
    of recipients in it and in the departments below, by their department when rewarded), over a
    period. Two grouped queries, then a roll-up of the department tree in memory. For reports;
    callers decide who may see which rows (``platform.security.reward_report_scope``)."""
    where, args = _period_bounds(since, until)
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    top = "SUM(CASE WHEN w.preference_rank <= 3 THEN 1 ELSE 0 END)"
    givers = await db.fetch(
        f"SELECT w.giver AS id, g.full_name, g.active, COUNT(*) AS n, {top} AS top FROM reward w"
        f" JOIN person g ON g.id = w.giver{clause} GROUP BY w.giver, g.full_name, g.active", *args)
    by_department = await db.fetch(
        f"SELECT w.department AS id, COUNT(*) AS n, {top} AS top FROM reward w{clause} GROUP BY w.department", *args)
    manager_rows = [{"id": g["id"], "full_name": g["full_name"], "active": bool(g["active"]),
                     **_share(int(g["n"]), int(g["top"] or 0))} for g in givers]
    manager_rows.sort(key=lambda r: (-r["rewards"], fold(r["full_name"])))
    counted = {r["id"]: (int(r["n"]), int(r["top"] or 0)) for r in by_department if r["id"] is not None}
    departments = await db.fetch("SELECT id, path, depth, name_en, name_ru, active FROM department ORDER BY path")
    path_of = {d["id"]: d["path"] for d in departments}
    totals: dict[str, list[int]] = {}
    for department_id, (n, in_top) in counted.items():
        path = path_of.get(department_id)
        if path is None:
            continue
        # Every ancestor's path is a prefix of this one: "/1/", "/1/4/", "/1/4/9/".
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            total = totals.setdefault("/" + "/".join(parts[:i]) + "/", [0, 0])
            total[0] += n
            total[1] += in_top
    department_rows = []
    for d in departments:
        if d["path"] in totals:
            n, in_top = totals[d["path"]]
            department_rows.append({"id": d["id"], "path": d["path"], "depth": d["depth"], "active": bool(d["active"]),
                                    "name": department_name(d), **_share(n, in_top)})
    return {"managers": manager_rows, "departments": department_rows}


async def top_three_report(actor: Actor, *, since: date | None, until: date | None) -> dict[str, Any]:
    """The top-three page: managers and departments the actor may see (managers up the chain,
    HR, executives and admins), over the period. Indentation follows the shallowest shown."""
    scope = await reward_report_scope(actor)
    table = await top_three_table(since=since, until=until)
    managers = [r for r in table["managers"] if scope.covers_giver(r["id"])]
    departments = [r for r in table["departments"] if scope.covers_path(r["path"])]
    shallowest = min((r["depth"] for r in departments), default=0)
    for row in departments:
        row["indent"] = row["depth"] - shallowest
    n = sum(r["rewards"] for r in managers)
    overall = _share(n, sum(r["in_top_three"] for r in managers))
    return {"managers": managers, "departments": departments, "overall": overall}


# --- choosing people -------------------------------------------------------------------------

PICKER_SIZE = 8


async def pick_people(actor: Actor, q: str, *, purpose: str = "thanks", exclude: tuple[int, ...] = ()) -> list[dict[str, Any]]:
    """People to choose as recipients, found by any words of their name, email or employee
    number (the folded ``search_name``, so case and ё do not matter). Never the actor, nobody who
    has left; for a reward only people in the actor's reach. At most PICKER_SIZE, by name."""
    require(actor, "rewards.give" if purpose == "reward" else "recognition.give")
    words = fold(q).split()[:5]
    if not words or len(" ".join(words)) < 2:
        return []
    where = ["p.active = {}", "p.id <> {}"]
    args: list[Any] = [True, actor.person_id or 0]
    # A plain substring test finds exactly what LIKE '%word%' (escaped) found, since the words
    # are folded as search_name is, and costs less for each of the thousands of people a rare
    # word is tested against (SQLite: 2.3 -> 1.9 ms CPU for a surname's first five letters).
    contains = "instr(p.search_name, {}) > 0" if db.is_sqlite() else "strpos(p.search_name, {}) > 0"
    for word in words:
        where.append(contains)
        args.append(word)
    if exclude:
        where.append(f"p.id NOT IN ({db.placeholders(len(exclude))})")
        args.extend(exclude)
    reach = await people_in_reach(actor) if purpose == "reward" else None
    # A manager's reach is checked in memory: a name matches a few dozen people at most.
    limit = PICKER_SIZE if reach is None else 200
    rows = await db.fetch(
        "SELECT p.id, p.full_name, p.employee_number, p.email, p.position, d.name_en, d.name_ru FROM person p"
        f" LEFT JOIN department d ON d.id = p.department WHERE {' AND '.join(where)}"
        f" ORDER BY p.search_name, p.id LIMIT {limit}", *args)
    if reach is not None:
        rows = [r for r in rows if r["id"] in reach][:PICKER_SIZE]
    for row in rows:
        row["department_name"] = department_name(row) if row["name_en"] or row["name_ru"] else ""
    return rows


async def chosen_people(actor: Actor, identifiers: list[str]) -> list[dict[str, Any]]:
    """The colleagues already named in the thanks form, for the picker to show as chosen; the
    service checks them again on sending."""
    require(actor, "recognition.give")
    found = await find_people(identifiers[:50])
    people, seen = [], set()
    for ident in identifiers[:50]:
        row = found.get(ident)
        if row and row["id"] not in seen:
            seen.add(row["id"])
            people.append(row)
    return people


async def recent_public(actor: Actor, person_id: int, limit: int = 3) -> list[dict[str, Any]]:
    """The latest public thanks a person received, for their profile."""
    require(actor, "recognition.view")
    await person_for(actor, person_id)
    rows = await db.fetch("SELECT recognition AS id FROM recognition_recipient WHERE person = {} AND public = {}"
                          f" ORDER BY recognition DESC LIMIT {int(limit)}", person_id, True)
    return await hydrate(actor, [r["id"] for r in rows])
