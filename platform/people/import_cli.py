"""`servicechain people import FILE`: the org import from the command line.

stdout carries the result (problems one per line, then counts); stderr carries the guessed
mapping, progress and errors. Exit 0 success, 1 the data has problems (a dry run with
problems included, or an unconfirmed mass deactivation), 2 usage error. It asks for
confirmation only when stdin is a terminal.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from servicechain.platform.i18n import gettext as _
from servicechain.platform.imports.cli import (EXIT_DATA, EXIT_OK, EXIT_USAGE, Bar, error, open_table, parse_maps,
                                              show_mapping)
from servicechain.platform.people import importing


def _mapping_from(headers: list[str], mapping_file: str | None, maps: tuple[str, ...]) -> dict[str, str]:
    """The guess, replaced by a mapping file, then adjusted by --map COLUMN=field."""
    mapping = importing.guess_mapping(headers)
    if mapping_file:
        try:
            loaded = json.loads(Path(mapping_file).read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise click.UsageError(_("Cannot read the mapping file %(file)s: %(reason)s", file=mapping_file, reason=str(exc)))
        if not isinstance(loaded, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in loaded.items()):
            raise click.UsageError(_("The mapping file must be a JSON object of column names to field names."))
        mapping = importing.normalise_mapping(loaded)
    return importing.override_mapping(mapping, parse_maps(maps))


def _summary(counts: dict[str, int], *, applied: bool) -> str:
    if applied:
        text = _("Imported: %(created)s created, %(updated)s updated, %(unchanged)s unchanged, %(deactivated)s "
                 "deactivated, %(departments)s new departments.")
    else:
        text = _("Dry run: %(created)s to create, %(updated)s to update, %(unchanged)s unchanged, %(deactivated)s "
                 "to deactivate, %(departments)s new departments. Nothing was changed.")
    return text % {"created": counts["created"], "updated": counts["updated"], "unchanged": counts["unchanged"],
                   "deactivated": counts["deactivated"], "departments": counts["departments_created"]}


def import_command(
    file: str,
    *,
    dry_run: bool = False,
    full: bool = False,
    yes: bool = False,
    mapping_file: str | None = None,
    maps: tuple[str, ...] = (),
    sheet: str | None = None,
) -> int:
    from servicechain.platform.cli import run
    from servicechain.platform.security import SYSTEM

    table = open_table(file, sheet, importing.read_table)
    if table is None:
        return EXIT_USAGE
    data, headers, rows = table
    try:
        mapping = _mapping_from(headers, mapping_file, maps)
    except click.UsageError as exc:
        error(exc.message)
        return EXIT_USAGE
    show_mapping(headers, mapping, importing.FIELDS)
    mapping_errors = importing.check_mapping(headers, mapping)
    if mapping_errors:
        for message in mapping_errors:
            error(message)
        return EXIT_USAGE

    async def check_and_apply() -> int:
        # One event loop and one database start for both steps (a prompt may sit between them).
        with Bar() as bar:
            plan = await importing.plan_import(rows, mapping, full, actor=SYSTEM, progress=bar)
        for problem in plan.problems:
            click.echo(str(problem))
        if plan.problems:
            error(_("%(count)s problem(s) in %(file)s; nothing was changed.", count=len(plan.problems), file=file))
            return EXIT_DATA
        if full and plan.kept_active:
            click.echo(_("%(count)s administrator(s) missing from the file stay active.", count=len(plan.kept_active)),
                       err=True)
        if dry_run:
            click.echo(_summary(plan.counts(), applied=False))
            return EXIT_OK
        confirmed = yes
        if plan.needs_confirmation and not yes:
            warning = importing.confirmation_message(plan)
            if not sys.stdin.isatty():
                error(warning + " " + _("Run it again with --yes to confirm."))
                return EXIT_DATA
            click.echo(warning, err=True)
            if not click.confirm(_("Deactivate them?"), default=False, err=True):
                error(_("Nothing was changed."))
                return EXIT_DATA
            confirmed = True
        try:
            with Bar() as bar:
                counts = await importing.apply_import(
                    SYSTEM, plan, confirmed=confirmed, file_checksum=importing.checksum(data), filename=Path(file).name,
                    progress=bar)
        except importing.ImportRejected as exc:  # the database changed since the check
            for problem in exc.plan.problems:
                click.echo(str(problem))
            error(_("The import was refused; nothing was changed."))
            return EXIT_DATA
        click.echo(_summary(counts, applied=True))
        return EXIT_OK

    return run(check_and_apply)
