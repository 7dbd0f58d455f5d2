"""Engagement pulses: templates, launching, answering, closing, results and the figures other
domains read.

Permissions (decided in ``platform.security``): everyone answers the pulses they were invited
to; HR and admins keep templates, launch and close pulses and watch participation while a pulse
runs; results, only after close, go to executives, HR and admins for the whole company and to
managers for the departments they head (as snapshotted at launch).

Anonymity (see ``tables`` for the storage): answering writes the participant's "answered" mark
and the sealed answer in one transaction and nothing else: no audit entry, no log line, no
notification. Closing opens every sealed answer, generalises departments below the minimum
(``figures.generalise``), and publishes the answers in random order under random ids, with their
per-department summaries, in one transaction. Once a pulse has its first answer nothing can change its audience,
minimum group size, items or department tree, and a closed pulse never reopens.

For other domains (issue 9's analytics and the monthly report):

- :func:`department_month_engagement` ``(since, until, source_departments=None)`` → one row per
  closed pulse and snapshot department (with everything below it), keyed by the department's
  id at launch (``source_department``) and the month the pulse closed in: ``engagement``,
  ``traits`` {company, people, goals, reward}, ``enps`` (all 0-100 or -100…100) and ``n``.
  Groups under the pulse's minimum, and groups hidden so a smaller one cannot be worked out by
  subtraction, come back with every figure and ``n`` None and ``suppressed`` True.
- :func:`company_trend` → the same figures for the whole company, one row per closed pulse.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from servicechain.platform import audit, db, outbox
from servicechain.platform.config import ABSOLUTE_MIN_GROUP_SIZE, get_settings
from servicechain.platform.i18n import current_language, lazy_gettext, ngettext, use_language
from servicechain.platform.i18n import gettext as _
from servicechain.platform.lib.forms_dates import date_range
from servicechain.platform.people.service import department_name, today
from servicechain.platform.security import (
    SYSTEM,
    Actor,
    Forbidden,
    NotFound,
    can,
    pulse_for,
    pulse_result_scope,
    require,
    utcnow,
)
from servicechain.platform.surveys import sealing
from servicechain.platform.surveys.figures import TRAIT_ORDER, Stat, generalise, hidden_departments, page_hidden
from servicechain.platform.surveys.tables import (
    TRAITS,
    Pulse,
    PulseAudience,
    PulseItem,
    PulseParticipant,
    PulseSealedAnswer,
    SurveyItem,
    SurveyTemplate,
)
from servicechain.platform.web import DomainError, FormInvalid

TRAIT_LABELS = {
    "company": lazy_gettext("Loves the company"),
    "people": lazy_gettext("Loves people"),
    "goals": lazy_gettext("Understands the goals and holds the authority to act"),
    "reward": lazy_gettext("Feels fairly rewarded"),
}
# The default template: two statements per trait, answered 1 (disagree) to 5 (agree).
DEFAULT_ITEMS = (
    ("company", "I am proud to tell people where I work.", "Я с гордостью говорю, где работаю."),
    ("company", "I believe in what our company offers its customers.", "Я верю в то, что наша компания предлагает клиентам."),
    ("people", "I enjoy making our customers' day better.", "Мне нравится делать день наших клиентов лучше."),
    ("people", "My colleagues help me when I need it.", "Коллеги помогают мне, когда это нужно."),
    ("goals", "I know what my goals are and how they serve the company's.", "Я знаю свои цели и как они связаны с целями компании."),
    ("goals", "I have enough authority to put things right for a customer.", "У меня достаточно полномочий, чтобы исправить ситуацию для клиента."),
    ("reward", "My contribution is recognised.", "Мой вклад замечают и ценят."),
    ("reward", "My pay and rewards are fair for what I do.", "Моя оплата и вознаграждения справедливы для того, что я делаю."),
)
DEFAULT_NAME = ("Engagement pulse", "Пульс вовлечённости")
MAX_ITEMS = 30
REMIND_EVERY_DAYS = 3


def text_of(row: dict[str, Any], name: str = "text") -> str:
    ru, en = row.get(f"{name}_ru"), row.get(f"{name}_en")
    return (ru if current_language() == "ru" else en) or ru or en or ""


def trait_label(trait: str) -> str:
    return str(TRAIT_LABELS.get(trait, trait))


def pulse_state(pulse: dict[str, Any], on: date | None = None) -> str:
    """planned, open or closed; a pulse past its close date counts as closed at once, even
    before the job has published its answers."""
    on = on or today()
    if pulse["status"] in ("closed", "closing") or on > pulse["closes_on"]:
        return "closed"
    return "planned" if on < pulse["opens_on"] else "open"


# --- templates ----------------------------------------------------------------------------------


async def ensure_default_template() -> int:
    """The shipped template; created when missing (a fresh database, or the demo wiped it).
    Must run inside ``db.write()``."""
    row = await SurveyTemplate.select(SurveyTemplate.id).where(SurveyTemplate.is_default == True).first().run()  # noqa: E712
    if row:
        return row["id"]
    template = SurveyTemplate(name_en=DEFAULT_NAME[0], name_ru=DEFAULT_NAME[1], is_default=True, created_at=utcnow())
    await template.save().run()
    await SurveyItem.insert(*[SurveyItem(template=template.id, position=i + 1, trait=t, text_en=en, text_ru=ru)
                              for i, (t, en, ru) in enumerate(DEFAULT_ITEMS)]).run()
    return template.id


async def list_templates(actor: Actor) -> list[dict[str, Any]]:
    require(actor, "pulses.manage")
    rows = await SurveyTemplate.select().where(SurveyTemplate.active == True).order_by(  # noqa: E712
        SurveyTemplate.is_default, ascending=False).order_by(SurveyTemplate.id).run()
    counts = {r["template"]: r["n"] for r in await db.fetch("SELECT template, COUNT(*) AS n FROM survey_item GROUP BY template")}
    return [{**r, "name": text_of(r, "name"), "items": counts.get(r["id"], 0)} for r in rows]


async def template_detail(actor: Actor, template_id: int) -> dict[str, Any]:
    require(actor, "pulses.manage")
    row = await SurveyTemplate.select().where(SurveyTemplate.id == template_id).first().run()
    if row is None:
        raise NotFound()
    items = await SurveyItem.select().where(SurveyItem.template == template_id).order_by(SurveyItem.position).run()
    return {**row, "name": text_of(row, "name"),
            "items": [{**i, "text": text_of(i), "trait_label": trait_label(i["trait"])} for i in items]}


async def copy_template(actor: Actor, template_id: int) -> int:
    """HR makes an editable copy (the default itself never changes). Audited."""
    source = await template_detail(actor, template_id)
    async with db.write():
        row = SurveyTemplate(name_en=f"{source['name_en']} (copy)", name_ru=f"{source['name_ru']} (копия)", based_on=template_id,
                             created_by=actor.person_id, created_at=utcnow())
        await row.save().run()
        if source["items"]:
            await SurveyItem.insert(*[SurveyItem(template=row.id, position=i["position"], trait=i["trait"], text_en=i["text_en"],
                                                 text_ru=i["text_ru"]) for i in source["items"]]).run()
        await audit.record(actor, "pulse_template.copied", object_type="survey_template", object_id=row.id,
                           summary=row.name_en, based_on=template_id)
    return row.id


def _template_values(data: dict[str, Any], count: int) -> dict[str, Any]:
    items = []
    for i in range(count + 1):  # the existing rows and one blank row to add an item
        items.append({
            "trait": str(data.get(f"trait_{i}", "")).strip(),
            "text_en": str(data.get(f"text_en_{i}", "")).strip(),
            "text_ru": str(data.get(f"text_ru_{i}", "")).strip(),
            "remove": str(data.get(f"remove_{i}", "")) in ("1", "on", "true"),
        })
    return {"name_en": str(data.get("name_en", "")).strip(), "name_ru": str(data.get("name_ru", "")).strip(), "items": items}


async def save_template(actor: Actor, template_id: int, data: dict[str, Any]) -> None:
    """Change a copy: names, items (text in both languages and trait), remove items, add one.
    The default template cannot be changed; pulses already launched keep their own copy of the
    items. Refused with nothing saved: a missing name or text, an unknown trait, no item left,
    more than ``MAX_ITEMS``. Audited."""
    current = await template_detail(actor, template_id)
    if current["is_default"]:
        raise FormInvalid({"__all__": [_("The default template cannot be changed: make a copy and edit that.")]})
    values = _template_values(data, len(current["items"]))
    errors: dict[str, list[str]] = {}
    for name in ("name_en", "name_ru"):
        if not values[name]:
            errors[name] = [_("Give the template a name in both languages.")]
        elif len(values[name]) > 200:
            errors[name] = [_("At most 200 characters.")]
    kept = []
    for i, item in enumerate(values["items"]):
        blank = not (item["text_en"] or item["text_ru"])
        if item["remove"] or (blank and i == len(values["items"]) - 1):
            continue
        if not item["text_en"] or not item["text_ru"]:
            errors[f"text_{i}"] = [_("Write the statement in both languages.")]
        elif max(len(item["text_en"]), len(item["text_ru"])) > 500:
            errors[f"text_{i}"] = [_("At most 500 characters.")]
        if item["trait"] not in TRAITS:
            errors[f"trait_{i}"] = [_("Choose the trait the statement measures.")]
        kept.append(item)
    if not kept:
        errors["__all__"] = [_("A template needs at least one statement.")]
    elif len(kept) > MAX_ITEMS:
        errors["__all__"] = [_("At most %(n)s statements.", n=MAX_ITEMS)]
    if errors:
        raise FormInvalid(errors)
    async with db.write():
        await SurveyTemplate.update({SurveyTemplate.name_en: values["name_en"], SurveyTemplate.name_ru: values["name_ru"]}).where(
            SurveyTemplate.id == template_id).run()
        await SurveyItem.delete().where(SurveyItem.template == template_id).run()
        await SurveyItem.insert(*[SurveyItem(template=template_id, position=i + 1, trait=it["trait"], text_en=it["text_en"],
                                             text_ru=it["text_ru"]) for i, it in enumerate(kept)]).run()
        await audit.record(actor, "pulse_template.changed", object_type="survey_template", object_id=template_id,
                           summary=values["name_en"], items=len(kept))


# --- launching ----------------------------------------------------------------------------------


def _ids(raw: Any) -> list[int]:
    if raw is None:
        return []
    values = raw if isinstance(raw, (list, tuple)) else [raw]
    return sorted({int(v) for v in values if str(v).strip().isdigit()})


async def _audience(audience_all: bool, department_ids: list[int]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The departments to snapshot (the audience's subtrees and the departments above them) and
    the active people invited, each with their department today."""
    departments = await db.fetch("SELECT id, parent, path, depth, name_en, name_ru FROM department WHERE active = {} ORDER BY path",
                                 True)
    if audience_all:
        chosen_paths = [d["path"] for d in departments if d["parent"] is None]
    else:
        chosen_paths = [d["path"] for d in departments if d["id"] in department_ids]
    keep = [d for d in departments if any(d["path"].startswith(p) or p.startswith(d["path"]) for p in chosen_paths)]
    people = await db.fetch(
        "SELECT p.id, p.department, p.email, p.language, d.path FROM person p LEFT JOIN department d ON d.id = p.department"
        " WHERE p.active = {} ORDER BY p.id", True)
    if audience_all:
        invited = people
    else:
        invited = [p for p in people if p["path"] and any(p["path"].startswith(c) for c in chosen_paths)]
    return keep, invited


