"""`servicechain scores import` as a script runs it: a separate process, exit codes 0/1/2,
results on stdout and the rest on stderr."""

from __future__ import annotations

import os
import subprocess
import sys

from servicechain.platform.customers.tables import CustomerScore
from tests.conftest import ROOT, TMP
from tests.customers import helpers as h


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from servicechain.platform.cli import main; main()", "scores", "import", *args],
        cwd=ROOT, env=dict(os.environ), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )


def write(name: str, data: bytes) -> str:
    path = TMP / name
    path.write_bytes(data)
    return str(path)


async def count(prefix: str) -> int:
    return await CustomerScore.count().where(CustomerScore.external_id.like(prefix + "%")).run()


async def test_dry_run_then_import_then_the_same_file_again(cast):
    prefix = f"cli-{h.tag()}"
    path = write(f"{prefix}.csv", h.csv_bytes([h.RU_HEADER, [f"{prefix}-1", h.recent().isoformat(), "Чат", "support", "",
                                                              "3", "", "", ""]], delimiter=";", encoding="cp1251"))
    dry = cli(path, "--dry-run", "--source", "survey")
    assert dry.returncode == 0, dry.stderr
    assert "Оценка → csat" in dry.stderr
    assert dry.stdout.strip() == "Dry run: 1 scores to add, 0 already there, 1 follow-ups to open. Nothing was saved."
    assert await count(prefix) == 0
    real = cli(path, "--source", "survey")
    assert real.returncode == 0, real.stderr
    assert real.stdout.strip() == "Imported: 1 scores added, 0 already there, 1 follow-ups opened."
    assert await count(prefix) == 1
    again = cli(path, "--source", "survey")
    assert again.returncode == 0 and "0 scores added, 1 already there" in again.stdout


async def test_problems_are_listed_one_per_line_and_exit_1(cast):
    prefix = f"clibad-{h.tag()}"
    path = write(f"{prefix}.csv", h.csv_bytes([h.EN_HEADER,
                                               [f"{prefix}-1", h.recent().isoformat(), "chat", "support", "", "9", "", "", ""],
                                               [f"{prefix}-2", "someday", "chat", "support", "", "5", "", "", ""]]))
    result = cli(path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "Row 2, CSAT: CSAT “9” is out of range: give 1 to 5, or good/bad.",
        "Row 3, Date: “someday” is not a date we can read (use 31.12.2025 or 2025-12-31).",
    ]
    assert "2 problem(s)" in result.stderr and "nothing was saved" in result.stderr
    assert await count(prefix) == 0


async def test_an_unreadable_file_or_mapping_is_a_usage_error(cast):
    assert cli(write("cli-utf16.csv", "ID,Date\r\n1,2025-01-01\r\n".encode("utf-16"))).returncode == 2
    unmapped = cli(write("cli-unmapped.csv", b"Foo,Bar\r\n1,2\r\n"))
    assert unmapped.returncode == 2 and "Map a column to" in unmapped.stderr
    bad_map = cli(write("cli-map.csv", b"Foo,Bar\r\n1,2\r\n"), "--map", "nonsense")
    assert bad_map.returncode == 2
