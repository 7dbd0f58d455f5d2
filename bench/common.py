"""What every benchmark needs: an empty, migrated database of either engine, and the
environment that points the servicechain command at it."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"


def empty_database(engine: str, name: str) -> tuple[dict[str, str], Path]:
    """A fresh data folder (SQLite) or a recreated PostgreSQL database `name`, migrated."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"{name}-{engine}-"))
    env = {**os.environ, "SERVICECHAIN_ENV": "development", "SERVICECHAIN_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)
    if engine == "postgres":
        env["DATABASE_URL"] = f"{PG_SERVER}/{name}"
        for sql in (f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}"):
            subprocess.run(["psql", f"{PG_SERVER}/postgres", "-qc", sql], check=True, capture_output=True)
    subprocess.run([BIN / "servicechain", "migrate"], env=env, check=True, capture_output=True)
    return env, data_dir