async def launch_form(actor: Actor) -> dict[str, Any]:
    require(actor, "pulses.manage")
    from servicechain.platform.people.service import department_tree

    return {"templates": await list_templates(actor), "departments": await department_tree(actor, with_counts=False, max_depth=3),
            "company_min": get_settings().min_group_size}


async def launch_pulse(actor: Actor, data: dict[str, Any], *, on: date | None = None) -> int:
    """HR launches a pulse. Refused with nothing saved: no title, bad or impossible dates, a
    minimum group size below 3 or below the company's setting, an audience with nobody in it
    (or fewer people than the minimum, whose results could never be shown). Copies the items,
    the department tree, the audience and the minimum into the pulse; notifies the invited when
    the pulse opens today. Audited (the pulse, never who answers)."""
    require(actor, "pulses.manage")
    on = on or today()
    errors: dict[str, list[str]] = {}
    title = str(data.get("title", "")).strip()
    if not title:
        errors["title"] = [_("Give the pulse a title, e.g. “March 2026”.")]
    elif len(title) > 200:
        errors["title"] = [_("At most 200 characters.")]
    opens, closes = date_range(data, errors, today=on,
                               closes_before_opens=_("The pulse cannot close before it opens."),
                               already_closed=_("The pulse would already be closed."))
    company_min = get_settings().min_group_size
    raw_k = str(data.get("min_group_size", "") or company_min).strip()
    k = int(raw_k) if raw_k.lstrip("-").isdigit() else None
    if k is None:
        errors["min_group_size"] = [_("Enter a whole number.")]
    elif k < ABSOLUTE_MIN_GROUP_SIZE:
        errors["min_group_size"] = [_("The minimum group size must be at least %(n)s: smaller groups would let people recognise each other's answers.", n=ABSOLUTE_MIN_GROUP_SIZE)]
    elif k < company_min:
        errors["min_group_size"] = [_("The company's minimum group size is %(n)s; a pulse may raise it, not lower it.", n=company_min)]
    elif k > 1000:
        errors["min_group_size"] = [_("Enter a number of at most %(n)s.", n=1000)]
    audience_all = str(data.get("audience", "all")) != "departments"
    chosen = _ids(data.get("departments"))
    template_id = _ids(data.get("template_id"))
    if not audience_all and not chosen:
        errors["departments"] = [_("Choose the departments to ask, or ask everyone.")]
    keep: list[dict[str, Any]] = []
    invited: list[dict[str, Any]] = []
    if "departments" not in errors:
        keep, invited = await _audience(audience_all, chosen)
        if not invited:
            errors["departments"] = [_("Nobody works in the chosen departments: the pulse would have no one to ask.")]
        elif k and len(invited) < k:
            errors["departments"] = [ngettext(
                "Only %(num)s person would be asked, fewer than the minimum group size of %(k)s: no result could ever be shown.",
                "Only %(num)s people would be asked, fewer than the minimum group size of %(k)s: no result could ever be shown.",
                len(invited), k=k)]
    if template_id:
        found = await SurveyTemplate.select().where((SurveyTemplate.id == template_id[0]) & (SurveyTemplate.active == True)).first().run()  # noqa: E712
        if found is None:
            errors["template_id"] = [_("Choose a template from the list.")]
    if errors:
        raise FormInvalid(errors)
    async with db.write():
        tid = template_id[0] if template_id else await ensure_default_template()
        items = await SurveyItem.select().where(SurveyItem.template == tid).order_by(SurveyItem.position).run()
        if not items:
            raise FormInvalid({"template_id": [_("This template has no statements.")]})
        pulse = Pulse(title=title, template=tid, opens_on=opens, closes_on=closes, min_group_size=k, audience_all=audience_all,
                      status="open", invited=len(invited), created_by=actor.person_id, created_at=utcnow())
        await pulse.save().run()
        await PulseItem.insert(*[PulseItem(pulse=pulse.id, position=i + 1, trait=it["trait"], text_en=it["text_en"],
                                           text_ru=it["text_ru"]) for i, it in enumerate(items)]).run()
        if not audience_all:
            await PulseAudience.insert(*[PulseAudience(pulse=pulse.id, department=d) for d in chosen]).run()
        snapshot = await _snapshot_tree(pulse.id, keep)
        root = snapshot[keep[0]["id"]] if keep else None  # people without a department count at the top
        rows = [(pulse.id, p["id"], snapshot.get(p["department"], root), False, None) for p in invited]
        await db.bulk_insert("pulse_participant", ("pulse", "person", "department", "answered", "reminded_on"), rows)
        if opens <= on:  # type: ignore[operator]
            await _notify_open(pulse.id, title, [p for p in invited])
        await audit.record(actor, "pulse.launched", object_type="pulse", object_id=pulse.id, summary=title,
                           after={"opens_on": opens, "closes_on": closes, "min_group_size": k, "invited": len(invited),
                                  "audience": "all" if audience_all else chosen, "template": tid})
    return pulse.id


