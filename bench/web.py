"""Web benchmark at 20,000 people: the people directory and the home page.

For each engine (SQLite with one worker, PostgreSQL with two): load the demo company with
20,000 people, serve it, and measure
  - p50/p95 latency with one client (200 sequential requests),
  - throughput with 16 connections for 10 s (wrk),
next to a bare Litestar + Jinja app serving the same finished HTML with the same workers.
Prints a table; record the figures in bench/README.md. Run with `make bench`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BIN, ROOT, empty_database  # noqa: E402

PAGES = {"home": "/", "people": "/people/?q=&page=3"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def latency(client: httpx.Client, url: str, n: int = 200) -> tuple[float, float]:
    for _ in range(20):
        client.get(url)
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.status_code
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def wrk(url: str, cookie: str | None, seconds: int = 10) -> float:
    command = ["wrk", "-t2", "-c16", f"-d{seconds}s", url]
    if cookie:
        command[1:1] = ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk saw {errors.group(1)} error responses on {url}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def prepare(engine: str, employees: int) -> tuple[dict[str, str], Path]:
    env, data_dir = empty_database(engine, "servicechain_bench")
    started = time.perf_counter()
    subprocess.run([BIN / "servicechain", "demo", "--employees", str(employees), "--months", "0", "--seed", "7"],
                   env=env, check=True, capture_output=True)
    print(f"  demo load, {employees} people, --months 0: {time.perf_counter() - started:.1f} s", flush=True)
    return env, data_dir


def run_engine(engine: str, workers: int, employees: int, seconds: int) -> list[tuple]:
    print(f"{engine}: {workers} worker(s)", flush=True)
    env, data_dir = prepare(engine, employees)
    port = free_port()
    server = start([str(BIN / "servicechain"), "serve", "--port", str(port), "--workers", str(workers), "--no-worker"], env)
    base = f"http://127.0.0.1:{port}"
    rows = []
    pages_dir = data_dir / "pages"
    pages_dir.mkdir()
    try:
        wait_ready(base + "/healthz", server)
        with httpx.Client(base_url=base, timeout=30) as client:
            client.get("/login")
            response = client.post("/login", data={"identifier": "employee@example.com", "password": "servicechain-demo", "next": "/"},
                                   headers={"x-csrftoken": client.cookies.get("sc_csrf")})
            assert response.status_code == 303, response.text
            cookie = f"sc_session={client.cookies.get('sc_session')}"
            measured = {}
            for name, path in PAGES.items():
                html = client.get(path).text
                (pages_dir / f"{name}.html").write_text(html)
                p50, p95 = latency(client, path)
                rps = wrk(base + path, cookie, seconds)
                measured[name] = (p50, p95, rps)
    finally:
        stop(server)
    bare_port = free_port()
    bare = start([str(BIN / "uvicorn"), "bench.bare_app:app", "--port", str(bare_port), "--workers", str(workers), "--no-access-log",
                  "--log-level", "warning"], {**env, "BENCH_PAGES_DIR": str(pages_dir)})
    bare_base = f"http://127.0.0.1:{bare_port}"
    try:
        wait_ready(bare_base + "/home", bare)
        with httpx.Client(base_url=bare_base, timeout=30) as client:
            for name in PAGES:
                b50, b95 = latency(client, "/" + name)
                brps = wrk(f"{bare_base}/{name}", None, seconds)
                p50, p95, rps = measured[name]
                rows.append((engine, workers, name, p50, p95, rps, b95, brps))
    finally:
        stop(bare)
    shutil.rmtree(data_dir, ignore_errors=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--employees", type=int, default=20000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--engines", default="sqlite,postgres")
    args = parser.parse_args()
    rows = []
    for engine in args.engines.split(","):
        rows += run_engine(engine, 1 if engine == "sqlite" else 2, args.employees, args.seconds)
    print()
    print("| engine | workers | page | p50 ms | p95 ms (≤ 20) | req/s (16 conns) | bare p95 ms | bare req/s | p95 ratio (≤ 2×) | req/s ratio (≤ 2×) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for engine, workers, name, p50, p95, rps, b95, brps in rows:
        print(f"| {engine} | {workers} | {name} | {p50:.1f} | {p95:.1f} | {rps:.0f} | {b95:.1f} | {brps:.0f} | {p95 / b95:.2f}× | {brps / rps:.2f}× |")


if __name__ == "__main__":
    main()
