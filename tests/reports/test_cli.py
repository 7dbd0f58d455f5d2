"""`servicechain report monthly`: exit 1 with a clear message and no file for a month without
data, a language we do not speak, a folder that is missing or cannot be written; otherwise the
PDF lands whole, matches the archive, and no temporary file is left beside it."""

from __future__ import annotations

import hashlib

import pytest
from click.testing import CliRunner

from servicechain.platform.cli import main
from servicechain.platform.lib.dates import month_key

pytestmark = pytest.mark.usefixtures("database")


def invoke(*args: str):
    return CliRunner().invoke(main, ["report", "monthly", *args])


def test_a_month_without_data_exits_1_and_writes_nothing(tmp_path):
    out = tmp_path / "report.pdf"
    result = invoke("--month", "2019-02", "--lang", "en", "--out", str(out))
    assert result.exit_code == 1, result.output
    assert "no data for 2019-02" in result.output
    assert "building it now" in result.output  # there was no snapshot: it said so
    assert list(tmp_path.iterdir()) == []


def test_an_unsupported_language_exits_1_naming_the_supported_ones(tmp_path):
    result = invoke("--month", "2026-10", "--lang", "de", "--out", str(tmp_path / "r.pdf"))
    assert result.exit_code == 1
    assert "'de' is not supported" in result.output and "ru, en" in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_missing_folder_exits_1(tmp_path):
    result = invoke("--month", "2026-10", "--lang", "ru", "--out", str(tmp_path / "missing" / "r.pdf"))
    assert result.exit_code == 1 and "does not exist" in result.output
    assert not (tmp_path / "missing").exists()


def test_a_folder_that_cannot_be_written_exits_1():
    # /proc refuses new files even to root (os.access would say yes to root anywhere).
    result = invoke("--month", "2026-10", "--lang", "ru", "--out", "/proc/servicechain-report.pdf")
    assert result.exit_code == 1 and "cannot write to the folder" in result.output


def test_a_bad_month_is_a_usage_error(tmp_path):
    result = invoke("--month", "October", "--lang", "ru", "--out", str(tmp_path / "r.pdf"))
    assert result.exit_code == 2 and "YYYY-MM" in result.output


def test_the_report_is_written_whole_and_stored_in_the_archive(seeded, tmp_path):
    out = tmp_path / "report.pdf"
    out.write_bytes(b"last month's file")  # replaced whole
    result = invoke("--month", month_key(seeded["month"]), "--lang", "en", "--out", str(out))
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    digest = hashlib.sha256(data).hexdigest()
    assert digest in result.output and "stored in the archive" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["report.pdf"]  # no temporary file left

    import asyncio

    from servicechain.platform import db
    from servicechain.platform.reports import monthly

    async def stored():
        await db.start()
        try:
            return await monthly.archived(seeded["month"], "en")
        finally:
            await db.stop()

    row = asyncio.run(stored())
    assert row["sha256"] == digest and row["generated_by"] is None  # the command line
