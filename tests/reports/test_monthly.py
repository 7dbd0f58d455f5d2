"""The monthly PDF read back as text: its figures are the analytics layer's, in both languages;
user text is printed as text; the archive keeps it with a checksum that downloads check."""

from __future__ import annotations

import hashlib
import re
import subprocess

import polars as pl
import pytest

from servicechain.platform.analytics.metrics import metric
from servicechain.platform.i18n import gettext, use_language
from servicechain.platform.reports import formatting as fmt
from servicechain.platform.reports import monthly
from tests.reports.helpers import SCRIPT, has_figure, lines_with, pdf_text

LANGS = ("en", "ru")


def company_row(snap, month):
    rows = snap.panel.company.filter(pl.col("month") == month).to_dicts()
    return rows[0] if rows else {}


@pytest.mark.parametrize("lang", LANGS)
async def test_summary_prints_the_company_figures_and_changes_of_the_snapshot(seeded, lang):
    snap, month = seeded["snapshot"], seeded["month"]
    text = pdf_text(seeded["reports"][lang].pdf)
    now, before = company_row(snap, month), company_row(snap, monthly.shift_month(month, -1))
    checked = 0
    with use_language(lang):
        for key in monthly.SUMMARY:
            if key not in snap.panel.company.columns:
                continue
            label, value = str(metric(key).label), now.get(key)
            lines = lines_with(text, label)
            assert lines, f"{key}: no line starts with {label!r}"
            expected = fmt.figure(key, value)
            assert any(has_figure(line, expected) for line in lines), (key, expected, lines)
            if value is not None and before.get(key) is not None:
                change = fmt.change(key, value - before[key])
                assert any(has_figure(line, change) for line in lines), (key, change, lines)
                checked += 1
    # The seeded scores give CSAT and NPS in both months at least.
    assert checked >= 2
    assert now.get("csat") is not None


@pytest.mark.parametrize("lang", LANGS)
async def test_department_table_prints_each_departments_figures(seeded, lang, cast):
    snap, month = seeded["snapshot"], seeded["month"]
    text = pdf_text(seeded["reports"][lang].pdf)
    frame = snap.panel.frame.filter(pl.col("month") == month)
    names = snap.panel.departments
    column = "name_ru" if lang == "ru" else "name_en"
    with use_language(lang):
        for code in ("support", "warehouse"):
            dept = cast.departments[code]
            row = frame.filter(pl.col("department_id") == dept).to_dicts()[0]
            name = names.filter(pl.col("department_id") == dept)[column][0]
            lines = lines_with(text, name)
            assert lines, name
            for key in ("csat", "nps"):
                expected = fmt.figure(key, row[key])
                assert row[key] is not None
                assert any(has_figure(line, expected) for line in lines), (name, key, expected, lines)


@pytest.mark.parametrize("lang", LANGS)
async def test_every_page_has_the_running_header_and_page_x_of_y(seeded, lang):
    pdf = seeded["reports"][lang].pdf
    pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True,
                                                              check=True).stdout.decode()).group(1))
    text = pdf_text(pdf)
    with use_language(lang):
        counter = gettext("page %(page)s of %(pages)s")
        header = gettext("Monthly report · %(month)s", month=monthly.month_title(seeded["month"]))
    pattern = re.escape(counter).replace(re.escape("%(page)s"), r"(\d+)").replace(re.escape("%(pages)s"), str(pages))
    assert sorted(int(n) for n in re.findall(pattern, text)) == list(range(1, pages + 1))
    assert text.count(header) == pages - 1  # every page but the cover
    assert pages >= 8


async def test_user_text_in_a_story_is_printed_as_text(seeded):
    for lang in LANGS:
        text = pdf_text(seeded["reports"][lang].pdf, layout=False)
        assert SCRIPT in text
        assert "<b>bold</b>" in text


async def test_fonts_with_cyrillic_are_embedded(seeded):
    fonts = subprocess.run(["pdffonts", "-"], input=seeded["reports"]["ru"].pdf, capture_output=True,
                           check=True).stdout.decode()
    rows = [line for line in fonts.splitlines() if "DejaVu" in line]
    assert rows and all(" yes yes yes " in f" {line} " or re.search(r"\byes\s+yes\s+yes\b", line) for line in rows)
    assert "Служба поддержки" in pdf_text(seeded["reports"]["ru"].pdf)


async def test_the_archive_keeps_each_report_with_its_checksum(seeded):
    # Other tests here regenerate the month's reports: the archive holds the latest of each.
    for lang, made in seeded["reports"].items():
        assert made.sha256 == hashlib.sha256(made.pdf).hexdigest() and made.size == len(made.pdf)
        stored = await monthly.archived(seeded["month"], lang)
        assert stored["id"] == made.id
        row, pdf = await monthly.download(made.id)
        assert hashlib.sha256(pdf).hexdigest() == row["sha256"] and len(pdf) == row["size"] and row["lang"] == lang
        assert pdf.startswith(b"%PDF-")
        assert row["snapshot_checksum"] == seeded["snapshot"].checksum


async def test_a_changed_pdf_in_the_archive_is_refused_on_the_way_out(seeded):
    from servicechain.platform import db
    from servicechain.platform.reports.tables import ReportArchive

    made = seeded["reports"]["en"]
    _row, original = await monthly.download(made.id)
    async with db.write():
        await ReportArchive.update({ReportArchive.pdf: original[:-10] + b"tampered!!"}).where(
            ReportArchive.id == made.id).run()
    try:
        with pytest.raises(monthly.ChecksumMismatch):
            await monthly.download(made.id)
    finally:
        async with db.write():
            await ReportArchive.update({ReportArchive.pdf: original}).where(ReportArchive.id == made.id).run()
    assert (await monthly.download(made.id))[1] == original


async def test_a_month_without_data_raises_no_data():
    from datetime import date

    from servicechain.platform.analytics import snapshot

    snap = await snapshot.refresh(date(2019, 1, 1))
    with pytest.raises(monthly.NoData):
        await monthly.build_context(date(2019, 1, 1), "en", snap=snap)


async def test_an_unsupported_language_is_refused_with_the_choices():
    with pytest.raises(monthly.UnsupportedLanguage, match="ru, en"):
        await monthly.build_context(monthly.month_start(monthly.date.today()), "de")
