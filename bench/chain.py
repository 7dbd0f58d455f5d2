"""The service-profit chain's statistics at company scale, without a database.

A panel shaped like ``Panel.units`` for 1,400 analysis units × 24 months with 18 people-side
and 7 customer-side metrics (about 5 % of figures missing, one people metric with a planted
two-month lead on CSAT) goes through ``chain.analyse`` at lags 0–3: 504 pairs × 2 views, BH over
all of them, elasticities and followers for the pairs that matter. Prints wall and CPU time of
each run (the machine is shared: CPU time is the steadier figure), and ``scatter_points`` for
one pair. Target: well under 1–2 s. Record the figures in bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date

import numpy as np
import polars as pl

from servicechain.platform.analytics import chain

PEOPLE = [f"p{i:02d}" for i in range(18)]
CUSTOMER = [f"c{i}" for i in range(7)]


def panel(units: int, months: int, seed: int = 7) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    level = rng.normal(0, 1, (units, 1, len(PEOPLE)))
    people = 60 + 10 * (level + rng.normal(0, 1, (units, months + 2, len(PEOPLE))))
    customer = 4 + 0.3 * rng.normal(0, 1, (units, months, len(CUSTOMER)))
    customer[:, :, 0] += 0.01 * people[:, :months, 0]  # c0 follows p00 two months later
    people = people[:, 2:]
    for a in (people, customer):
        a[rng.random(a.shape) < 0.05] = np.nan
    month_list = [date(2024 + m // 12, m % 12 + 1, 1) for m in range(months)]
    cols = {"department_id": np.repeat(np.arange(1, units + 1), months), "month": month_list * units}
    cols |= {k: people[:, :, i].ravel() for i, k in enumerate(PEOPLE)}
    cols |= {k: customer[:, :, i].ravel() for i, k in enumerate(CUSTOMER)}
    return pl.DataFrame(cols).with_columns(pl.col("department_id").cast(pl.Int64)).fill_nan(None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=1400)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    frame = panel(args.units, args.months)
    chain.analyse(frame.head(240), PEOPLE, CUSTOMER)  # warm imports and caches
    walls, cpus = [], []
    for _ in range(args.runs):
        w0, c0 = time.perf_counter(), time.process_time()
        result = chain.analyse(frame, PEOPLE, CUSTOMER)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    w0 = time.perf_counter()
    points = chain.scatter_points(frame, "p00", "c0", 2, "within")
    scatter_s = time.perf_counter() - w0

    top = chain.pairs_that_matter(result, limit=1)[0]
    print(f"units {args.units} × months {args.months}; {len(PEOPLE)} × {len(CUSTOMER)} metrics × 4 lags × 2 views "
          f"= {len(result.pairs)} pairs, {result.tested} tested, "
          f"{sum(p.significant for p in result.pairs)} significant; top: {top.people}→{top.customer} "
          f"lag {top.lag} {top.view} r={top.pearson:.3f}")
    print(f"analyse: wall median {statistics.median(walls) * 1000:.0f} ms (min {min(walls) * 1000:.0f}, "
          f"max {max(walls) * 1000:.0f}); CPU median {statistics.median(cpus) * 1000:.0f} ms "
          f"over {args.runs} runs; load average {os.getloadavg()[0]:.1f}")
    print(f"scatter_points within (p00, c0, lag 2): {points.height} points in {scatter_s * 1000:.0f} ms")
    target = 1.0  # "well under a second or two"
    cpu, wall = statistics.median(cpus), statistics.median(walls)
    print(f"target well under 1-2 s: CPU {'met' if cpu < target else 'NOT met'}; "
          f"wall {'met' if wall < target else 'NOT met'} at this load (the machine is shared: wall > CPU means waiting)")
    sys.exit(0)


if __name__ == "__main__":
    main()
