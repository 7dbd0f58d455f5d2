"""The report archive: one stored PDF per month and language, replaced only when someone asks."""

from __future__ import annotations

from piccolo.columns import Bytea, Date, ForeignKey, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from servicechain.platform.people.tables import Person


class ReportArchive(Table, tablename="report_archive"):
    """A generated monthly report. ``sha256`` is of ``pdf`` and is checked again on every
    download; ``snapshot_checksum`` names the analytics snapshot it was built from, so two
    reports of one month can be told apart by their data, not only by their bytes.
    ``generated_by`` is null for the command line (the monthly timer)."""

    id = Serial(primary_key=True)
    month = Date()  # first day of the month reported
    lang = Varchar(length=8)
    generated_at = Timestamptz()
    generated_by = ForeignKey(references=Person, null=True, default=None, on_delete=OnDelete.set_null)
    sha256 = Varchar(length=64)
    size = Integer()
    pdf = Bytea()
    snapshot_checksum = Varchar(length=128, default="")
