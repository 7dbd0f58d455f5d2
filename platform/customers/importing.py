"""The customer scores import: a CSV or XLSX file as a survey tool or helpdesk exports it.

Read exactly as the org import reads files (:mod:`servicechain.platform.lib.tabular`: UTF-8 or
Windows-1251, comma/semicolon/tab, XLSX), with a column mapping guessed from English or Russian
headers and confirmed by the person, then checked row by row. :func:`run_import` streams the
file once: a dry run writes nothing and reports every problem by row; a real run writes in
chunks inside one write transaction and rolls all of it back on the first refusal, so a file
is saved whole or not at all. Rows already stored with the same content (same source and
external id) are skipped, which makes importing the same file twice harmless. One audit entry
per import, with the counts and the file's SHA-256.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from servicechain.platform import audit, db
from servicechain.platform.customers import service
from servicechain.platform.customers.tables import ScoreUpload
from servicechain.platform.i18n import gettext as _
from servicechain.platform.imports import wizard
from servicechain.platform.imports.wizard import Problem, checksum, normalise_mapping, override_mapping
from servicechain.platform.lib.tabular import ImportFileError, iter_table
from servicechain.platform.people.service import today
from servicechain.platform.security import Actor, require, score_upload_for
from servicechain.platform.web import FormInvalid

__all__ = ["ImportFileError", "Problem", "checksum", "override_mapping"]

MAX_PROBLEMS = 500  # listed; all are counted
MAX_UPLOAD_BYTES = 18 * 1024 * 1024  # under the app's 20 MB request limit, so this message is the one shown
DEFAULT_SOURCE = "import"
FIELDS = service.FIELDS

SYNONYMS: dict[str, tuple[str, ...]] = {
    "external_id": ("external id", "id", "response id", "survey id", "answer id", "feedback id", "record id",
                    "идентификатор", "ид", "внешний id", "внешний идентификатор", "id ответа", "номер ответа",
                    "id оценки", "номер оценки"),
    "given_on": ("date", "score date", "response date", "created", "created at", "submitted", "submitted at",
                 "дата", "дата оценки", "дата ответа", "дата отзыва", "создано"),
    "channel": ("channel", "contact channel", "touchpoint", "канал", "канал обращения", "канал связи"),
    "department": ("department", "team", "dept", "unit", "department code", "store", "point",
                   "подразделение", "отдел", "группа", "команда", "код подразделения", "точка", "магазин"),
    "employee": ("employee", "agent", "operator", "courier", "employee number", "employee email", "agent email",
                 "сотрудник", "оператор", "курьер", "табельный номер", "табельный", "email сотрудника"),
    "csat": ("csat", "score", "rating", "satisfaction", "оценка", "csat оценка", "удовлетворенность", "рейтинг"),
    "csat_good": ("satisfied", "good", "thumbs up", "доволен", "клиент доволен", "хорошо"),
    "nps": ("nps", "nps score", "recommend", "likelihood to recommend", "nps оценка", "готовность рекомендовать",
            "порекомендует"),
    "case_ref": ("case", "case ref", "case reference", "ticket", "ticket id", "order", "order number",
                 "обращение", "номер обращения", "тикет", "заказ", "номер заказа"),
    "comment": ("comment", "comments", "feedback", "text", "verbatim", "комментарий", "отзыв", "текст отзыва"),
    "source": ("source", "system", "источник", "система"),
}
_SYNONYM_INDEX = wizard.synonym_index(SYNONYMS, FIELDS)


def guess_mapping(headers: list[str]) -> dict[str, str]:
    """{column: field} for the columns we recognise; each field goes to its first column."""
    return wizard.guess_mapping(headers, _SYNONYM_INDEX)


def check_mapping(headers: list[str], mapping: dict[str, str]) -> list[str]:
    """What is wrong with a mapping, in the user's language; empty when it can be used."""
    errors = wizard.check_mapping(headers, mapping, FIELDS)
    fields = set(mapping.values())
    for required in ("external_id", "given_on", "channel"):
        if required not in fields:
            errors.append(_("Map a column to %(field)s.", field=str(FIELDS[required])))
    if not fields & {"department", "employee"}:
        errors.append(_("Map a column to the department or to the employee."))
    if not fields & {"csat", "csat_good", "nps"}:
        errors.append(_("Map a column to CSAT or to NPS."))
    return errors


@dataclass
class ImportResult:
    counts: dict[str, int]
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    applied: bool = False


class ImportRejected(Exception):
    """The file has problems; nothing of it was written."""

    def __init__(self, result: ImportResult):
        super().__init__(f"{result.problem_count} problem(s)")
        self.result = result


Progress = Callable[[str, int, int], None]


