"""Reading the tables people export: CSV (UTF-8 with or without BOM, or Windows-1251; comma,
semicolon or tab) and XLSX. Shared by the org import and the customer scores import.

:func:`iter_table` streams ``(row number, cells)`` so a million-row file is never held as a
list of row objects; :func:`header_key` folds a header (or a cell such as "Хорошо") for
matching against known spellings in either language.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from servicechain.platform.i18n import gettext as _
from servicechain.platform.lib.text import fold


class ImportFileError(Exception):
    """The file cannot be read at all (encoding, format, sheet); the message is for the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def header_key(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", "", fold(text).replace("_", " "))).strip()


def is_xlsx(data: bytes, filename: str = "") -> bool:
    return data.startswith(b"PK\x03\x04") or (filename or "").lower().endswith((".xlsx", ".xlsm"))


def iter_table(data: bytes, filename: str = "", sheet: str | None = None) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """Headers and an iterator of (spreadsheet row number, cells) over the non-empty rows.

    Raises ImportFileError at once for an unreadable file; a malformed CSV row raises it while
    iterating. Cells are stripped; rows may be shorter or longer than the headers.
    """
    name = (filename or "").lower()
    if is_xlsx(data, filename):
        grid: Iterator[list[str]] = iter(read_xlsx(data, sheet))
    elif data.startswith(b"\xd0\xcf\x11\xe0") or name.endswith(".xls"):
        raise ImportFileError(_("Old Excel files (.xls) cannot be read: save the file as .xlsx or CSV."))
    else:
        grid = iter_csv(decode(data))
    number = 0
    for raw in grid:
        number += 1
        if any(raw):
            headers = unique_headers(raw)
            break
    else:
        raise ImportFileError(_("The file is empty."))

    def rows() -> Iterator[tuple[int, list[str]]]:
        n = number
        for values in grid:
            n += 1
            if any(values):
                yield n, values

    return headers, rows()


def unique_headers(raw: list[str]) -> list[str]:
    headers: list[str] = []
    for index, header in enumerate(raw):
        header = (header or "").strip().lstrip("\ufeff") or f"#{index + 1}"
        candidate, n = header, 2
        while candidate in headers:
            candidate, n = f"{header} ({n})", n + 1
        headers.append(candidate)
    while headers and headers[-1].startswith("#") and headers[-1][1:].isdigit():
        headers.pop()  # trailing empty header cells
    return headers


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM) or Windows-1251; anything else is refused, not guessed."""
    unknown = ImportFileError(_("Unknown encoding: save the file as CSV in UTF-8 or Windows-1251."))
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise unknown
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8):].decode("utf-8")
        except UnicodeDecodeError:
            raise unknown from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1251")
        except UnicodeDecodeError:
            raise unknown from None
        if not _plausible_cp1251(text):
            raise unknown
    if _CONTROL.search(text):
        raise unknown  # NULs and other control bytes: UTF-16 without BOM, or not text at all
    return text


def _plausible_cp1251(text: str) -> bool:
    """Any byte string decodes as cp1251, so check it reads like Russian: non-ASCII letters
    are Cyrillic, and mostly lower case (KOI8-R read as cp1251 comes out mostly upper case)."""
    non_ascii = len(_NON_ASCII.findall(text))
    cyrillic = len(_CYRILLIC.findall(text))
    if cyrillic < 0.9 * non_ascii:
        return False
    upper, lower = len(_CYRILLIC_UPPER.findall(text)), len(_CYRILLIC_LOWER.findall(text))
    return upper + lower < 20 or upper <= 0.7 * (upper + lower)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_CYRILLIC_UPPER = re.compile(r"[\u0400-\u042f]")
_CYRILLIC_LOWER = re.compile(r"[\u0430-\u045f]")


def sniff_delimiter(text: str) -> str:
    """Semicolon, comma or tab: whichever the first non-empty line has most of outside quotes."""
    first = ""
    for line in io.StringIO(text):
        if line.strip():
            first = line
            break
    counts = {d: _count_outside_quotes(first, d) for d in (";", ",", "\t")}
    return max(counts, key=lambda d: (counts[d], d == ","))


def iter_csv(text: str) -> Iterator[list[str]]:
    text = text.lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    try:
        for row in reader:
            yield [cell.strip() for cell in row]
    except csv.Error as exc:
        raise ImportFileError(_("The CSV file is malformed: %(reason)s.", reason=str(exc))) from None


def read_csv(text: str) -> list[list[str]]:
    return list(iter_csv(text))


def _count_outside_quotes(line: str, delimiter: str) -> int:
    count, quoted = 0, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == delimiter and not quoted:
            count += 1
    return count


# An XLSX file is a zip of XML. What it unpacks to is checked before anything reads it: a few
# kilobytes can declare gigabytes (a "zip bomb"), and the worksheet's own claim of its size
# (its <dimension>) is not believed, since openpyxl would pad every row out to it.
MAX_XLSX_UNPACKED = 300 * 1024 * 1024  # a full 18 MB upload of real data unpacks to ~10x
MAX_XLSX_RATIO = 100  # real sheets compress 5-30x; deflate bombs ~1000x
MAX_XLSX_ENTRIES = 10_000


def check_xlsx_archive(data: bytes) -> None:
    """Refuse a workbook whose archive would unpack to far more than a spreadsheet holds.

    Uses the sizes the archive declares; Python's zipfile never inflates an entry past its
    declared size, so a lie there only truncates the entry (and openpyxl then fails cleanly)."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise ImportFileError(_("This is not a readable XLSX workbook.")) from None
    unpacked = sum(entry.file_size for entry in entries)
    suspicious = any(entry.file_size > 1024 * 1024 and entry.file_size > MAX_XLSX_RATIO * max(entry.compress_size, 1)
                     for entry in entries)
    if len(entries) > MAX_XLSX_ENTRIES or unpacked > MAX_XLSX_UNPACKED or suspicious:
        raise ImportFileError(_("This workbook unpacks to far more data than a spreadsheet of its size holds, so it "
                                "was not opened. Save the sheet as CSV and upload that."))


