"""Running migrations from code (CLI, tests, demo) rather than only through `piccolo`."""

from __future__ import annotations

import os

from servicechain.platform.config import REPO_ROOT


async def migrate_forwards() -> None:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    cwd = os.getcwd()
    os.chdir(REPO_ROOT)  # piccolo looks for piccolo_conf.py from the working directory
    try:
        response = await run_forwards(app_name="all", migration_id="all", fake=False)
    finally:
        os.chdir(cwd)
    if not response.success:
        raise RuntimeError(f"migration failed: {response.message}")
