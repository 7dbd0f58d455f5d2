"""Faults and backups at 20,000 people, on SQLite and PostgreSQL; prints the figures.

- backup and restore of the 20,000-person demo (24 months): wall time and file size;
- restart after SIGKILL: from a new `servicechain serve` to the first 200 on /healthz;
- the database away: how long a page takes to answer 503 while it is gone, and from its return
  to the first 200 (the same process, no restart). SQLite: the database folder moved away;
  PostgreSQL: reached through a TCP proxy that is cut.

Targets: backup and restore under 60 s each; a restart ready within 10 s; a 503 within 1 s
while the database is away; serving again within 5 s of its return.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import BIN, PG_SERVER, empty_database  # noqa: E402

from tests.ops.proxy import TcpProxy  # noqa: E402

PORT, PROXY_PORT = 8118, 8119


def timed(args: list, env: dict) -> float:
    started = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, args))} failed: {done.stderr[-2000:]}")
    return time.perf_counter() - started


def wait_for(status: int, limit: float = 120) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        try:
            if httpx.get(f"http://127.0.0.1:{PORT}/healthz", timeout=5).status_code == status:
                return time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"/healthz never answered {status}")


def serve(env: dict) -> subprocess.Popen:
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", PORT)) == 0:
            raise SystemExit(f"port {PORT} is taken")
    return subprocess.Popen([BIN / "servicechain", "serve", "--port", str(PORT), "--no-worker"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def measure(engine: str, employees: int, months: int) -> dict[str, float | str]:
    env, data_dir = empty_database(engine, "servicechain_bench_faults")
    timed([BIN / "servicechain", "demo", "--employees", str(employees), "--months", str(months)], env)
    backup = data_dir / "company.scbackup"
    figures: dict[str, float | str] = {"backup_s": timed([BIN / "servicechain", "backup", str(backup)], env)}
    figures["size_mb"] = backup.stat().st_size / 1e6
    target_env, _ = empty_database(engine, "servicechain_bench_faults_restored")
    figures["restore_s"] = timed([BIN / "servicechain", "restore", str(backup), "--force"], target_env)

    server = serve(env)
    wait_for(200)
    server.send_signal(signal.SIGKILL)
    server.wait()
    started = time.perf_counter()
    server = serve(env)
    wait_for(200)
    figures["restart_s"] = time.perf_counter() - started
    server.terminate()
    server.wait()

    if engine == "postgres":
        proxy = TcpProxy(5432, PROXY_PORT).resume()
        via = {**env, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{PROXY_PORT}/servicechain_bench_faults"}
        cut, back = proxy.cut, proxy.resume
    else:
        via = env
        folder, away = data_dir, data_dir.with_name(data_dir.name + "-away")
        cut, back = (lambda: folder.rename(away)), (lambda: away.rename(folder))
    server = serve(via)
    try:
        wait_for(200)
        cut()
        started = time.perf_counter()
        page = httpx.get(f"http://127.0.0.1:{PORT}/healthz", timeout=60)  # asks the database itself
        figures["unavailable_s"] = time.perf_counter() - started
        figures["unavailable_status"] = str(page.status_code)
        back()
        figures["recovered_s"] = wait_for(200)
    finally:
        server.terminate()
        server.wait()
    for name in ("servicechain_bench_faults", "servicechain_bench_faults_restored"):
        if engine == "postgres":
            subprocess.run(["psql", f"{PG_SERVER}/postgres", "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
                           capture_output=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--employees", type=int, default=20000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--engines", default="sqlite,postgres")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; demo {args.employees} people, {args.months} months")
    print("| engine | backup s | size MB | restore s | restart after SIGKILL s | 503 while away s | back after s |")
    print("|---|---|---|---|---|---|---|")
    for engine in args.engines.split(","):
        f = measure(engine, args.employees, args.months)
        print(f"| {engine} | {f['backup_s']:.1f} | {f['size_mb']:.0f} | {f['restore_s']:.1f} | {f['restart_s']:.1f} |"
              f" {f['unavailable_s']:.2f} ({f['unavailable_status']}) | {f['recovered_s']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
