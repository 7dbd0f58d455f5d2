"""`servicechain people import` as a person or a script runs it: a separate process, stdin not a
terminal, exit codes 0/1/2, results on stdout and the rest on stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from servicechain.platform.people.tables import Person
from tests.conftest import ROOT, TMP
from tests.helpers import csv_bytes, xlsx_bytes


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from servicechain.platform.cli import main; main()", "people", "import", *args],
        cwd=ROOT, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=120,
    )


def write(name: str, data: bytes) -> str:
    path = TMP / name
    path.write_bytes(data)
    return str(path)


async def numbers_like(prefix: str) -> list[str]:
    rows = await Person.select(Person.employee_number).where(Person.employee_number.like(prefix + "%")).run()
    return sorted(r["employee_number"] for r in rows)


async def test_dry_run_prints_the_mapping_and_changes_nothing(cast):
    path = write("cli-dry.csv", csv_bytes([["Табельный номер", "ФИО", "Подразделение"], ["CLI-D1", "Сухой Прогон", "Склад"]],
                                          delimiter=";"))
    result = cli(path, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "Табельный номер → employee_number" in result.stderr and "ФИО → full_name" in result.stderr
    assert result.stdout.strip() == ("Dry run: 1 to create, 0 to update, 0 unchanged, 0 to deactivate, "
                                     "0 new departments. Nothing was changed.")
    assert await numbers_like("CLI-D") == []


async def test_problems_are_listed_one_per_line_and_exit_1(cast):
    path = write("cli-bad.csv", csv_bytes([
        ["Табельный номер", "ФИО", "Email", "Руководитель"],
        ["CLI-B1", "Первый", "broken-email", ""],
        ["CLI-B2", "", "", "CLI-B9"],
    ], encoding="cp1251"))
    for extra in ((), ("--dry-run",)):
        result = cli(path, *extra)
        assert result.returncode == 1
        assert result.stdout.splitlines() == [
            "Row 2, Email: “broken-email” is not a valid email address; leave the cell empty if the person has none.",
            "Row 3, ФИО: The name is missing.",
            "Row 3, Руководитель: Manager CLI-B9 is neither in the file nor in the directory.",
        ]
        assert "3 problem(s)" in result.stderr and "nothing was changed" in result.stderr
    assert await numbers_like("CLI-B") == []


async def test_import_applies_then_reimport_updates(cast):
    rows = [["Employee number", "Full name", "Email", "Department"], ["CLI-A1", "Applied One", "cli-a1@imp.test", "Company / CLI dept"]]
    result = cli(write("cli-apply.csv", csv_bytes(rows)))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Imported: 1 created, 0 updated, 0 unchanged, 0 deactivated, 1 new departments."
    rows[1][1] = "Applied One Renamed"
    result = cli(write("cli-apply.csv", csv_bytes(rows)))
    assert result.returncode == 0, result.stderr
    assert "0 created, 1 updated" in result.stdout
    assert (await Person.select().where(Person.employee_number == "CLI-A1").first().run())["full_name"] == "Applied One Renamed"


async def test_mapping_file_and_map_options_override_the_guess(cast):
    data = csv_bytes([["Код", "Человек", "Мыло", "Отдел"], ["CLI-M1", "Картографов", "cli-m1@imp.test", "company"]])
    path = write("cli-map.csv", data)
    mapping = write("cli-map.json", json.dumps({"Код": "employee_number", "Человек": "full_name", "Отдел": "department"}).encode())
    result = cli(path, "--mapping", mapping, "--map", "Мыло=email", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "Мыло → email" in result.stderr
    result = cli(path, "--map", "Код=employee_number", "--map", "Человек=full_name")
    assert result.returncode == 0, result.stderr
    assert (await Person.select().where(Person.employee_number == "CLI-M1").first().run())["email"] is None


async def test_xlsx_sheet_is_read(cast):
    path = write("cli.xlsx", xlsx_bytes({"Other": [["x"]], "People": [["Табельный номер", "ФИО"], ["CLI-X1", "Экселев"]]}))
    result = cli(path, "--sheet", "People", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "1 to create" in result.stdout
    result = cli(path, "--sheet", "Nope", "--dry-run")
    assert result.returncode == 2 and "There is no sheet Nope" in result.stderr


@pytest.mark.parametrize("args, message", [
    (("missing-file.csv",), "Cannot read"),
    (("{bad_encoding}",), "Unknown encoding"),
    (("{good}", "--map", "no-equals-sign"), "--map takes COLUMN=field"),
    (("{good}", "--map", "ФИО=shoe_size"), "is not a field we import"),
    (("{good}", "--map", "ФИО=ignore"), "Map a column to the full name"),
    (("{good}", "--mapping", "{bad_json}"), "Cannot read the mapping file"),
])
async def test_usage_errors_exit_2_with_one_clear_line(cast, args, message):
    paths = {
        "bad_encoding": write("cli-koi8.csv", "Табельный номер;ФИО\n1;Иванов Иван Иванович из отдела продаж\n".encode("koi8_r")),
        "good": write("cli-good.csv", csv_bytes([["Табельный номер", "ФИО"], ["CLI-U1", "Юзаж"]])),
        "bad_json": write("cli-bad.json", b"{not json"),
    }
    result = cli(*(a.format(**paths) for a in args))
    assert result.returncode == 2
    assert message in result.stderr and result.stdout == ""
    assert await numbers_like("CLI-U") == []


def test_full_import_over_40_percent_needs_yes_when_stdin_is_not_a_terminal(tmp_path: Path):
    """On a database of its own, so deactivating most people leaves the shared one alone."""
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'own.sqlite3'}", "SERVICECHAIN_DATA_DIR": str(tmp_path)}
    migrate = subprocess.run([sys.executable, "-c", "from servicechain.platform.cli import main; main()", "migrate"],
                             cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    assert migrate.returncode == 0, migrate.stderr
    header = ["Табельный номер", "ФИО"]
    everyone = write("cli-all.csv", csv_bytes([header] + [[f"F-{i}", f"Человек {i}"] for i in range(5)]))
    assert cli(everyone, env=env).returncode == 0
    few = write("cli-few.csv", csv_bytes([header, ["F-0", "Человек 0"], ["F-1", "Человек 1"]]))
    result = cli(few, "--full", env=env)
    assert result.returncode == 1
    assert "would deactivate 3 of 5 active people (60 %)" in result.stderr and "--yes" in result.stderr
    result = cli(few, "--full", "--dry-run", env=env)
    assert result.returncode == 0 and "3 to deactivate" in result.stdout
    result = cli(few, "--full", "--yes", env=env)
    assert result.returncode == 0, result.stderr
    assert "3 deactivated" in result.stdout
    assert "0 deactivated" in cli(few, "--full", env=env).stdout
