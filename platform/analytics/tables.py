"""The stored analytics snapshot: one month's panel, built once and read by the report and the
dashboards, so a report printed twice for the same month shows the same figures."""

from piccolo.columns import Bytea, Date, Integer, Timestamptz, Varchar
from piccolo.table import Table


class AnalyticsSnapshot(Table, tablename="analytics_snapshot"):
    """``payload``: the panel's four frames as Parquet files in an uncompressed zip (Parquet
    compresses each column itself), with ``meta.json``; ``checksum``: sha256 of ``payload``,
    checked on every load. ``refresh`` replaces a month's row in one statement."""

    month = Date(unique=True)  # the first day of the month the panel ends with
    months = Integer(default=24)
    min_group = Integer(default=0)
    built_at = Timestamptz()
    checksum = Varchar(length=64)
    size = Integer(default=0)  # bytes in payload
    payload = Bytea()


class AnalyticsCache(Table, tablename="analytics_cache"):
    """Sums the panel keeps between builds where reading them again would mean scanning millions
    of rows (customer scores per department and month). ``fingerprint`` says what the sums were
    made from (row count and highest id), so a build reuses them only while that still holds
    and re-reads just the months new rows fell in; anything else rebuilds them whole."""

    name = Varchar(length=64, unique=True)
    fingerprint = Varchar(length=200)
    built_at = Timestamptz()
    payload = Bytea()
