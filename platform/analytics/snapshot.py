"""Stored analytics snapshots: one month's panel, built once, read many times.

The report for a month and the dashboards read the stored panel instead of rebuilding it, so
the same month prints the same figures until someone refreshes it on purpose (the CLI, the
nightly job). The payload is the panel's four frames as Parquet files inside an uncompressed
zip with a small ``meta.json``: Parquet keeps polars' types exactly (dates, nulls, Int64) and
compresses per column; zip is a container anyone can open. ``checksum`` is the sha256 of the
stored bytes and is checked on every load, so a damaged row is refused, not misread.

No permission checks here: the CLI, the report and the dashboards decide who asks.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime

import polars as pl

from servicechain.platform import db
from servicechain.platform.analytics.metrics import METRICS
from servicechain.platform.analytics.panel import Panel, build_panel
from servicechain.platform.lib.dates import month_start
from servicechain.platform.security import utcnow

MONTHS = 24
FRAMES = ("frame", "units", "company", "departments")
# 2: ``csat`` is the share of satisfied scores in percent; format 1 held the 1-5 mean.
FORMAT = 2


class SnapshotDamaged(RuntimeError):
    """The stored bytes do not match their checksum, or cannot be read back."""


@dataclass
class Snapshot:
    month: date
    built_at: datetime
    checksum: str
    panel: Panel


def encode(panel: Panel) -> bytes:
    """The panel as bytes: a zip of one Parquet file per frame and meta.json."""
    out = io.BytesIO()

    def member(name: str) -> zipfile.ZipInfo:
        # A fixed time: the same panel always gives the same bytes, hence the same checksum.
        return zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))

    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        meta = {"format": FORMAT, "until": panel.until.isoformat(), "months": panel.months, "min_group": panel.min_group}
        archive.writestr(member("meta.json"), json.dumps(meta))
        for name in FRAMES:
            buffer = io.BytesIO()
            getattr(panel, name).write_parquet(buffer, compression="zstd", statistics=False)
            archive.writestr(member(f"{name}.parquet"), buffer.getvalue())
    return out.getvalue()


def decode(payload: bytes) -> Panel:
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            meta = json.loads(archive.read("meta.json"))
            frames = {name: pl.read_parquet(io.BytesIO(archive.read(f"{name}.parquet"))) for name in FRAMES}
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise SnapshotDamaged(f"the stored analytics snapshot cannot be read: {exc}") from exc
    if int(meta.get("format", 1)) < 2:
        # Built when CSAT was the 1-5 mean: shown as today's share it would read "4.2 %". Left
        # out (no figure) until the month is refreshed, rather than shown wrong.
        frames = {name: _without_old_csat(frame) for name, frame in frames.items()}
    return Panel(**frames, until=date.fromisoformat(meta["until"]), months=int(meta["months"]),
                 min_group=int(meta["min_group"]))


def _without_old_csat(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.lit(None, dtype=pl.Float64).alias("csat")) if "csat" in frame.columns else frame


def checksum_of(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


async def refresh(month: date) -> Snapshot:
    """Build the panel of the 24 months ending with ``month`` and store it, replacing that
    month's snapshot in one statement (readers see the old one or the new one, never none)."""
    return await store(await build_panel(month_start(month), MONTHS))


async def refresh_if_data(month: date) -> Snapshot | None:
    """``refresh`` for a month that holds data; None, and nothing stored, for one without."""
    panel = await build_panel(month_start(month), MONTHS)
    return await store(panel) if has_data(panel, month) else None


async def store(panel: Panel) -> Snapshot:
    """Store a built panel as the snapshot of its last month (``refresh`` without the build)."""
    month = month_start(panel.until)
    payload = encode(panel)
    checksum = checksum_of(payload)
    built_at = utcnow()
    async with db.write():
        await db.fetch(
            "INSERT INTO analytics_snapshot (month, months, min_group, built_at, checksum, size, payload)"
            " VALUES ({}, {}, {}, {}, {}, {}, {}) ON CONFLICT (month) DO UPDATE SET months = excluded.months,"
            " min_group = excluded.min_group, built_at = excluded.built_at, checksum = excluded.checksum,"
            " size = excluded.size, payload = excluded.payload",
            month, panel.months, panel.min_group, built_at, checksum, len(payload), payload,
        )
    return Snapshot(month=month, built_at=built_at, checksum=checksum, panel=panel)


def _when(value) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _day(value) -> date:
    return date.fromisoformat(value[:10]) if isinstance(value, str) else value


async def _one(where: str, *args) -> Snapshot | None:
    rows = await db.fetch(f"SELECT month, built_at, checksum, payload FROM analytics_snapshot {where}", *args)
    if not rows:
        return None
    row = rows[0]
    payload = bytes(row["payload"])
    if checksum_of(payload) != row["checksum"]:
        raise SnapshotDamaged(f"the analytics snapshot of {_day(row['month']):%Y-%m} does not match its checksum;"
                              " run `servicechain analytics refresh` for that month")
    return Snapshot(month=_day(row["month"]), built_at=_when(row["built_at"]), checksum=row["checksum"],
                    panel=decode(payload))


async def load(month: date) -> Snapshot | None:
    """The stored snapshot of ``month``'s month, or None."""
    return await _one("WHERE month = {}", month_start(month))


async def latest() -> Snapshot | None:
    """The snapshot of the latest month stored, or None when there is none."""
    return await _one("ORDER BY month DESC LIMIT 1")