async def run_import(actor: Actor, data: bytes, *, filename: str = "", sheet: str | None = None,
                     mapping: dict[str, str] | None = None, source: str = DEFAULT_SOURCE, dry_run: bool = False,
                     progress: Progress | None = None) -> ImportResult:
    """Check (``dry_run``) or import a scores file. Needs ``scores.import`` (the CLI acts as
    the system). ImportFileError for an unreadable file, FormInvalid for an unusable mapping,
    ImportRejected (nothing written) for bad rows or ids stored before with other content."""
    if actor.kind != "nobody":
        require(actor, "scores.import")
    source = (source or DEFAULT_SOURCE).strip()[:100] or DEFAULT_SOURCE
    headers, rows = iter_table(data, filename, sheet)
    mapping = normalise_mapping(mapping if mapping is not None else guess_mapping(headers))
    errors = check_mapping(headers, mapping)
    if errors:
        raise FormInvalid({"__all__": errors})
    positions = [(target, headers.index(column)) for column, target in mapping.items()]
    column_of = {target: column for column, target in mapping.items()}
    total = max(data.count(b"\n"), 1)
    result = ImportResult(counts={})

    async def work() -> ImportResult:
        directory = await service.Directory.load()
        store = service.Store(directory, write=not dry_run)
        today_ = today()
        parse, problems = service.parse_score, result.problems
        seen_rows = 0
        try:
            for number, cells in rows:
                seen_rows += 1
                width = len(cells)
                values = {target: (cells[i] if i < width else "") for target, i in positions}
                parsed, found = parse(values, directory, source, today_)
                if parsed is not None:
                    first = store.duplicate(parsed, number)
                    if first is not None:
                        found = [("external_id", _("The external id “%(id)s” is also in row %(row)s.",
                                                   id=parsed.external_id, row=first))]
                if found:
                    result.problem_count += len(found)
                    store.write = False  # the file will be refused: check the rest, write no more
                    for target, message in found:
                        if len(problems) < MAX_PROBLEMS:
                            problems.append(Problem(number, column_of.get(target, ""), message))
                    continue
                await store.add(number, parsed)  # type: ignore[arg-type]
                if progress and seen_rows % 5000 == 0:
                    progress("check" if dry_run else "apply", min(number, total), total)
            await store.finish()
        finally:
            await store.drain()  # never leave a chunk being written behind a failure
        for number, external_id in store.counts.conflicts:
            result.problem_count += 1
            if len(problems) < MAX_PROBLEMS:
                problems.append(Problem(number, column_of.get("external_id", ""), service.conflict_message(external_id)))
        problems.sort(key=lambda p: p.row or 0)
        counts = store.counts.as_dict()
        counts["rows"] = seen_rows
        result.counts = counts
        if progress:
            progress("check" if dry_run else "apply", total, total)
        if result.problem_count:
            raise ImportRejected(result)
        if not dry_run:
            await audit.record(actor, "scores.import", object_type="scores", object_id=checksum(data)[:16],
                               summary=filename or "scores import", sha256=checksum(data), filename=filename,
                               source=source, mapping=mapping, **store.counts.as_dict())
            result.applied = True
        return result

    if dry_run:
        async with db.read():
            return await work()
    async with db.write():
        return await work()


# --- the web steps: an upload kept in the database between requests ----------------------------


def _read_headers(data: bytes, filename: str, sheet: str | None) -> tuple[list[str], list[list[str]], int]:
    """Headers, the first rows (samples for the mapping page) and the number of rows."""
    headers, rows = iter_table(data, filename, sheet)
    samples, count = [], 0
    for _number, cells in rows:
        count += 1
        if len(samples) < 3:
            samples.append(cells)
    return headers, samples, count


async def store_upload(actor: Actor, filename: str, data: bytes, sheet: str = "", source: str = "") -> str:
    """Check that the file can be read and keep it for the next steps; returns its token.
    FormInvalid ({"file"|"sheet": [message]}) for an empty, too large or unreadable file."""
    require(actor, "scores.import")
    filename = wizard.clean_filename(filename)
    sheet = (sheet or "").strip()[:100]
    source = (source or "").strip()
    if len(source) > 100:
        raise FormInvalid({"source": [_("At most %(n)s characters.", n=100)]})
    await wizard.check_upload(data, filename, sheet, max_bytes=MAX_UPLOAD_BYTES, read=_read_headers)
    return await wizard.keep_upload(ScoreUpload, actor, filename, data, sheet, source=source or DEFAULT_SOURCE)


@dataclass
class Upload:
    token: str
    filename: str
    sheet: str
    source: str
    data: bytes
    headers: list[str]
    samples: list[list[str]]
    row_count: int
    applied: bool
    result: dict[str, Any]


async def load_upload(actor: Actor, token: str) -> Upload:
    """The actor's own upload (404 for anyone else's, or an expired one)."""
    row = await score_upload_for(actor, token)
    applied = row["applied_at"] is not None
    data = bytes(row["content"] or b"")
    headers, samples, count = ([], [], 0) if applied else await asyncio.to_thread(
        _read_headers, data, row["filename"], row["sheet"] or None)
    return Upload(token=token, filename=row["filename"], sheet=row["sheet"], source=row["source"], data=data,
                  headers=headers, samples=samples, row_count=count, applied=applied,
                  result=wizard.upload_result(row))


async def preview_upload(actor: Actor, upload: Upload, mapping: dict[str, str]) -> ImportResult:
    """The dry run of an upload: counts, or every problem by row. Writes nothing."""
    require(actor, "scores.import")
    try:
        return await run_import(actor, upload.data, filename=upload.filename, sheet=upload.sheet or None,
                                mapping=mapping, source=upload.source, dry_run=True)
    except ImportRejected as exc:
        return exc.result


async def apply_upload(actor: Actor, upload: Upload, mapping: dict[str, str]) -> ImportResult:
    """Import an upload once; its counts are kept on it for the result page and the file is
    dropped. DomainError(409) when it was imported already; ImportRejected (nothing written)."""
    wizard.refuse_applied(upload.applied)
    async with db.write():
        await wizard.claim_upload(ScoreUpload, upload.token)
        result = await run_import(actor, upload.data, filename=upload.filename, sheet=upload.sheet or None,
                                  mapping=mapping, source=upload.source)
        await wizard.finish_upload(ScoreUpload, upload.token, result.counts)
    return result
