"""Goal cascade at 20,000 people: the company level of /goals/tree and one level below.

For each engine: load the demo company (20,000 people, 24 months: nine quarterly cycles of
goals and check-ins), serve it (SQLite one worker, PostgreSQL two), sign in and time
  - `/goals/tree` (the company's goals of the current cycle, with child counts),
  - `/goals/{id}/children` for the first company goal, as htmx asks for it (a fragment),
as the CEO (sees every branch) and as `employee@example.com` (whose view is filtered).
p50/p95 from 200 sequential requests with one client. Target: the first level ≤ 100 ms.
Record the figures in bench/README.md.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BIN, empty_database  # noqa: E402
from web import free_port, latency, start, stop, wait_ready  # noqa: E402


def sign_in(client: httpx.Client, email: str) -> None:
    client.cookies.clear()
    client.get("/login")
    response = client.post("/login", data={"identifier": email, "password": "servicechain-demo", "next": "/"},
                           headers={"x-csrftoken": client.cookies.get("sc_csrf")})
    assert response.status_code == 303, response.text


def run_engine(engine: str, workers: int, employees: int) -> list[tuple]:
    env, _data_dir = empty_database(engine, "servicechain_bench_goals")
    started = time.perf_counter()
    subprocess.run([BIN / "servicechain", "demo", "--employees", str(employees), "--months", "24", "--seed", "7"],
                   env=env, check=True, capture_output=True)
    print(f"{engine}: demo load, {employees} people, --months 24: {time.perf_counter() - started:.1f} s", flush=True)
    port = free_port()
    server = start([str(BIN / "servicechain"), "serve", "--port", str(port), "--workers", str(workers), "--no-worker"], env)
    base = f"http://127.0.0.1:{port}"
    rows = []
    try:
        wait_ready(base + "/healthz", server)
        with httpx.Client(base_url=base, timeout=30) as client:
            for who in ("ceo@example.com", "employee@example.com"):
                sign_in(client, who)
                tree = client.get("/goals/tree").text
                first = re.search(r'hx-get="(/goals/\d+/children)"', tree)
                assert first, "no company goal with children in the current cycle"
                nodes = tree.count('class="goal-node"')
                p50, p95 = latency(client, "/goals/tree")
                rows.append((engine, workers, who, "/goals/tree", nodes, p50, p95))
                client.headers["HX-Request"] = "true"
                fragment = client.get(first.group(1)).text
                p50, p95 = latency(client, first.group(1))
                rows.append((engine, workers, who, first.group(1), fragment.count('class="goal-node"'), p50, p95))
                del client.headers["HX-Request"]
    finally:
        stop(server)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--employees", type=int, default=20000)
    parser.add_argument("--engines", default="sqlite,postgres")
    args = parser.parse_args()
    rows = []
    for engine in args.engines.split(","):
        rows += run_engine(engine, 1 if engine == "sqlite" else 2, args.employees)
    print("\n| engine | workers | who | page | goals shown | p50 ms | p95 ms (target ≤ 100) |")
    print("|---|---|---|---|---|---|---|")
    for engine, workers, who, page, nodes, p50, p95 in rows:
        mark = "✅" if p95 <= 100 else "❌"
        print(f"| {engine} | {workers} | {who} | `{page}` | {nodes} | {p50:.1f} | {p95:.1f} {mark} |")


if __name__ == "__main__":
    main()