async def _snapshot_tree(pulse_id: int, departments: list[dict[str, Any]]) -> dict[int, int]:
    """Copy the departments (in tree order) into ``pulse_department``; returns source id →
    snapshot id. Ids are given here so the whole tree goes in one bulk insert."""
    if not departments:
        return {}
    if not db.is_sqlite():
        await db.fetch("LOCK TABLE pulse_department IN EXCLUSIVE MODE")
    start = (await db.fetch("SELECT COALESCE(MAX(id), 0) AS m FROM pulse_department"))[0]["m"] + 1
    ids = {d["id"]: start + i for i, d in enumerate(departments)}
    paths: dict[int, str] = {}
    rows = []
    for d in departments:  # tree order: a parent comes before its children
        parent = ids.get(d["parent"]) if d["parent"] is not None else None
        path = (paths[d["parent"]] if parent is not None else "/") + f"{ids[d['id']]}/"
        paths[d["id"]] = path
        rows.append((ids[d["id"]], pulse_id, d["id"], parent, d["name_en"], d["name_ru"], path, path.count("/") - 2))
    await db.bulk_insert("pulse_department", ("id", "pulse", "source", "parent", "name_en", "name_ru", "path", "depth"), rows)
    await db.reset_sequence("pulse_department")
    return ids


async def _notify_open(pulse_id: int, title: str, people: list[dict[str, Any]]) -> None:
    at = utcnow()
    rows = []
    for p in people:
        with use_language(p.get("language") or get_settings().default_language):
            text = _("A new pulse is open: “%(title)s”. It takes a minute, and nobody sees your answers.", title=title)
        rows.append((p["id"], text[:500], f"/pulses/{pulse_id}/answer", at))
    await db.bulk_insert("notification", ("person", "text", "link", "created_at"), rows)


# --- answering ----------------------------------------------------------------------------------


async def pulse_items(pulse_id: int) -> list[dict[str, Any]]:
    rows = await PulseItem.select().where(PulseItem.pulse == pulse_id).order_by(PulseItem.position).run()
    return [{**r, "text": text_of(r), "trait_label": trait_label(r["trait"])} for r in rows]


