"""`servicechain scores import FILE [--dry-run]`: the customer scores import from the command line.

stdout carries the result (problems one per line, then counts); stderr carries the mapping,
the progress bar (only on a terminal) and errors. Exit 0 success, 1 the file has problems
(nothing saved), 2 usage error.
"""

from __future__ import annotations

from pathlib import Path

import click

from servicechain.platform.customers import importing
from servicechain.platform.i18n import gettext as _
from servicechain.platform.imports.cli import (EXIT_DATA, EXIT_OK, EXIT_USAGE, Bar, error, open_table, parse_maps,
                                              show_mapping)


def _summary(counts: dict[str, int], *, applied: bool) -> str:
    if applied:
        text = _("Imported: %(created)s scores added, %(skipped)s already there, %(follow_ups)s follow-ups opened.")
    else:
        text = _("Dry run: %(created)s scores to add, %(skipped)s already there, %(follow_ups)s follow-ups to open. "
                 "Nothing was saved.")
    return text % counts


def import_command(file: str, *, dry_run: bool = False, source: str = importing.DEFAULT_SOURCE,
                   maps: tuple[str, ...] = (), sheet: str | None = None) -> int:
    from servicechain.platform.cli import run
    from servicechain.platform.security import SYSTEM
    from servicechain.platform.web import FormInvalid

    table = open_table(file, sheet, importing.iter_table)
    if table is None:
        return EXIT_USAGE
    data, headers, _rows = table
    try:
        overrides = parse_maps(maps)
    except click.UsageError as exc:
        error(exc.message)
        return EXIT_USAGE
    mapping = importing.override_mapping(importing.guess_mapping(headers), overrides)
    show_mapping(headers, mapping, importing.FIELDS)

    async def go() -> int:
        try:
            with Bar() as bar:
                result = await importing.run_import(SYSTEM, data, filename=Path(file).name, sheet=sheet, mapping=mapping,
                                                    source=source, dry_run=dry_run, progress=bar)
        except FormInvalid as exc:
            for message in exc.errors.get("__all__", []):
                error(message)
            return EXIT_USAGE
        except importing.ImportFileError as exc:
            error(f"{file}: {exc.message}")
            return EXIT_USAGE
        except importing.ImportRejected as exc:
            for problem in exc.result.problems:
                click.echo(str(problem))
            error(_("%(count)s problem(s) in %(file)s; nothing was saved.", count=exc.result.problem_count, file=file))
            return EXIT_DATA
        click.echo(_summary(result.counts, applied=not dry_run))
        return EXIT_OK

    return run(go)
