"""The wrappers the systemd timers call: which month the report is for, and which backups
the retention keeps. `servicechain` is replaced by a stub that logs its arguments."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from tests.conftest import ROOT

STUB = """#!/bin/sh
echo "$@" >> "{log}"
[ "$1" = backup ] && {{ [ -n "$FAIL" ] && exit 1; echo data > "$2"; }}
exit 0
"""


@pytest.fixture
def stub(tmp_path):
    log = tmp_path / "calls.log"
    path = tmp_path / "servicechain"
    path.write_text(STUB.format(log=log))
    path.chmod(0o755)
    return path, log


def run(script: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / "scripts" / script), *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env})


@pytest.mark.parametrize("today, month", [("2026-01-15", "2025-12"), ("2026-03-31", "2026-02"), ("2026-12-01", "2026-11")])
def test_the_monthly_report_is_for_last_month(stub, tmp_path, today, month):
    bin_, log = stub
    done = run("monthly-report", str(tmp_path / "reports"), "ru", "en", SERVICECHAIN_BIN=str(bin_), TODAY=today)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "reports"
    assert log.read_text().splitlines() == [
        f"analytics refresh --month {month}",
        f"report monthly --month {month} --lang ru --out {out}/servicechain-report-{month}-ru.pdf",
        f"report monthly --month {month} --lang en --out {out}/servicechain-report-{month}-en.pdf",
    ]


def test_backups_older_than_the_retention_are_deleted_but_never_the_newest(stub, tmp_path):
    bin_, log = stub
    folder = tmp_path / "backups"
    folder.mkdir()
    day = 24 * 3600
    ages = {"servicechain-old.scbackup": 20, "servicechain-recent.scbackup": 5, "other-file.txt": 40}
    for name, days in ages.items():
        (folder / name).write_text("x")
        os.utime(folder / name, (time.time() - days * day,) * 2)
    done = run("backup", str(folder), "14", SERVICECHAIN_BIN=str(bin_))
    assert done.returncode == 0, done.stderr
    kept = sorted(p.name for p in folder.iterdir())
    assert "servicechain-old.scbackup" not in kept and "servicechain-recent.scbackup" in kept and "other-file.txt" in kept
    assert len([k for k in kept if k.startswith("servicechain-2")]) == 1  # the new one, dated

    # A failed backup deletes nothing, even what is past the retention.
    (folder / "servicechain-old.scbackup").write_text("x")
    os.utime(folder / "servicechain-old.scbackup", (time.time() - 20 * day,) * 2)
    failed = run("backup", str(folder), "14", SERVICECHAIN_BIN=str(bin_), FAIL="1")
    assert failed.returncode != 0
    assert (folder / "servicechain-old.scbackup").exists()
