"""The import wizard's machinery, shared by the org import (:mod:`servicechain.platform.people.importing`)
and the customer scores import (:mod:`servicechain.platform.customers.importing`).

Both go upload → column mapping → preview (a dry run with a report by row) → confirm → apply
→ result, with the file kept in the database between requests under a random token that only
its uploader can open (so any worker can serve the next step). What is shared is here: the
bounded upload and its first read (encoding and delimiter sniffing live in
:mod:`servicechain.platform.lib.tabular`), guessing, checking and carrying a column mapping,
the problems report, and claiming an upload once so a double click cannot apply it twice.
What each import means by its rows (fields, checks, the writes) stays in its own package, and
each apply runs inside one write transaction so a failed import changes nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from piccolo.table import Table

from servicechain.platform import db
from servicechain.platform.i18n import gettext as _
from servicechain.platform.lib.tabular import ImportFileError, header_key
from servicechain.platform.security import Actor, utcnow
from servicechain.platform.web import DomainError, FormInvalid

UPLOAD_LIFETIME = timedelta(days=1)
IGNORED = ("", "-", "ignore")  # what a mapping may say for a column it leaves out


def checksum(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Problem:
    """One thing wrong with a file, by spreadsheet row (the header is row 1) and column."""

    row: int | None  # None: the file as a whole
    column: str
    message: str

    def __str__(self) -> str:
        if self.row is None:
            return self.message
        if self.column:
            return _("Row %(row)s, %(column)s: %(problem)s", row=self.row, column=self.column, problem=self.message)
        return _("Row %(row)s: %(problem)s", row=self.row, problem=self.message)


# --- the column mapping --------------------------------------------------------------------------


def synonym_index(synonyms: Mapping[str, tuple[str, ...]], fields: Mapping[str, Any] = ()) -> dict[str, str]:
    """Folded header → field, from each field's English and Russian spellings (and its own name)."""
    index = {header_key(word): target for target, words in synonyms.items() for word in words}
    for target in fields:
        index.setdefault(header_key(target), target)
    return index


def guess_mapping(headers: list[str], index: Mapping[str, str]) -> dict[str, str]:
    """{column: field} for the columns we recognise; each field goes to its first column."""
    mapping: dict[str, str] = {}
    for header in headers:
        found = index.get(header_key(header))
        if found and found not in mapping.values():
            mapping[header] = found
    return mapping


def normalise_mapping(mapping: dict[str, str]) -> dict[str, str]:
    """Drop columns mapped to nothing ("", "-", "ignore")."""
    return {str(c): str(f).strip() for c, f in mapping.items() if str(f).strip() not in IGNORED}


def override_mapping(mapping: dict[str, str], overrides: dict[str, str]) -> dict[str, str]:
    """Apply COLUMN=field overrides: the column takes the field, which no other column keeps."""
    result = dict(mapping)
    for column, target in overrides.items():
        target = target.strip()
        if target not in IGNORED:
            result = {c: f for c, f in result.items() if f != target}
        result[column] = target
    return normalise_mapping(result)


def check_mapping(headers: list[str], mapping: dict[str, str], fields: Mapping[str, Any]) -> list[str]:
    """What is wrong with a mapping whatever is imported (a column the file lacks, a field we do
    not import, two columns for one field), in the user's language. Each import adds the
    fields it cannot do without."""
    errors: list[str] = []
    seen: dict[str, str] = {}
    for column, target in mapping.items():
        if column not in headers:
            errors.append(_("There is no column “%(column)s” in the file.", column=column))
        if target not in fields:
            errors.append(_("“%(field)s” is not a field we import; use one of: %(fields)s.",
                            field=target, fields=", ".join(fields)))
        elif target in seen:
            errors.append(_("Columns “%(a)s” and “%(b)s” are both mapped to %(field)s.",
                            a=seen[target], b=column, field=str(fields[target])))
        else:
            seen[target] = column
    return errors


def mapping_from_form(headers: list[str], form: Mapping[str, Any]) -> dict[str, str]:
    """Select `col-<index>` holds the field for the column at that index (headers can hold any
    characters, so the form names columns by position)."""
    return normalise_mapping({h: str(form.get(f"col-{i}", "") or "") for i, h in enumerate(headers)})


def mapping_as_form(headers: list[str], mapping: dict[str, str]) -> dict[str, str]:
    return {f"col-{i}": mapping.get(h, "") for i, h in enumerate(headers)}


def mapping_to_show(headers: list[str], query: Mapping[str, Any], guess: Callable[[list[str]], dict[str, str]]) -> dict[str, str]:
    """The mapping page's choices: the person's own when they come back from the preview with
    them in the query, else the guess from the headers."""
    if any(str(key).startswith("col-") for key in query):
        return mapping_from_form(headers, query)
    return guess(headers)


# --- the upload, kept between steps --------------------------------------------------------------


def clean_filename(filename: str | None) -> str:
    """The file's own name, without any folder a browser or a person put before it."""
    return (filename or "").strip().replace("\\", "/").rsplit("/", 1)[-1][:255] or "upload"


async def check_upload(data: bytes, filename: str, sheet: str, *, max_bytes: int,
                       read: Callable[[bytes, str, str | None], Any]) -> Any:
    """Refuse an empty, too large or unreadable file with FormInvalid ({"file"|"sheet": [message]});
    otherwise what ``read(data, filename, sheet)`` returned. The read runs in a thread: a big
    workbook takes seconds to parse, and the event loop keeps serving others meanwhile."""
    if not data:
        raise FormInvalid({"file": [_("Choose a CSV or XLSX file.")]})
    if len(data) > max_bytes:
        raise FormInvalid({"file": [_("The file is larger than %(mb)s MB; split it into smaller files.",
                                      mb=max_bytes // (1024 * 1024))]})
    try:
        return await asyncio.to_thread(read, data, filename, sheet or None)
    except ImportFileError as exc:
        raise FormInvalid({"sheet" if sheet and "sheet" in exc.message.lower() else "file": [exc.message]}) from None


async def keep_upload(table: type[Table], actor: Actor, filename: str, data: bytes, sheet: str, **extra: Any) -> str:
    """Store a checked file for the next steps and return its token; uploads older than
    UPLOAD_LIFETIME go on the way (they may hold personal data)."""
    token = secrets.token_urlsafe(24)
    now = utcnow()
    async with db.write():
        await table.delete().where(table.created_at < now - UPLOAD_LIFETIME).run()
        await table.insert(table(token=token, uploader=actor.person_id, filename=filename, sheet=sheet,
                                 content=data, created_at=now, **extra)).run()
    return token


def upload_result(row: dict[str, Any]) -> dict[str, Any]:
    return json.loads(row["result"]) if row["result"] else {}


def refuse_applied(applied: bool) -> None:
    if applied:
        raise DomainError(_("This file has been imported already."), 409)


async def claim_upload(table: type[Table], token: str) -> None:
    """Mark an upload applied; DomainError (409) when a second click or tab got there first.
    Call it inside the apply's write transaction, so a failed import leaves it unapplied."""
    claimed = await db.fetch(f"UPDATE {table._meta.tablename} SET applied_at = {{}} WHERE token = {{}}"
                             " AND applied_at IS NULL RETURNING id", utcnow(), token)
    if not claimed:
        raise DomainError(_("This file has been imported already."), 409)


async def finish_upload(table: type[Table], token: str, counts: dict[str, Any]) -> None:
    """Keep the counts for the result page and drop the file (it holds personal data)."""
    await table.update({table.result: json.dumps(counts), table.content: b""}).where(table.token == token).run()