async def months_stored() -> list[date]:
    return [_day(r["month"]) for r in await db.fetch("SELECT month FROM analytics_snapshot ORDER BY month")]


# --- decoded snapshots kept per process ------------------------------------------------------------
#
# Every dashboard view reads a snapshot; decoding its Parquet costs far more than the page's own
# work (about 170 ms of CPU at 20,000 people). A stored row never changes under its id and
# checksum (``store`` writes a new checksum with new bytes), so a decoded copy keyed by both is
# exact, and a refresh or another month is seen at once: each view first reads the small
# ``Stored`` rows (no payload) and looks the key up.


@dataclass(frozen=True)
class Stored:
    """A stored snapshot's identity, read without its payload."""

    id: int
    month: date
    checksum: str
    size: int
    built_at: datetime

    @property
    def key(self) -> tuple[int, str]:
        return (self.id, self.checksum)


# Bound on what decoded panels may hold in one process (polars' own estimate of their frames).
# A 20,000-person panel is about 10 MB: a few months' snapshots fit, and an oversized one is
# still served, just not kept.
CACHE_BYTES = 128 * 1024 * 1024
CACHE_ENTRIES = 6
_DECODED: OrderedDict[tuple[int, str], tuple[Snapshot, int]] = OrderedDict()
_DECODING: dict[tuple[int, str], asyncio.Future] = {}


async def stored() -> list[Stored]:
    """Every stored snapshot, oldest month first, without payloads (one small query)."""
    rows = await db.fetch("SELECT id, month, checksum, size, built_at FROM analytics_snapshot ORDER BY month")
    return [Stored(id=int(r["id"]), month=_day(r["month"]), checksum=r["checksum"], size=int(r["size"] or 0),
                   built_at=_when(r["built_at"])) for r in rows]


def panel_bytes(panel: Panel) -> int:
    return sum(int(getattr(panel, name).estimated_size()) for name in FRAMES)


def _keep(key: tuple[int, str], snap: Snapshot) -> None:
    size = panel_bytes(snap.panel)
    if size > CACHE_BYTES:
        return
    _DECODED[key] = (snap, size)
    _DECODED.move_to_end(key)
    while len(_DECODED) > CACHE_ENTRIES or sum(s for _snap, s in _DECODED.values()) > CACHE_BYTES:
        _DECODED.popitem(last=False)


def forget_decoded() -> None:
    """Drop every decoded snapshot this process keeps (tests; memory pressure)."""
    _DECODED.clear()


async def _read_and_decode(row: Stored) -> Snapshot:
    rows = await db.fetch("SELECT checksum, payload FROM analytics_snapshot WHERE id = {}", row.id)
    if not rows or rows[0]["checksum"] != row.checksum:
        # Replaced between the two reads: read the row as it is now.
        fresh = await db.fetch("SELECT id, month, checksum, size, built_at FROM analytics_snapshot WHERE id = {}",
                               row.id)
        if not fresh:
            raise SnapshotDamaged(f"the analytics snapshot of {row.month:%Y-%m} was removed while being read")
        return await decoded(Stored(id=row.id, month=row.month, checksum=fresh[0]["checksum"],
                                    size=int(fresh[0]["size"] or 0), built_at=_when(fresh[0]["built_at"])))
    payload = bytes(rows[0]["payload"])
    if checksum_of(payload) != row.checksum:
        raise SnapshotDamaged(f"the analytics snapshot of {row.month:%Y-%m} does not match its checksum;"
                              " run `servicechain analytics refresh` for that month")
    # Parquet decoding is CPU work in polars' own threads: off the event loop, other requests go on.
    panel = await asyncio.to_thread(decode, payload)
    return Snapshot(month=row.month, built_at=row.built_at, checksum=row.checksum, panel=panel)


async def decoded(row: Stored) -> Snapshot:
    """The snapshot ``row`` names, decoded once per process and kept while it fits (bounded by
    ``CACHE_BYTES``, least recently used first out). Requests that miss at once share one
    decoding. SnapshotDamaged when the bytes fail their checksum (nothing is kept then)."""
    hit = _DECODED.get(row.key)
    if hit is not None:
        _DECODED.move_to_end(row.key)
        return hit[0]
    pending = _DECODING.get(row.key)
    if pending is not None and pending.get_loop() is asyncio.get_running_loop():
        return await asyncio.shield(pending)
    future = asyncio.get_running_loop().create_future()
    _DECODING[row.key] = future
    try:
        snap = await _read_and_decode(row)
    except asyncio.CancelledError:
        future.cancel()
        raise
    except BaseException as exc:
        future.set_exception(exc)
        future.exception()  # retrieved here, so a miss nobody else waited for does not warn
        raise
    else:
        future.set_result(snap)
        _keep((row.id, snap.checksum), snap)
        return snap
    finally:
        if _DECODING.get(row.key) is future:
            del _DECODING[row.key]


def has_data(panel: Panel, month: date) -> bool:
    """Whether ``month`` holds any figure at all for the company (headcount alone is not data:
    a report of a month without one score, answer or rating has nothing to say)."""
    row = panel.company.filter(pl.col("month") == month_start(month))
    if row.is_empty():
        return False
    keys = [m.key for m in METRICS if m.key in row.columns]
    return bool(row.select(pl.any_horizontal(pl.col(k).is_not_null() for k in keys)).item())
