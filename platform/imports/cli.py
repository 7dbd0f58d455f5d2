"""What `servicechain people import` and `servicechain scores import` share: exit codes, the
error line, the progress bar, --map overrides and the column listing.

stdout carries a command's result; stderr its mapping, progress and errors.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click

from servicechain.platform.i18n import gettext as _
from servicechain.platform.lib.tabular import ImportFileError

EXIT_OK, EXIT_DATA, EXIT_USAGE = 0, 1, 2


def error(message: str) -> None:
    click.echo(f"servicechain: {message}", err=True)


def read_file(file: str) -> bytes | None:
    """The file's bytes, or None after saying why it cannot be read."""
    try:
        return Path(file).read_bytes()
    except OSError as exc:
        error(_("Cannot read %(file)s: %(reason)s", file=file, reason=exc.strerror or str(exc)))
        return None


def open_table(file: str, sheet: str | None, read: Callable[[bytes, str, str | None], tuple[list[str], Any]]
               ) -> tuple[bytes, list[str], Any] | None:
    """The file's bytes, headers and rows as ``read`` gives them, or None after saying why the
    file cannot be read (a missing file, an encoding or format we do not read)."""
    data = read_file(file)
    if data is None:
        return None
    try:
        headers, rows = read(data, Path(file).name, sheet)
    except ImportFileError as exc:
        error(f"{file}: {exc.message}")
        return None
    return data, headers, rows


def parse_maps(maps: tuple[str, ...]) -> dict[str, str]:
    """--map COLUMN=field options as {column: field}; click.UsageError for a malformed one."""
    overrides: dict[str, str] = {}
    for item in maps:
        column, sep, target = item.rpartition("=")
        if not sep or not column.strip():
            raise click.UsageError(_("--map takes COLUMN=field, not %(item)s.", item=item))
        overrides[column.strip()] = target.strip()
    return overrides


def show_mapping(headers: list[str], mapping: dict[str, str], fields: Mapping[str, Any]) -> None:
    click.echo(_("Columns:"), err=True)
    for header in headers:
        target = mapping.get(header)
        shown = f"{target} ({fields[target]})" if target in fields else target or _("(ignored)")
        click.echo(f"  {header} → {shown}", err=True)


class Bar:
    """A rich progress bar on stderr, only when stderr is a terminal (quiet in pipes and CI)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                                 console=Console(stderr=True), transient=True, disable=not sys.stderr.isatty())
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> "Bar":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self.tasks:
            label = _("Checking") if stage == "check" else _("Importing")
            self.tasks[stage] = self.progress.add_task(label, total=total)
        self.progress.update(self.tasks[stage], completed=done, total=total)
