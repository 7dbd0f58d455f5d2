"""One reading of "YYYY-MM" (lib.dates.parse_month) for the report form, the report command, the
analytics refresh command and the dashboards' month picker: the same bad input gets the same
words everywhere, in English and Russian. The dashboards' side is in tests/analytics."""

from __future__ import annotations

from datetime import date

import pytest
from click.testing import CliRunner

from servicechain.platform.cli import main
from servicechain.platform.i18n import use_language
from servicechain.platform.lib.dates import BadMonth, month_key, months_back, parse_month, shift_month
from tests.conftest import post_form
from tests.reports.helpers import BAD_MONTHS, queued


@pytest.mark.parametrize("text", list(BAD_MONTHS))
def test_a_bad_month_is_refused_with_the_same_words_in_each_language(text):
    english, russian = BAD_MONTHS[text]
    with pytest.raises(BadMonth) as refused:
        parse_month(text)
    with use_language("en"):
        assert str(refused.value) == english
    with use_language("ru"):
        assert str(refused.value) == russian


@pytest.mark.parametrize("text", ["2026-10", " 2026-10 ", "1900-01", "2999-12"])
def test_a_month_is_its_first_day(text):
    month = parse_month(text)
    assert month == date(int(text.strip()[:4]), int(text.strip()[5:]), 1)
    # A report's window around any accepted month stays in the calendar.
    assert months_back(month, 24)[0] < month_key(month) < month_key(shift_month(month, 1))


@pytest.mark.parametrize("text", ["2026-00", "0000-05", "0001-01", "1899-12", "3000-01", "9999-12", "2026-1", "2026-100",
                                  "2026/10", "２０２６-10", "2026-10-01"])
def test_other_near_months_are_refused(text):
    with pytest.raises(BadMonth):
        parse_month(text)


def test_a_long_bad_month_is_not_repeated_whole():
    with use_language("en"), pytest.raises(BadMonth) as refused:
        parse_month("x" * 500)
    assert str(refused.value) == "“" + "x" * 20 + "…” is not a month: write it as YYYY-MM, such as 2026-10."


@pytest.mark.parametrize("command", [["report", "monthly", "--lang", "en", "--out", "{out}"], ["analytics", "refresh"]])
@pytest.mark.parametrize("text", list(BAD_MONTHS))
def test_the_commands_exit_2_with_the_words(command, text, tmp_path):
    args = [a.replace("{out}", str(tmp_path / "r.pdf")) for a in command]
    result = CliRunner().invoke(main, [*args, "--month", text])
    assert result.exit_code == 2, result.output
    assert result.output == f"servicechain: --month: {BAD_MONTHS[text][0]}\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("text", list(BAD_MONTHS))
async def test_the_report_form_shows_the_words_and_queues_nothing(as_user, database, text):
    client = await as_user("ceo")
    before = await queued()
    response = await post_form(client, "/reports/generate", {"month": text, "lang": "en"})
    assert response.status_code == 422
    assert BAD_MONTHS[text][0] in response.text
    assert await queued() == before


def test_month_arithmetic_crosses_years():
    from servicechain.platform.lib.dates import last_complete_month, month_end, month_start, shift_month

    assert shift_month(date(2026, 1, 31), -1) == date(2025, 12, 1)
    assert shift_month(date(2026, 11, 5), 14) == date(2028, 1, 1)
    assert month_start(date(2024, 2, 29)) == date(2024, 2, 1) and month_end(date(2024, 2, 3)) == date(2024, 2, 29)
    assert month_end(date(2026, 12, 31)) == date(2026, 12, 31)
    assert last_complete_month(date(2026, 1, 1)) == date(2025, 12, 1)


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_the_report_and_the_dashboards_write_a_figure_alike(lang):
    from servicechain.platform.analytics import charts
    from servicechain.platform.reports import formatting as fmt

    with use_language(lang):
        for value in (0.0, -0.04, 0.05, 2.675, -1234.5, 1234567.891, 999.95):
            for decimals in (0, 1, 2):
                assert fmt.number(value, decimals) == charts.format_value(value, decimals)
        assert fmt.number(-1234.5, 1) == ("\u22121,234.5" if lang == "en" else "\u22121\u00a0234,5")
        assert fmt.number(0.04, 1, signed=True) == ("0.0" if lang == "en" else "0,0")  # rounds to zero: no sign
        assert fmt.number(0.06, 1, signed=True) == ("+0.1" if lang == "en" else "+0,1")
        assert charts.month_title(date(2026, 10, 1)) == ("October 2026" if lang == "en" else "Октябрь 2026")
