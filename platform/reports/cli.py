"""`servicechain report monthly --month 2026-10 --lang ru --out report.pdf`: what the monthly
timer calls. Reads the month's stored analytics snapshot (builds it when missing, and says so),
stores the report in the archive, and writes the file atomically: a temporary file in the same
folder renamed over the target, so a failure never leaves half a PDF behind.

Exit 1 with one line on stderr and no file: a month without data, a language we do not
support, an output folder that is missing or not writable."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path

import click

from servicechain.platform.cli import EXIT_DATA, fail, month_option, run


@click.group()
def report() -> None:
    """The monthly executive report (PDF)."""


def check_output(out: Path) -> None:
    """Refuse early (before minutes of work) an output the command could not write."""
    folder = out.parent
    if out.exists() and out.is_dir():
        fail(f"--out {str(out)!r} is a folder; give a file name such as report.pdf", EXIT_DATA)
    if not folder.is_dir():
        fail(f"the folder {str(folder)!r} does not exist; create it or choose another --out", EXIT_DATA)
    if not os.access(folder, os.W_OK | os.X_OK):
        fail(f"cannot write to the folder {str(folder)!r}; choose another --out", EXIT_DATA)
    if out.exists() and not os.access(out, os.W_OK):
        fail(f"cannot overwrite {str(out)!r}; choose another --out", EXIT_DATA)
    try:  # the real test: permissions, read-only mounts, quotas (os.access says yes to root)
        fd, probe = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".probe", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        fail(f"cannot write to the folder {str(folder)!r}: {exc.strerror or exc}; choose another --out", EXIT_DATA)


def write_atomically(out: Path, data: bytes) -> None:
    """A temporary file next to ``out``, flushed to disk, then renamed over it: readers see the
    old file or the whole new one, never a part."""
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


@report.command("monthly")
@click.option("--month", "month_text", default=None, help="YYYY-MM; default: the last complete month.")
@click.option("--lang", default="ru", show_default=True, help="Report language (ru or en).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=True, path_type=Path),
              help="The PDF file to write (replaced whole if it exists).")
def monthly(month_text: str | None, lang: str, out: Path) -> None:
    """Make the monthly report, store it in the archive and write it to --out."""
    from servicechain.platform.config import LANGUAGES, get_settings
    from servicechain.platform.i18n import use_language
    from servicechain.platform.lib.dates import last_complete_month, month_key
    from servicechain.platform.reports import monthly as reports

    if lang not in LANGUAGES:
        fail(f"language {lang!r} is not supported; supported: {', '.join(LANGUAGES)}", EXIT_DATA)
    month = month_option(month_text) or last_complete_month(datetime.now(get_settings().tz).date())
    out = out.expanduser().absolute()
    check_output(out)

    async def make() -> reports.ArchivedReport | str:
        snap, built = await reports.stored_snapshot(month, build_missing=False)
        if snap is None:
            click.echo(f"No stored analytics snapshot for {month_key(month)}: building it now.", err=True)
            snap, built = await reports.stored_snapshot(month, build_missing=True)
        try:
            with use_language("en"):  # the command line speaks English; the PDF speaks --lang
                return await reports.generate(month, lang, None, snap=snap)
        except reports.NoData:
            return f"no data for {month_key(month)}: nothing to report (no file written)"

    result = run(make)
    if isinstance(result, str):
        fail(result, EXIT_DATA)
    try:
        write_atomically(out, result.pdf or b"")
    except OSError as exc:
        fail(f"cannot write {str(out)!r}: {exc.strerror or exc}", EXIT_DATA)
    click.echo(f"Report {month_key(month)} ({lang}) written to {out}: {result.size} bytes, sha256 {result.sha256};"
               " stored in the archive.", err=True)