async def answer_page(actor: Actor, pulse_id: int, *, on: date | None = None) -> dict[str, Any]:
    """What the answer page needs: the pulse, its items and whether the actor may still answer."""
    pulse = await pulse_for(actor, pulse_id)
    me = await PulseParticipant.select(PulseParticipant.answered).where(
        (PulseParticipant.pulse == pulse_id) & (PulseParticipant.person == actor.person_id)).first().run()
    state = pulse_state(pulse, on)
    if me is None:
        status = "not_invited"
    elif me["answered"]:
        status = "answered"
    else:
        status = {"open": "open", "planned": "planned"}.get(state, "closed")
    return {"pulse": pulse, "items": await pulse_items(pulse_id), "status": status, "state": state,
            "max_comment": sealing.MAX_COMMENT_CHARS}


async def submit_answer(actor: Actor, pulse_id: int, data: dict[str, Any], *, on: date | None = None) -> None:
    """Record the actor's answer. Refused with nothing saved: not invited, already answered,
    the pulse not open (yet or any more), an item or the eNPS missing or out of range, a comment
    too long. Writes the "answered" mark and the sealed answer in one transaction; nothing
    else (no audit entry, no log line) is written, so nothing records who answered when."""
    pulse = await pulse_for(actor, pulse_id)
    on = on or today()
    me = await PulseParticipant.select().where(
        (PulseParticipant.pulse == pulse_id) & (PulseParticipant.person == actor.person_id)).first().run()
    if me is None:
        raise FormInvalid({"__all__": [_("You were not asked to answer this pulse.")]})
    state = pulse_state(pulse, on)
    if me["answered"]:
        raise FormInvalid({"__all__": [_("You have already answered this pulse. Thank you!")]})
    if state == "closed":
        raise FormInvalid({"__all__": [_("This pulse has closed; answers are no longer accepted.")]})
    if state == "planned":
        raise FormInvalid({"__all__": [_("This pulse opens on %(day)s.", day=pulse["opens_on"].isoformat())]})
    items = await PulseItem.select(PulseItem.position).where(PulseItem.pulse == pulse_id).run()
    errors: dict[str, list[str]] = {}
    scores: dict[str, int] = {}
    for item in items:
        raw = str(data.get(f"item_{item['position']}", "")).strip()
        if raw.isdigit() and 1 <= int(raw) <= 5:
            scores[str(item["position"])] = int(raw)
        else:
            errors[f"item_{item['position']}"] = [_("Choose from 1 (disagree) to 5 (agree).")]
    raw_enps = str(data.get("enps", "")).strip()
    if raw_enps.isdigit() and 0 <= int(raw_enps) <= 10:
        enps = int(raw_enps)
    else:
        errors["enps"] = [_("Choose from 0 to 10.")]
    comment = " ".join(str(data.get("comment", "")).replace("\r", "").split(" ")).strip()
    comment = "".join(ch for ch in comment if ch == "\n" or ch >= " ")
    if len(comment) > sealing.MAX_COMMENT_CHARS:
        errors["comment"] = [_("At most %(n)s characters.", n=sealing.MAX_COMMENT_CHARS)]
    if errors:
        raise FormInvalid(errors)
    sealed = sealing.seal(pulse_id, {"d": me["department"], "s": scores, "e": enps, "c": comment})
    async with db.write():
        marked = await PulseParticipant.update({PulseParticipant.answered: True}).where(
            (PulseParticipant.id == me["id"]) & (PulseParticipant.answered == False)  # noqa: E712
        ).returning(PulseParticipant.id).run()
        if not marked:  # a second tab got there first
            raise FormInvalid({"__all__": [_("You have already answered this pulse. Thank you!")]})
        # FOR SHARE (PostgreSQL): closing waits for this answer to commit, so it reads it.
        lock = "" if db.is_sqlite() else " FOR SHARE"
        still_open = (await db.fetch(f"SELECT status FROM pulse WHERE id = {{}}{lock}", pulse_id))[0]
        if still_open["status"] != "open":  # closed between the check above and now: the mark rolls back
            raise FormInvalid({"__all__": [_("This pulse has closed; answers are no longer accepted.")]})
        await PulseSealedAnswer.insert(PulseSealedAnswer(id=uuid.uuid4(), pulse=pulse_id, sealed=sealed)).run()


# --- closing ------------------------------------------------------------------------------------


