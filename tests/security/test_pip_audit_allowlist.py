"""scripts/pip-audit: the reviewed allowlist's entries need an id, a package, a reason and an
expiry date; an expired (or far-off) entry fails the audit before pip-audit runs; ignored
advisories are passed on; unignored ones and packages nobody could check fail the run."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from datetime import date
from pathlib import Path

import pytest

from tests.conftest import ROOT

TODAY = date(2026, 11, 24)
REASON = "Only the CLI entry point is affected; we import the library. Upgrade when 2.1 is out."


def _load():
    loader = importlib.machinery.SourceFileLoader("pip_audit_script", str(ROOT / "scripts" / "pip-audit"))
    spec = importlib.util.spec_from_loader("pip_audit_script", loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["pip_audit_script"] = module  # dataclasses look their module up there
    loader.exec_module(module)
    return module


audit = _load()


def entry(id_="GHSA-aaaa-bbbb-cccc", package="somepackage", reason=REASON, expires="2027-01-31") -> str:
    lines = ["[[ignore]]"]
    for key, value in (("id", id_), ("package", package), ("reason", reason)):
        if value is not None:
            lines.append(f'{key} = "{value}"')
    if expires is not None:
        lines.append(f"expires = {expires}")
    return "\n".join(lines) + "\n"


def report(*dependencies) -> dict:
    return {"dependencies": list(dependencies), "fixes": []}


def vulnerable(name="somepackage", version="1.0", id_="GHSA-aaaa-bbbb-cccc", aliases=("CVE-2026-1",)) -> dict:
    return {"name": name, "version": version, "vulns": [{"id": id_, "aliases": list(aliases), "fix_versions": ["1.1"],
                                                         "description": "Bad things."}]}


def test_a_valid_entry_is_ignored_until_its_date():
    allowlist = audit.load_allowlist(entry(), TODAY)
    assert [(i.id, i.expires) for i in allowlist.ignored] == [("GHSA-aaaa-bbbb-cccc", date(2027, 1, 31))]
    args = audit.command(allowlist, Path("/tmp/out.json"))
    assert args[args.index("--ignore-vuln") + 1] == "GHSA-aaaa-bbbb-cccc"
    assert {"--no-deps", "--disable-pip"} <= set(args)
    assert args.count("-r") == 2


def test_the_last_day_still_counts_and_the_day_after_fails():
    assert audit.load_allowlist(entry(expires="2026-11-24"), TODAY).ignored
    with pytest.raises(audit.AllowlistError, match="expired on 2026-11-23"):
        audit.load_allowlist(entry(expires="2026-11-23"), TODAY)


@pytest.mark.parametrize("field, text", [
    ("id", entry(id_=None)), ("package", entry(package=None)), ("reason", entry(reason=None)), ("expires", entry(expires=None)),
])
def test_an_entry_missing_a_field_fails_naming_it(field, text):
    with pytest.raises(audit.AllowlistError, match=f"missing {field}"):
        audit.load_allowlist(text, TODAY)


@pytest.mark.parametrize("text, message", [
    (entry(reason="because"), "give a reason"),
    (entry(expires="2028-06-01"), "more than a year ahead"),
    (entry(expires='"soon"'), "must be a date"),
    (entry() + entry(), "listed twice"),
    ("[[ignore", "not valid TOML"),
])
def test_entries_that_cannot_be_reviewed_fail(text, message):
    with pytest.raises(audit.AllowlistError, match=message):
        audit.load_allowlist(text, TODAY)


def test_every_problem_is_named_at_once():
    text = entry(id_="A-1", expires="2026-01-01") + entry(id_="B-2", reason=None)
    with pytest.raises(audit.AllowlistError) as refused:
        audit.load_allowlist(text, TODAY)
    assert "A-1" in str(refused.value) and "B-2" in str(refused.value)


def test_an_expired_allowlist_fails_the_run_before_pip_audit_starts(tmp_path):
    path = tmp_path / "allowlist.toml"
    path.write_text(entry(expires="2026-10-01"))
    calls = []
    assert audit.main(today=TODAY, run=lambda *a, **k: calls.append(a), allowlist_path=path) == 2
    assert calls == []


def test_a_known_vulnerability_fails_unless_ignored_by_id_or_alias():
    code, lines = audit.verdict(report(vulnerable()), audit.load_allowlist("", TODAY))
    assert code == 1 and any("GHSA-aaaa-bbbb-cccc" in line and "fixed in: 1.1" in line for line in lines)
    assert audit.verdict(report(vulnerable()), audit.load_allowlist(entry(), TODAY))[0] == 0
    assert audit.verdict(report(vulnerable()), audit.load_allowlist(entry(id_="CVE-2026-1"), TODAY))[0] == 0
    assert audit.verdict(report({"name": "clean", "version": "2.0", "vulns": []}), audit.load_allowlist("", TODAY))[0] == 0


def test_packages_nobody_could_check_fail_unless_acknowledged_with_a_date():
    skipped = {"name": "numpy", "skip_reason": "Dependency not found on PyPI"}
    code, lines = audit.verdict(report(skipped), audit.load_allowlist("", TODAY))
    assert code == 1 and "numpy" in lines[-1]
    acknowledged = f'[unaudited]\npackages = ["NumPy"]\nreason = "{REASON}"\nexpires = 2027-01-31\n'
    assert audit.verdict(report(skipped), audit.load_allowlist(acknowledged, TODAY))[0] == 0
    with pytest.raises(audit.AllowlistError, match=r"\[unaudited\]: expired"):
        audit.load_allowlist(acknowledged.replace("2027-01-31", "2026-11-01"), TODAY)


def test_a_pin_that_is_the_latest_release_is_checked_from_the_project_document():
    data = report({"name": "latest", "skip_reason": "not found"}, {"name": "older", "skip_reason": "not found"})
    documents = {
        "latest": {"info": {"version": "3.0"}, "vulnerabilities": [
            {"id": "PYSEC-1", "aliases": [], "fixed_in": [], "summary": "Still open.", "withdrawn": None},
            {"id": "PYSEC-2", "aliases": [], "fixed_in": ["3.1"], "summary": "Withdrawn.", "withdrawn": "2026-01-01"}]},
        "older": {"info": {"version": "9.9"}, "vulnerabilities": []},
    }
    audit.check_skipped_with_project_documents(data, {"latest": "3.0", "older": "1.0"}, fetch=documents.get)
    latest, older = data["dependencies"]
    assert [v["id"] for v in latest["vulns"]] == ["PYSEC-1"] and "skip_reason" not in latest
    assert "skip_reason" in older  # its advisories are unknown: the document speaks of 9.9


def test_the_committed_allowlist_is_valid_today():
    audit.load_allowlist((ROOT / "security" / "pip-audit-allowlist.toml").read_text(), date.today())