def _trimmed(row: tuple) -> list[str]:
    end = len(row)
    while end and row[end - 1] is None:
        end -= 1
    return [cell_text(v) for v in row[:end]]


def read_xlsx(data: bytes, sheet: str | None) -> list[list[str]]:
    import zipfile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException
    from xml.etree.ElementTree import ParseError

    check_xlsx_archive(data)
    # A malformed or hostile sheet fails while its rows are read, not only when it opens: XML
    # errors (expat refusing entity expansion, say) are the file's fault, not a server error.
    unreadable = (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, ParseError)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except unreadable:
        raise ImportFileError(_("This is not a readable XLSX workbook.")) from None
    try:
        if sheet:
            if sheet not in workbook.sheetnames:
                raise ImportFileError(_("There is no sheet %(sheet)s; the workbook has: %(names)s.",
                                        sheet=sheet, names=", ".join(workbook.sheetnames)))
            worksheet = workbook[sheet]
        else:
            worksheet = workbook.worksheets[0]
        worksheet.reset_dimensions()  # rows as the sheet has them, not padded to a claimed A1:XFD1048576
        return [_trimmed(row) for row in worksheet.iter_rows(values_only=True)]
    except unreadable:
        raise ImportFileError(_("This is not a readable XLSX workbook.")) from None
    finally:
        workbook.close()


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # employee numbers typed as numbers come back as 1001.0
    return str(value).strip()


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """A text cell for an exported CSV that Excel or LibreOffice will not run as a formula
    ("=HYPERLINK(...)" typed by a customer into a note): such text gets a leading apostrophe,
    which spreadsheets show as text. Numbers and empty cells pass unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