async def close_pulse(pulse_id: int, *, actor: Actor = SYSTEM) -> dict[str, int]:
    """Publish a pulse's answers and close it for good. First a short transaction marks it
    "closing", after which no answer is accepted; then the sealed answers are read and opened
    outside any write transaction (on SQLite the write lock is the whole database's); then one
    transaction publishes them: departments generalised below the minimum, everything dropped
    when a whole root has fewer than the minimum, answers under random ids in random order,
    per-department summaries, the sealed buffer deleted, the pulse closed. A crash in between
    leaves the pulse "closing" with its sealed answers intact, and the next run finishes it.
    Idempotent: a closed pulse is left alone. Audited with counts only."""
    async with db.write():
        claimed = await Pulse.update({Pulse.status: "closing"}).where(
            (Pulse.id == pulse_id) & Pulse.status.is_in(["open", "closing"])).returning(Pulse.id, Pulse.min_group_size).run()
    if not claimed:
        return {"answers": 0, "discarded": 0}
    k = claimed[0]["min_group_size"]
    departments = await db.fetch("SELECT id, parent FROM pulse_department WHERE pulse = {}", pulse_id)
    parents = {d["id"]: d["parent"] for d in departments}
    sealed = await db.fetch("SELECT sealed FROM pulse_sealed_answer WHERE pulse = {}", pulse_id)
    key = sealing.key_for(pulse_id)
    answers, unreadable = [], 0
    for row in sealed:
        try:
            answers.append(sealing.unseal(pulse_id, row["sealed"], key=key))
        except sealing.Unreadable:
            unreadable += 1
    del sealed
    counts: dict[int, int] = {}
    for a in answers:
        counts[a["d"]] = counts.get(a["d"], 0) + 1
    tags = generalise(parents, counts, k)
    group_size: dict[int, int] = {}
    for d, g in tags.items():
        group_size[g] = group_size.get(g, 0) + counts.get(d, 0)
    published = [a for a in answers if group_size.get(tags.get(a["d"], -1), 0) >= k]
    secrets.SystemRandom().shuffle(published)
    postgres = not db.is_sqlite()
    rows, summaries = [], {}
    for a in published:
        department = tags[a["d"]]
        answer_id = uuid.uuid4()
        rows.append((answer_id if postgres else str(answer_id), pulse_id, department,
                     json.dumps(a["s"], sort_keys=True), a["e"], a["c"]))
        summaries.setdefault(department, Stat()).add_answer({int(p): v for p, v in a["s"].items()}, a["e"])
    discarded = len(answers) - len(published) + unreadable
    async with db.write():
        still = await Pulse.update({Pulse.status: "closed", Pulse.answers: len(published), Pulse.discarded: discarded,
                                    Pulse.closed_at: utcnow()}).where(
            (Pulse.id == pulse_id) & (Pulse.status == "closing")).returning(Pulse.id).run()
        if not still:  # another worker finished it meanwhile
            return {"answers": 0, "discarded": 0}
        await db.bulk_insert("pulse_answer", ("id", "pulse", "department", "scores", "enps", "comment"), rows)
        await db.bulk_insert("pulse_summary", ("pulse", "department", "n", "items", "enps"),
                             [(pulse_id, d, *stat.to_row()) for d, stat in sorted(summaries.items())])
        await db.fetch("DELETE FROM pulse_sealed_answer WHERE pulse = {}", pulse_id)
        await audit.record(actor, "pulse.closed", object_type="pulse", object_id=pulse_id,
                           summary=f"{len(published)} answers published", answers=len(published), discarded=discarded)
    return {"answers": len(published), "discarded": discarded}


async def close_now(actor: Actor, pulse_id: int) -> dict[str, int]:
    """HR ends a pulse early (it can never reopen)."""
    require(actor, "pulses.manage")
    pulse = await pulse_for(actor, pulse_id)
    if pulse["status"] != "open":
        raise FormInvalid({"__all__": [_("This pulse is already closed.")]})
    return await close_pulse(pulse_id, actor=actor)


async def close_due(on: date | None = None) -> int:
    """Close every pulse whose last day has passed (the periodic job)."""
    on = on or today()
    due = await Pulse.select(Pulse.id).where(
        ((Pulse.status == "open") & (Pulse.closes_on < on)) | (Pulse.status == "closing")).run()
    for row in due:
        await close_pulse(row["id"])
    return len(due)


async def send_reminders(on: date | None = None) -> int:
    """Remind those invited to an open pulse who have not answered, at most every few days,
    each in their own language (a notification, and mail where they have an address). Only the
    person reminded ever sees their reminder; the audit entry has the count only."""
    on = on or today()
    pulses = await Pulse.select().where((Pulse.status == "open") & (Pulse.opens_on <= on) & (Pulse.closes_on >= on)).run()
    sent = 0
    for pulse in pulses:
        async with db.write():
            people = await db.fetch(
                "SELECT pp.id, p.id AS person, p.email, p.language FROM pulse_participant pp JOIN person p ON p.id = pp.person"
                " WHERE pp.pulse = {} AND pp.answered = {} AND p.active = {} AND (pp.reminded_on IS NULL OR pp.reminded_on <= {})",
                pulse["id"], False, True, on - timedelta(days=REMIND_EVERY_DAYS))
            if not people:
                continue
            at = utcnow()
            notes = []
            for p in people:
                with use_language(p["language"] or get_settings().default_language):
                    text = _("Reminder: the pulse “%(title)s” is open until %(day)s. It takes a minute, and nobody sees your answers.",
                             title=pulse["title"], day=pulse["closes_on"].isoformat())
                    subject = _("Pulse “%(title)s”: a minute of your time", title=pulse["title"])
                notes.append((p["person"], text[:500], f"/pulses/{pulse['id']}/answer", at))
                if p["email"]:
                    await outbox.enqueue_mail(p["email"], subject, text + f"\n\n/pulses/{pulse['id']}/answer")
            await db.bulk_insert("notification", ("person", "text", "link", "created_at"), notes)
            ids = [p["id"] for p in people]
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                await db.fetch(f"UPDATE pulse_participant SET reminded_on = {{}} WHERE id IN ({db.placeholders(len(chunk))})",
                               on, *chunk)
            await audit.record(SYSTEM, "pulse.reminded", object_type="pulse", object_id=pulse["id"], summary=pulse["title"],
                               reminded=len(people))
            sent += len(people)
    return sent


# --- lists and the home page --------------------------------------------------------------------


async def home_pulses(actor: Actor) -> list[dict[str, Any]]:
    """Open pulses the actor was asked to answer and has not."""
    if not actor.is_person or not can(actor, "pulses.answer"):
        return []
    on = today()
    return await db.fetch(
        "SELECT p.id, p.title, p.closes_on FROM pulse p JOIN pulse_participant pp ON pp.pulse = p.id"
        " WHERE pp.person = {} AND pp.answered = {} AND p.status = {} AND p.opens_on <= {} AND p.closes_on >= {}"
        " ORDER BY p.closes_on", actor.person_id, False, "open", on, on)


async def list_pulses(actor: Actor) -> dict[str, Any]:
    require(actor, "pulses.answer")
    on = today()
    mine = await db.fetch(
        "SELECT p.*, pp.answered FROM pulse p JOIN pulse_participant pp ON pp.pulse = p.id WHERE pp.person = {}"
        " ORDER BY p.opens_on DESC, p.id DESC LIMIT 50", actor.person_id)
    for p in mine:
        p["state"] = pulse_state(p, on)
    every: list[dict[str, Any]] = []
    if can(actor, "pulses.manage") or can(actor, "pulses.results"):
        every = await Pulse.select().order_by(Pulse.opens_on, ascending=False).order_by(Pulse.id, ascending=False).limit(100).run()
        for p in every:
            p["state"] = pulse_state(p, on)
    return {"mine": [p for p in mine if p["state"] != "closed"], "all": every, "may_manage": can(actor, "pulses.manage"),
            "may_read": can(actor, "pulses.results")}


