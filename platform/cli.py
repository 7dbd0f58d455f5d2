"""`servicechain` command line.

Exit codes: 0 success, 1 the data has problems (a dry run with problems included), 2 usage
error. Errors are one line on stderr; progress goes to stderr; nothing ever prompts when
stdin is not a terminal.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import click

EXIT_OK, EXIT_DATA, EXIT_USAGE = 0, 1, 2


def fail(message: str, code: int = EXIT_DATA) -> None:
    click.echo(f"servicechain: {message}", err=True)
    sys.exit(code)


def month_option(text: str | None) -> date | None:
    """A ``--month YYYY-MM`` option as the month's first day, None when it was not given. Read by
    ``lib.dates.parse_month``, as the web pages read a month, so a bad one (empty included) gets
    the same words; exit 2 with them, in English like the rest of the command line."""
    if text is None:
        return None
    from servicechain.platform.i18n import use_language
    from servicechain.platform.lib.dates import BadMonth, parse_month

    try:
        return parse_month(text)
    except BadMonth as exc:
        with use_language("en"):
            fail(f"--month: {exc}", EXIT_USAGE)
        raise  # unreachable: fail exits


def run(coro_fn: Callable[[], Awaitable[Any]]) -> Any:
    """Run one async command with the database started and stopped around it."""
    from servicechain.platform import db
    from servicechain.platform.config import ConfigError

    async def main() -> Any:
        await db.start()
        try:
            return await coro_fn()
        finally:
            await db.stop()

    try:
        return asyncio.run(main())
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)


@click.group()
def main() -> None:
    """servicechain: goals, authority, recognition and internal service, measured."""
    from servicechain.platform.config import ConfigError, get_settings

    try:
        get_settings()
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)


@main.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    from servicechain.platform.migrations import migrate_forwards

    run(migrate_forwards)
    click.echo("Database is up to date.", err=True)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--with-worker/--no-worker", default=None, help="Run background work inside the server (default: on outside production).")
def serve(host: str, port: int, workers: int, with_worker: bool | None) -> None:
    """Serve the web application (put a reverse proxy in front of it in production)."""
    import uvicorn

    from servicechain.platform.config import get_settings
    from servicechain.platform.demo.guard import refuse_demo_in_production

    settings = get_settings()
    run(refuse_demo_in_production)
    if with_worker is None:
        with_worker = not settings.is_production
    os.environ["SERVICECHAIN_RUN_WORKER"] = "1" if with_worker else "0"
    uvicorn.run(
        "servicechain.platform.asgi:app", host=host, port=port, workers=workers, access_log=False,
        proxy_headers=False, log_level="info",
    )


@main.command()
def worker() -> None:
    """Send mail and run scheduled work until stopped (safe to run several)."""
    import signal

    from servicechain.platform import outbox

    async def loop() -> None:
        stop = asyncio.Event()
        loop_ = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop_.add_signal_handler(sig, stop.set)
        click.echo("Worker started; Ctrl+C stops it.", err=True)
        await outbox.run_worker(stop)

    run(loop)


@main.command()
@click.option("--employees", default=300, show_default=True, type=click.IntRange(20, 50000))
@click.option("--months", default=24, show_default=True, type=click.IntRange(0, 60))
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--today", "today_", default=None, help="YYYY-MM-DD; default: today")
@click.option("--reset", is_flag=True, help="Rebuild the demo database from scratch.")
def demo(employees: int, months: int, seed: int, today_: str | None, reset: bool) -> None:
    """Load the demo company (an online grocer) into an empty or demo database."""
    from servicechain.platform.demo.generate import DemoRefused, load_demo

    try:
        day = date.fromisoformat(today_) if today_ else date.today()
    except ValueError:
        fail(f"--today must be YYYY-MM-DD, not {today_!r}", EXIT_USAGE)
    try:
        summary = run(lambda: load_demo(employees=employees, months=months, seed=seed, today=day, reset=reset))
    except DemoRefused as exc:
        fail(str(exc), EXIT_DATA)
    click.echo(summary)


@main.group()
def people() -> None:
    """People and departments."""


@people.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check the file and list every problem; change nothing.")
@click.option("--full", is_flag=True, help="Deactivate active people missing from the file.")
@click.option("--yes", is_flag=True, help="Confirm a full import that deactivates more than 40 %% of people.")
@click.option("--mapping", "mapping_file", type=click.Path(exists=True, dir_okay=False), help="JSON file: {column: field}.")
@click.option("--map", "maps", multiple=True, help="COLUMN=field, repeatable; overrides the guess.")
@click.option("--sheet", default=None, help="XLSX sheet name (default: the first).")
def people_import(file: str, dry_run: bool, full: bool, yes: bool, mapping_file: str | None, maps: tuple[str, ...], sheet: str | None) -> None:
    """Import people and departments from a CSV or XLSX export of an HR system."""
    from servicechain.platform.people.import_cli import import_command

    code = import_command(file, dry_run=dry_run, full=full, yes=yes, mapping_file=mapping_file, maps=maps, sheet=sheet)
    sys.exit(code)


@main.group()
def scores() -> None:
    """Customer scores."""


@scores.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check the file and list every problem; save nothing.")
@click.option("--source", default="import", show_default=True, help="The system the scores come from; external ids are unique per source.")
@click.option("--map", "maps", multiple=True, help="COLUMN=field, repeatable; overrides the guess.")
@click.option("--sheet", default=None, help="XLSX sheet name (default: the first).")
def scores_import(file: str, dry_run: bool, source: str, maps: tuple[str, ...], sheet: str | None) -> None:
    """Import customer scores from a CSV or XLSX export of a survey tool or helpdesk."""
    from servicechain.platform.customers.import_cli import import_command

    sys.exit(import_command(file, dry_run=dry_run, source=source, maps=maps, sheet=sheet))


@main.group("internal-service")
def internal_service() -> None:
    """Internal service ratings."""


@internal_service.command("rebuild")
def internal_service_rebuild() -> None:
    """Rebuild the monthly summary the matrix reads from the ratings (after loading ratings in bulk)."""
    from servicechain.internal_service import summary

    rows = run(summary.rebuild)
    click.echo(f"internal service summary rebuilt: {rows} rows")


@main.group()
def user() -> None:
    """Accounts."""


@user.command("create-admin")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from standard input.")
def create_admin(email: str, password_stdin: bool) -> None:
    """Create (or reset) an administrator account."""
    from servicechain.platform.accounts.service import create_admin as create
    from servicechain.platform.web import DomainError, FormInvalid

    password = sys.stdin.readline().rstrip("\r\n")
    try:
        person_id = run(lambda: create(email, password))
    except FormInvalid as exc:
        fail("; ".join(m for ms in exc.errors.values() for m in ms), EXIT_DATA)
    except DomainError as exc:
        fail(exc.message, EXIT_DATA)
    click.echo(f"Administrator {email} is ready (person #{person_id}).", err=True)


@main.group()
def token() -> None:
    """API tokens for integrations."""


@token.command("create")
@click.argument("name")
@click.option("--scopes", required=True, help="Comma-separated, e.g. people:read")
def token_create(name: str, scopes: str) -> None:
    """Create a token and print it once, alone on stdout."""
    from servicechain.platform.accounts.service import create_token
    from servicechain.platform.security import SYSTEM
    from servicechain.platform.web import FormInvalid

    try:
        raw = run(lambda: create_token(SYSTEM, name, scopes))
    except FormInvalid as exc:
        fail("; ".join(m for ms in exc.errors.values() for m in ms), EXIT_USAGE)
    click.echo(raw)


@token.command("revoke")
@click.argument("name")
def token_revoke(name: str) -> None:
    """Revoke a token by name."""
    from servicechain.platform.accounts.service import revoke_token
    from servicechain.platform.security import SYSTEM
    from servicechain.platform.web import DomainError

    try:
        run(lambda: revoke_token(SYSTEM, name))
    except DomainError as exc:
        fail(exc.message, EXIT_DATA)
    click.echo(f"Token {name} revoked.", err=True)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
def backup(file: str) -> None:
    """Write the whole database to FILE (SQLite: online backup; PostgreSQL: pg_dump), safe while serving."""
    from pathlib import Path

    from servicechain.platform import backup as backups

    try:
        header = run(lambda: backups.backup(Path(file), progress=lambda m: click.echo(m, err=True)))
    except backups.BackupError as exc:
        fail(str(exc), EXIT_DATA)
    rows = sum(header.tables.values())
    click.echo(f"Backup written to {file}: {header.engine}, {len(header.tables)} tables, {rows} rows, "
               f"{len(header.migrations)} migrations, {header.payload_bytes} bytes.", err=True)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace a database that already holds data.")
def restore(file: str, force: bool) -> None:
    """Replace the database with the backup in FILE, then migrate it forward (stop the app first)."""
    from pathlib import Path

    from servicechain.platform import backup as backups

    try:
        header = run(lambda: backups.restore(Path(file), force=force, progress=lambda m: click.echo(m, err=True)))
    except backups.BackupError as exc:
        fail(str(exc), EXIT_DATA)
    click.echo(f"Restored {file} (taken {header.created_at}); the database is up to date.", err=True)


@main.group()
def audit() -> None:
    """The audit log."""


@audit.command("verify")
def audit_verify() -> None:
    """Check the hash chain; exit 1 and name each entry that was edited or deleted."""
    from servicechain.platform import audit as audit_log

    checked, problems = run(audit_log.verify)
    for problem in problems:
        click.echo(f"entry {problem.seq}: {problem.message}", err=True)
    if problems:
        fail(f"{len(problems)} problem(s) in {checked} entries", EXIT_DATA)
    click.echo(f"Audit log intact: {checked} entries verified.")


if __name__ == "__main__":
    # `python -m servicechain.platform.cli`: this file runs as __main__, a second copy of the
    # module. The command groups below import servicechain.platform.cli (the real module) for
    # its helpers, which would import them back half-made; run the real module's group instead.
    from servicechain.platform.cli import main as _main  # noqa: E402

    sys.exit(_main())

# The monthly executive report (issue 9): `servicechain report monthly`.
from servicechain.platform.reports.cli import report as _report  # noqa: E402

main.add_command(_report)

# The analytics snapshot behind the dashboards and the report: `servicechain analytics refresh`.
from servicechain.platform.analytics.cli import analytics as _analytics  # noqa: E402

main.add_command(_analytics)


if __name__ == "__main__":
    main()