# --- one pulse's figures -----------------------------------------------------------------------


@dataclass
class PulseData:
    """A pulse's snapshot tree with counts per department, own and with everything below it.
    A closed pulse never changes, so its data is kept in memory (keyed by id and close time)."""

    tree: dict[int, dict[str, Any]]
    kids: dict[int | None, list[int]]
    own: dict[int, Stat]
    sub: dict[int, Stat]
    invited: dict[int, int]  # with everything below
    answered: dict[int, int]  # participants marked answered, with everything below
    traits: dict[int, str]
    hidden: set[int]  # departments whose figure (with everything below) is suppressed
    comments: list[tuple[int, str]] | None = None  # (department, text), read on first need

    def roots(self) -> list[int]:
        return sorted(self.kids.get(None, []), key=lambda d: self.tree[d]["path"])


_CACHE: OrderedDict[tuple, PulseData] = OrderedDict()
CACHE_PULSES = 64


def _bottom_up(tree: dict[int, dict[str, Any]], values: dict[int, Any], add) -> dict[int, Any]:
    result = dict(values)
    for d in sorted(tree, key=lambda x: -tree[x]["depth"]):
        parent = tree[d]["parent"]
        if parent is not None and d in result:
            result[parent] = add(result.get(parent), result[d])
    return result


async def pulse_data(pulse: dict[str, Any]) -> PulseData:
    return (await pulses_data([pulse]))[pulse["id"]]


def _cache_key(pulse: dict[str, Any]) -> tuple:
    return (pulse["id"], str(pulse.get("closed_at")))


async def _fetch_by_pulse(sql: str, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """``sql`` selects rows of ``WHERE pulse IN (…)``; grouped by pulse, a few queries in all."""
    grouped: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for start in range(0, len(ids), 200):
        chunk = ids[start:start + 200]
        for row in await db.fetch(sql.replace("(?)", f"({db.placeholders(len(chunk))})"), *chunk):
            grouped[row["pulse"]].append(row)
    return grouped


async def pulses_data(pulses: list[dict[str, Any]]) -> dict[int, PulseData]:
    """The data of several pulses: closed ones from memory when loaded before, the others in
    four queries together (a trend over two years of pulses costs four queries, not a hundred)."""
    result: dict[int, PulseData] = {}
    todo = []
    for pulse in pulses:
        key = _cache_key(pulse)
        if pulse["status"] == "closed" and key in _CACHE:
            _CACHE.move_to_end(key)
            result[pulse["id"]] = _CACHE[key]
        else:
            todo.append(pulse)
    if not todo:
        return result
    ids = [p["id"] for p in todo]
    closed_ids = [p["id"] for p in todo if p["status"] == "closed"]
    trees = await _fetch_by_pulse("SELECT pulse, id, source, parent, name_en, name_ru, path, depth FROM pulse_department"
                                  " WHERE pulse IN (?) ORDER BY path", ids)
    tallies = await _fetch_by_pulse("SELECT pulse, department, n, items, enps FROM pulse_summary WHERE pulse IN (?)",
                                    closed_ids) if closed_ids else {}
    people = await _fetch_by_pulse(
        "SELECT pulse, department, COUNT(*) AS invited, SUM(CASE WHEN answered THEN 1 ELSE 0 END) AS answered"
        " FROM pulse_participant WHERE pulse IN (?) GROUP BY pulse, department", ids)
    items = await _fetch_by_pulse("SELECT pulse, position, trait FROM pulse_item WHERE pulse IN (?)", ids)
    for pulse in todo:
        data = _build(pulse, trees[pulse["id"]], tallies.get(pulse["id"], []), people[pulse["id"]], items[pulse["id"]])
        result[pulse["id"]] = data
        if pulse["status"] == "closed":
            _CACHE[_cache_key(pulse)] = data
            while len(_CACHE) > CACHE_PULSES:
                _CACHE.popitem(last=False)
    return result


def _build(pulse: dict[str, Any], tree_rows: list[dict[str, Any]], summary_rows: list[dict[str, Any]],
           people: list[dict[str, Any]], item_rows: list[dict[str, Any]]) -> PulseData:
    k = pulse["min_group_size"]
    tree = {r["id"]: r for r in tree_rows}
    kids: dict[int | None, list[int]] = {}
    for d in tree.values():
        kids.setdefault(d["parent"], []).append(d["id"])
    own: dict[int, Stat] = {}
    for r in summary_rows:
        own[r["department"]] = Stat.from_row(r["n"], r["items"], r["enps"])

    def merge(a: Stat | None, b: Stat) -> Stat:
        out = Stat()
        if a is not None:
            out.merge(a)
        out.merge(b)
        return out

    sub = _bottom_up(tree, own, merge)
    invited = _bottom_up(tree, {r["department"]: r["invited"] for r in people}, lambda a, b: (a or 0) + b)
    answered = _bottom_up(tree, {r["department"]: int(r["answered"] or 0) for r in people}, lambda a, b: (a or 0) + b)
    traits = {r["position"]: r["trait"] for r in item_rows}
    hidden = hidden_departments({d: r["parent"] for d, r in tree.items()}, {d: st.n for d, st in own.items()}, k)
    return PulseData(tree, kids, own, sub, invited, answered, traits, hidden)


def _figures(stat: Stat | None, traits: dict[int, str], hidden: bool) -> dict[str, Any]:
    if stat is None or not stat.n or hidden:
        return {"hidden": bool(stat is not None and stat.n and hidden), "n": None if hidden else (stat.n if stat else 0),
                "engagement": None, "enps": None, "traits": {t: None for t in TRAIT_ORDER}}
    return {"hidden": False, "n": stat.n, "engagement": stat.engagement, "enps": stat.enps_score,
            "traits": stat.trait_scores(traits)}


# --- participation while running ---------------------------------------------------------------


async def participation(actor: Actor, pulse_id: int) -> dict[str, Any]:
    """HR's view while a pulse runs (and after): invited and answered per snapshot department
    with everything below it, for departments of at least the minimum invited; an answered
    count between 1 and the minimum shows as "fewer than". Who answered is never shown."""
    require(actor, "pulses.manage")
    pulse = await pulse_for(actor, pulse_id)
    k = pulse["min_group_size"]
    data = await pulse_data(pulse)
    lines = []
    for d in data.tree.values():
        n_inv = data.invited.get(d["id"], 0)
        if n_inv < k:
            continue
        n_ans = data.answered.get(d["id"], 0)
        small = 0 < n_ans < k
        lines.append({"id": d["id"], "name": department_name(d), "depth": d["depth"], "invited": n_inv,
                      "answered": None if small else n_ans, "small": small, "rate": None if small else round(100 * n_ans / n_inv)})
    roots = data.roots()
    total_inv = sum(data.invited.get(r, 0) for r in roots)
    total_ans = sum(data.answered.get(r, 0) for r in roots)
    small = 0 < total_ans < k
    return {"pulse": pulse, "state": pulse_state(pulse), "k": k, "lines": lines, "invited": total_inv,
            "answered": None if small else total_ans, "small": small,
            "rate": None if small or not total_inv else round(100 * total_ans / total_inv)}


# --- results ------------------------------------------------------------------------------------


async def results(actor: Actor, pulse_id: int, node: int | None = None) -> dict[str, Any]:
    """A closed pulse's results at one department of its snapshot (by default the top of what
    the actor may see): its figures, one row per sub-department (with everything below it) and
    one for its own people, each hidden below the minimum and complemented so none comes back
    by subtraction; items and traits; participation; comments (only when the group is shown),
    in the random order of their ids; the trend over pulses. Refused (422) before close."""
    pulse = await pulse_for(actor, pulse_id)
    scope = await pulse_result_scope(actor, pulse_id)
    if pulse["status"] != "closed":
        raise DomainError(_("Results appear when the pulse closes, on %(day)s.", day=pulse["closes_on"].isoformat()))
    k = pulse["min_group_size"]
    data = await pulse_data(pulse)
    tree = data.tree
    tops = data.roots() if scope is None else scope
    if node is None:
        node = tops[0] if len(tops) == 1 else None
    if node is not None and (node not in tree or not any(tree[node]["path"].startswith(tree[t]["path"]) for t in tops)):
        raise NotFound()
    empty = Stat()
    if node is None:  # several roots (or a manager heading several departments): one row each
        total = Stat.total(data.sub.get(t, empty) for t in tops)
        total_hidden = 0 < total.n < k
        part_keys = [("s", t) for t in tops]
        invited = sum(data.invited.get(t, 0) for t in tops)
    else:
        total = data.sub.get(node, empty)
        total_hidden = node in data.hidden or 0 < total.n < k
        part_keys = [("s", c) for c in sorted(data.kids.get(node, []), key=lambda d: tree[d]["path"])] + [("a", node)]
        invited = data.invited.get(node, 0)

    def stat_of(key: tuple) -> Stat:
        return data.sub.get(key[1], empty) if key[0] == "s" else data.own.get(key[1], empty)

    hidden = page_hidden({key: stat_of(key).n for key in part_keys}, k, total_hidden=total_hidden,
                         hidden_below={("s", d) for d in data.hidden})
    rows = []
    for key in part_keys:
        kind, d = key
        stat = stat_of(key)
        if kind == "a" and not stat.n:
            continue
        fig = _figures(stat, data.traits, key in hidden)
        # The node's own row also holds the answers of departments too small to be published on
        # their own (see figures.generalise): "everyone else", and no count of people asked.
        n_inv = data.invited.get(d, 0) if kind == "s" else None
        rows.append({"id": d, "kind": kind, "name": department_name(tree[d]) if kind == "s" else
                     _("Everyone else in %(name)s", name=department_name(tree[d])),
                     "drill": kind == "s" and bool(data.kids.get(d)) and not fig["hidden"] and bool(stat.n),
                     "invited": n_inv, **fig})
    if not any(r["kind"] == "s" for r in rows):
        rows = []  # a department with none below it: its own row would only repeat its total
    head = _figures(total, data.traits, total_hidden)
    shown = not total_hidden and total.n >= k
    items = await pulse_items(pulse_id)
    comments: list[str] = []
    if shown:
        if data.comments is None:  # a closed pulse's comments never change: read them once
            found = await db.fetch("SELECT id, department, comment FROM pulse_answer WHERE pulse = {} AND comment <> ''", pulse_id)
            # Sorted by the random id: an order that says nothing about who wrote what, or when.
            data.comments = [(r["department"], r["comment"]) for r in sorted(found, key=lambda r: str(r["id"]))]
        paths = [tree[t]["path"] for t in tops] if node is None else [tree[node]["path"]]
        wanted = {d for d, row in tree.items() if any(row["path"].startswith(p) for p in paths)}
        comments = [text for d, text in data.comments if d in wanted]
    trail = []
    if node is not None:
        for part in tree[node]["path"].strip("/").split("/"):
            d = int(part)
            if any(tree[d]["path"].startswith(tree[t]["path"]) for t in tops):
                trail.append({"id": d, "name": department_name(tree[d])})
    return {
        "pulse": pulse, "k": k, "node": node, "name": department_name(tree[node]) if node is not None else _("Everyone asked"),
        "trail": trail, "head": head, "rows": rows, "shown": shown,
        "items": [{**i, "score": total.item_score(i["position"]) if shown else None} for i in items],
        "traits": [{"trait": t, "label": trait_label(t), "score": head["traits"][t]} for t in TRAIT_ORDER],
        "invited": invited, "participation": round(100 * total.n / invited) if shown and invited else None,
        # Identical comments once, with how many gave them; in the random order of answer ids.
        "comments": list(Counter(comments).items()), "enps_hist": total.enps if shown else None,
        "trend": await trend(actor, tree[node]["source"] if node is not None else None),
    }


async def _closed_pulses(since: date | None = None, until: date | None = None) -> list[dict[str, Any]]:
    query = Pulse.select().where(Pulse.status == "closed")
    if since:
        query = query.where(Pulse.closes_on >= since)
    if until:
        query = query.where(Pulse.closes_on <= until)
    return await query.order_by(Pulse.closes_on).order_by(Pulse.id).run()


async def _pulse_figures(pulse: dict[str, Any], only: Callable[[dict[str, Any]], bool] | None = None) -> dict[int, dict[str, Any]]:
    """Snapshot departments' figures (with everything below them) after suppression, the same
    decision as on the results page; ``only`` picks the departments wanted (by their row)."""
    data = await pulse_data(pulse)
    k = pulse["min_group_size"]
    empty = Stat()
    return {d: {**_figures(data.sub.get(d, empty), data.traits, d in data.hidden or 0 < data.sub.get(d, empty).n < k),
                "source": row["source"], "depth": row["depth"], "parent": row["parent"]}
            for d, row in data.tree.items() if only is None or only(row)}


async def trend(actor: Actor, source_department: int | None = None, *, limit: int = 24) -> dict[str, Any]:
    """Engagement and eNPS over the last closed pulses, for the company (``None``: the root of
    each snapshot; only for those who see everything) or one department by its id at launch;
    each point suppressed exactly as on its pulse's page."""
    require(actor, "pulses.results")
    if source_department is None and not can(actor, "people.view_all"):
        return {"points": [], "chart": trend_chart([])}
    points = []
    chosen = (await _closed_pulses())[-limit:]
    await pulses_data(chosen)  # one batch; _pulse_figures below reads from memory
    for pulse in chosen:
        if source_department is None:
            match = list((await _pulse_figures(pulse, lambda row: row["parent"] is None)).values())
        else:
            match = list((await _pulse_figures(pulse, lambda row: row["source"] == source_department)).values())
        if len(match) != 1:
            continue
        fig = match[0]
        points.append({"pulse": pulse["id"], "title": pulse["title"], "closes_on": pulse["closes_on"],
                       "engagement": fig["engagement"], "enps": fig["enps"], "n": None if fig["hidden"] else fig["n"]})
    return {"points": points, "chart": trend_chart(points)}


def trend_chart(points: list[dict[str, Any]], width: int = 640, height: int = 200) -> dict[str, Any]:
    """Coordinates of a server-drawn SVG: engagement (0-100) and eNPS (-100…100 on the same
    axis, halved and shifted) per pulse; gaps where a figure is hidden."""
    left, right, top, bottom = 36, 8, 10, 26
    step = (width - left - right) / max(1, len(points) - 1)

    def y(value: float) -> float:
        return round(top + (100 - value) / 100 * (height - top - bottom), 1)

    lines = {"engagement": [], "enps": []}
    dots = []
    for i, p in enumerate(points):
        x = round(left + i * step, 1)
        if p["engagement"] is not None:
            lines["engagement"].append((x, y(p["engagement"])))
            dots.append({"x": x, "y": y(p["engagement"]), "kind": "engagement", "label": f"{p['title']}: {p['engagement']:.0f}"})
        if p["enps"] is not None:
            scaled = (p["enps"] + 100) / 2
            lines["enps"].append((x, y(scaled)))
            dots.append({"x": x, "y": y(scaled), "kind": "enps", "label": f"{p['title']}: eNPS {p['enps']:+.0f}"})
    every = max(1, len(points) // 8)
    return {"width": width, "height": height, "left": left, "right": width - right,
            "paths": {k: " ".join(f"{x},{yy}" for x, yy in v) for k, v in lines.items() if v}, "dots": dots,
            "grid": [{"y": y(v), "text": str(v)} for v in (0, 25, 50, 75, 100)],
            "labels": [{"x": round(left + i * step, 1), "text": p["closes_on"].strftime("%m.%y")} for i, p in enumerate(points)
                       if i % every == 0]}


# --- for other domains --------------------------------------------------------------------------


async def department_month_engagement(since: date | None = None, until: date | None = None,
                                      source_departments: list[int] | None = None) -> list[dict[str, Any]]:
    """Per closed pulse (closing from ``since`` to ``until``) and snapshot department (with
    everything below it): the month, the department's id at launch, engagement, traits, eNPS
    and n, already suppressed as on the results page (see the module docstring)."""
    wanted = set(source_departments) if source_departments is not None else None
    result = []
    chosen = await _closed_pulses(since, until)
    await pulses_data(chosen)
    for pulse in chosen:
        pick = None if wanted is None else (lambda row: row["source"] in wanted)
        for d, f in (await _pulse_figures(pulse, pick)).items():
            result.append({"pulse": pulse["id"], "month": pulse["closes_on"].strftime("%Y-%m"), "department": d,
                           "source_department": f["source"], "engagement": f["engagement"], "traits": f["traits"],
                           "enps": f["enps"], "n": f["n"] if not f["hidden"] else None, "suppressed": f["hidden"]})
    return result


async def company_trend(since: date | None = None, until: date | None = None) -> list[dict[str, Any]]:
    """The whole company's figures per closed pulse (a root of the snapshot)."""
    rows = []
    chosen = await _closed_pulses(since, until)
    await pulses_data(chosen)
    for pulse in chosen:
        roots = list((await _pulse_figures(pulse, lambda row: row["parent"] is None)).values())
        if len(roots) != 1:
            continue
        f = roots[0]
        rows.append({"pulse": pulse["id"], "month": pulse["closes_on"].strftime("%Y-%m"), "engagement": f["engagement"],
                     "traits": f["traits"], "enps": f["enps"], "n": f["n"] if not f["hidden"] else None,
                     "suppressed": f["hidden"]})
    return rows


# --- pages --------------------------------------------------------------------------------------


async def pulse_for_page(actor: Actor, pulse_id: int) -> dict[str, Any]:
    """A pulse's own page: its results (those who read results), its participation (HR), or
    for anyone else only their way to answer it."""
    pulse = await pulse_for(actor, pulse_id)
    if not (can(actor, "pulses.results") or can(actor, "pulses.manage")):
        raise Forbidden()
    return pulse


async def running_page(actor: Actor, pulse_id: int) -> dict[str, Any]:
    """A pulse that has not closed: HR sees participation; those who read results are told
    when results will appear (and nothing else, so no one compares figures before and after
    someone answers)."""
    pulse = await pulse_for(actor, pulse_id)
    context: dict[str, Any] = {"pulse": pulse, "state": pulse_state(pulse), "may_manage": can(actor, "pulses.manage"),
                               "items": await pulse_items(pulse_id)}
    if context["may_manage"]:
        context["p"] = await participation(actor, pulse_id)
    return context
