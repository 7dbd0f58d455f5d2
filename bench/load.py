"""The morning rush at 20,000 people: a Locust scenario of mixed real flows against the demo.

For each engine (SQLite with one worker, PostgreSQL with several): a migrated database with the
demo company (`servicechain demo --employees 20000 --months 24`), an API token for the helpdesk,
the server on loopback (behind which loopback plays the reverse proxy that names each client),
then `locust --headless` with 200 users (1-3 s think time) started and signed in at 5 a second,
then 60 s with all of them on (see bench/load/locustfile.py). The target is judged on the
requests made while all of them are on, from the end of the last sign-in (the ramp's sign-ins are
argon2 by design and are reported apart); the whole run, ramp included, is printed too, and the
server's CPU time beside them (the machine may be shared).
Afterwards the database is asked for every write the
users made (each carries a marker unique to the run): a write the server confirmed must be
there exactly once, and nothing may be there twice. Prints requests, errors and p50/p95/p99 per
flow and overall, sign-in apart. Target: no errors, p95 <= 150 ms, no lost or doubled writes.
Record the figures in bench/README.md. Run with `make bench` or on its own:

    .venv/bin/python bench/load.py --engines sqlite --keep-template
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BIN, PG_SERVER, ROOT  # noqa: E402

TARGET_P95_MS = 150
SIGN_IN_TAIL_S = 15  # the last sign-ins queue behind argon2 after the last user starts: room for them
HERE = Path(__file__).resolve().parent
TEMPLATES = Path(tempfile.gettempdir()) / "servicechain-load-templates"
PG_TEMPLATE = "load_template"
PG_RUN = "load_run"
SIGN_IN = ("sign-in page", "sign in")
FLOWS = {  # request name -> flow, in the order printed
    "home": "home", "my goals": "goals", "goal page": "goals", "check-in": "goals",
    "recognition feed": "thanks", "thanks form": "thanks", "thanks picker": "thanks", "thanks": "thanks",
    "rating round": "rating", "rating form": "rating", "rating": "rating",
    "my authority": "authority (web)", "authority use (form)": "authority (web)",
    "api: authority": "authority (API)", "api: record use": "authority (API)", "api: record use (retry)": "authority (API)",
    "dashboard: analytics": "dashboard", "dashboard: analytics department": "dashboard", "dashboard: quality": "dashboard",
}
MARKED = {  # what each user notes -> where the database keeps the marker
    "check_in": "SELECT comment AS marker FROM goal_check_in WHERE comment LIKE {}",
    "thanks": "SELECT message AS marker FROM recognition WHERE message LIKE {}",
    "rating": "SELECT request_ref AS marker FROM internal_service_rating WHERE request_ref LIKE {}",
    "authority_web": "SELECT case_ref AS marker FROM authority_use WHERE case_ref LIKE {} AND request_key IS NULL",
    "authority_api": "SELECT case_ref AS marker FROM authority_use WHERE case_ref LIKE {} AND request_key IS NOT NULL",
}


# --- inside the servicechain environment (run as `load.py --inner ...`) ----------------------------


async def inner_plan(users: int, run: str, dashboards: str) -> dict:
    """Who signs in and what each of them can do, read from the demo database."""
    import random

    from servicechain.goals import service as goals
    from servicechain.goals.authority import service as authority
    from servicechain.internal_service.service import services_received
    from servicechain.platform import db

    await db.start()
    rng = random.Random(run)
    today = goals.today()
    people = await db.fetch(
        "SELECT p.id, p.email, p.full_name, p.role, p.department, p.employee_number FROM person p"
        " WHERE p.active = {} AND p.department IS NOT NULL ORDER BY p.id", True)
    for person in people:  # people without a work email sign in with their employee number
        person["login"] = person["email"] or person["employee_number"]
    goal_rows = await db.fetch(
        "SELECT g.owner_person AS pid, g.id FROM goal g JOIN cycle c ON c.id = g.cycle"
        " WHERE g.status = 'agreed' AND g.level = 'person' AND c.starts_on <= {} AND c.ends_on >= {} AND g.starts_on <= {}",
        today, today, today)
    goals_of: dict[int, list[int]] = {}
    for row in goal_rows:
        goals_of.setdefault(row["pid"], []).append(row["id"])
    heads = {r["head"]: r["id"] for r in await db.fetch("SELECT id, head FROM department WHERE head IS NOT NULL AND active = {}", True)}
    grantees = [r["grantee"] for r in await db.fetch(
        "SELECT DISTINCT grantee FROM authority_grant WHERE revoked_at IS NULL AND valid_from <= {}"
        " AND (valid_until IS NULL OR valid_until >= {})", today, today)]

    async def scopes_of(person_id: int) -> list[dict]:
        """Scopes where a small use fits comfortably: the run must not exhaust a budget."""
        found = {}
        for item in await authority.authority_of(person_id):
            scope = item["scope"]
            amount = 5000 if scope["kind"] == "money" else 1  # 50 roubles in kopecks, or one item
            if item["per_case_limit"] >= amount and item["remaining_budget"] >= amount * 200:
                found[scope["id"]] = {"id": scope["id"], "code": scope["code"],
                                      "amount": "50" if scope["kind"] == "money" else "1"}
        return list(found.values())

    by_id = {p["id"]: p for p in people}
    # A real morning: people of every role, each a different person: two in five own an agreed
    # goal (a check-in needs one; mostly heads, who open their departments' dashboards too), a
    # quarter hold authority, the rest are anyone at all (mostly front-line employees).
    with_goals = [p for p in people if p["id"] in goals_of]
    rng.shuffle(with_goals)
    chosen = with_goals[: users * 2 // 5]
    taken = {p["id"] for p in chosen}
    agents = [by_id[g] for g in grantees if g in by_id and g not in taken]
    rng.shuffle(agents)
    for person in agents:
        if len(chosen) >= users * 13 // 20:
            break
        if await scopes_of(person["id"]):
            chosen.append(person)
            taken.add(person["id"])
    rest = [p for p in people if p["id"] not in taken]
    rng.shuffle(rest)
    chosen += rest[: users - len(chosen)]

    departments = {r["id"]: r for r in await db.fetch("SELECT id, path FROM department")}
    received_by: dict[int, list] = {}

    async def received(department_id: int) -> list[dict]:
        if department_id not in received_by:
            received_by[department_id] = (await services_received(departments[department_id]))[:10]
        return received_by[department_id]

    plan_people = []
    for person in chosen:
        colleague = rng.choice(people)
        while colleague["id"] == person["id"]:
            colleague = rng.choice(people)
        department = heads.get(person["id"])
        # Heads of departments open the analytics dashboards; everyone else their quality page.
        pages = dashboards.split(",") if department is not None else ["dashboard: quality=/quality/"]
        label, _eq, page = rng.choice(pages).partition("=")
        dashboard = [label, page.format(department=department)]
        plan_people.append({
            "id": person["id"], "login": person["login"], "role": person["role"],
            "goals": goals_of.get(person["id"], [])[:5], "scopes": await scopes_of(person["id"]) if person["id"] in grantees else [],
            "services": [s["id"] for s in await received(person["department"])], "dashboard": dashboard,
            "colleague": {"login": colleague["login"], "name": colleague["full_name"].split()[0]},
        })
    api_agents = []
    for grantee in grantees:
        if grantee in by_id and grantee not in taken and by_id[grantee]["email"]:
            for scope in await scopes_of(grantee):
                api_agents.append({"login": by_id[grantee]["email"], "scope": scope["code"], "amount": 50 if scope["amount"] == "50" else 1})
        if len(api_agents) >= 200:
            break
    values = [r["code"] for r in await db.fetch("SELECT code FROM company_value WHERE retired_at IS NULL")]
    from servicechain.recognition.service import DAILY_LIMIT
    await db.stop()
    return {"run": run, "today": today.isoformat(), "people": plan_people, "agents": api_agents, "values": values,
            "thanks_per_day": DAILY_LIMIT,
            "counts": {"with goals": sum(1 for p in plan_people if p["goals"]), "with grants": sum(1 for p in plan_people if p["scopes"]),
                       "heads": sum(1 for p in plan_people if p["id"] in heads),
                       "with services to rate": sum(1 for p in plan_people if p["services"]), "api agents": len(api_agents)}}


async def inner_count(run: str) -> dict:
    """Every marker of the run found in the database, with how many rows carry it."""
    from servicechain.platform import db

    await db.start()
    found = {}
    for kind, sql in MARKED.items():
        counts: dict[str, int] = {}
        for row in await db.fetch(sql, f"%{run}-%"):
            marker = row["marker"]
            if kind == "thanks":  # "Thank you for today (<marker>)"
                marker = marker[marker.index(run):].rstrip(")")
            counts[marker] = counts.get(marker, 0) + 1
        found[kind] = counts
    await db.stop()
    return found


# --- the driver -----------------------------------------------------------------------------------


def servicechain(env: dict[str, str], *args: str, capture: bool = True) -> str:
    done = subprocess.run([str(BIN / "servicechain"), *args], cwd=ROOT, env=env, capture_output=capture, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"servicechain {' '.join(args)} failed: {done.stderr[-2000:]}")
    return done.stdout


def inner(env: dict[str, str], *args: str) -> dict:
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--inner", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def psql(sql: str) -> None:
    subprocess.run(["psql", f"{PG_SERVER}/postgres", "-qc", sql], check=True, capture_output=True)


def prepare(engine: str, args: argparse.Namespace, work: Path) -> dict[str, str]:
    """A database holding the demo company and its analytics snapshot, from the kept template
    when asked and it is today's (then migrated forward: the code may have moved on)."""
    # Loopback stands for the reverse proxy in front of the app; it passes each client's address.
    env = {**os.environ, "SERVICECHAIN_ENV": "development", "SERVICECHAIN_DATA_DIR": str(work),
           "SERVICECHAIN_TRUSTED_PROXIES": "127.0.0.1/32"}
    env.pop("DATABASE_URL", None)
    stamp = f"{args.employees}-{args.months}-{time.strftime('%Y-%m-%d')}"
    TEMPLATES.mkdir(exist_ok=True)
    marker = TEMPLATES / f"{engine}.stamp"
    reuse = args.keep_template and marker.exists() and marker.read_text().strip() == stamp
    if engine == "postgres":
        env["DATABASE_URL"] = f"{PG_SERVER}/{PG_RUN}"
        psql(f"DROP DATABASE IF EXISTS {PG_RUN} WITH (FORCE)")
        if reuse:
            psql(f"CREATE DATABASE {PG_RUN} TEMPLATE {PG_TEMPLATE}")
        else:
            psql(f"CREATE DATABASE {PG_RUN}")
    elif reuse:
        shutil.copy(TEMPLATES / "sqlite.sqlite3", work / "servicechain.sqlite3")
    servicechain(env, "migrate")
    if reuse:
        print("  demo: copied from the kept template", flush=True)
        return env
    started = time.perf_counter()
    servicechain(env, "demo", "--employees", str(args.employees), "--months", str(args.months))
    print(f"  demo: {args.employees} people, {args.months} months loaded in {time.perf_counter() - started:.0f} s", flush=True)
    started = time.perf_counter()
    servicechain(env, "analytics", "refresh")  # the nightly build the dashboards read
    print(f"  analytics snapshot built in {time.perf_counter() - started:.0f} s", flush=True)
    if args.keep_template:
        if engine == "postgres":
            psql(f"DROP DATABASE IF EXISTS {PG_TEMPLATE} WITH (FORCE)")
            psql(f"CREATE DATABASE {PG_TEMPLATE} TEMPLATE {PG_RUN}")
        else:
            with sqlite3.connect(work / "servicechain.sqlite3") as source, sqlite3.connect(TEMPLATES / "sqlite.sqlite3") as target:
                source.backup(target)
        marker.write_text(stamp)
    return env


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {process.stderr.read()[-2000:] if process.stderr else ''}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("server did not start")


def argon2_cpu_s() -> float:
    """CPU seconds one sign-in's password check costs here (argon2id with the library defaults,
    as the server runs outside tests)."""
    from argon2 import PasswordHasher

    hasher = PasswordHasher()
    hashed = hasher.hash("servicechain-demo")
    began = time.process_time()
    for _ in range(5):
        hasher.verify(hashed, "servicechain-demo")
    return (time.process_time() - began) / 5


PROFILE_PARTS = {  # a frame that marks the part, in the order checked
    "argon2 (sign-in)": "verify_secret", "analytics pages": "AnalyticsController.",
    "SQLite (its thread)": "_connection_worker_thread", "templates": "Template.render",
}


def profile_shares(path: Path) -> dict[str, float]:
    """Shares of py-spy's busy samples (idle waits left out) by part of the server."""
    idle = ("aiosqlite/core.py:59)", "Condition.wait (", "select (selectors.py", "EpollSelector.select (", "Runner.run (asyncio/runners.py:118)",
            "Connection._recv (multiprocessing", "resource_tracker.py")  # waiting, and uvicorn's supervisor waiting
    counts: dict[str, int] = {}
    if not path.exists():
        return {}
    for line in path.read_text().splitlines():
        stack, _sep, n = line.rpartition(" ")
        if not stack or any(mark in stack.split(";")[-1] for mark in idle):
            continue
        part = next((name for name, frame in PROFILE_PARTS.items() if frame in stack), "the rest")
        counts[part] = counts.get(part, 0) + int(n)
    total = sum(counts.values()) or 1
    return {part: 100 * counts.get(part, 0) / total for part in [*PROFILE_PARTS, "the rest"]}


def server_cpu(pid: int) -> float:
    """CPU seconds the server and its worker processes have used: on a shared machine the
    wall clock measures the neighbours too, this does not."""
    import psutil  # comes with locust

    try:
        process = psutil.Process(pid)
        total = 0.0
        for p in [process, *process.children(recursive=True)]:
            times = p.cpu_times()
            total += times.user + times.system
        return total
    except psutil.Error:
        return 0.0


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def percentile(sorted_ms: list[float], q: float) -> float:
    if not sorted_ms:
        return float("nan")
    return sorted_ms[min(len(sorted_ms) - 1, max(0, round(q * len(sorted_ms)) - 1))]


def steady_window(out: dict) -> float:
    """When all users are on: the later of the last user started and the last sign-in answered."""
    signed_in = [start + ms / 1000 for name, ms, _ok, start in out["samples"] if name in SIGN_IN]
    return max([*out.get("all_on", []), *signed_in], default=0.0)


def summarise(samples: list, since: float = 0.0) -> list[tuple]:
    """(label, requests, errors, p50, p95, p99) per flow, per request name, overall and sign-in,
    over the requests started at ``since`` or later (unix seconds)."""
    groups: dict[str, list] = {}
    for name, ms, ok, start in samples:
        if start < since:
            continue
        groups.setdefault(name, []).append((ms, ok))
        flow = "sign-in" if name in SIGN_IN else FLOWS.get(name, name)
        if name not in SIGN_IN:
            groups.setdefault(f"flow: {flow}", []).append((ms, ok))
            groups.setdefault("ALL but sign-in", []).append((ms, ok))
        groups.setdefault("flow: sign-in", []).append((ms, ok)) if name in SIGN_IN else None
    order = ["ALL but sign-in"] + [f"flow: {f}" for f in dict.fromkeys(FLOWS.values())] + ["flow: sign-in"]
    order += [n for n in list(FLOWS) + list(SIGN_IN) if n in groups] + sorted(n for n in groups if n not in order and n not in FLOWS and n not in SIGN_IN)
    rows = []
    for label in dict.fromkeys(order):
        if label not in groups:
            continue
        times = sorted(ms for ms, _ok in groups[label])
        rows.append((label, len(times), sum(1 for _ms, ok in groups[label] if not ok),
                     percentile(times, 0.50), percentile(times, 0.95), percentile(times, 0.99)))
    return rows


def check_writes(noted: dict[str, dict[str, str]], found: dict[str, dict[str, int]]) -> list[tuple]:
    """(kind, confirmed, in db, lost, doubled, unconfirmed-but-stored, stored-though-refused-or-unsent) per kind."""
    rows = []
    for kind in MARKED:
        mine, there = noted.get(kind, {}), found.get(kind, {})
        confirmed = {m for m, state in mine.items() if state == "ok"}
        lost = sorted(m for m in confirmed if m not in there)
        doubled = sorted(m for m, n in there.items() if n > 1)
        # Sent without an answer (the run ended, or the server failed): may or may not be there.
        unconfirmed = sorted(m for m in there if m in mine and m not in confirmed and not mine[m].startswith("failed 4"))
        # Refused (4xx) yet stored, or never sent by anyone: must not exist.
        unknown = sorted(m for m in there if m not in mine or mine[m].startswith("failed 4"))
        rows.append((kind, len(confirmed), sum(there.values()), lost, doubled, unconfirmed, unknown))
    return rows


def run_engine(engine: str, workers: int, args: argparse.Namespace) -> dict:
    print(f"\n{engine}: {workers} worker(s), {args.users} users started at {args.spawn_rate:g}/s, then {args.seconds} s all on",
          flush=True)
    work = Path(tempfile.mkdtemp(prefix=f"load-{engine}-"))
    server = None
    try:
        env = prepare(engine, args, work)
        run = "LT" + uuid.uuid4().hex[:8]
        token = servicechain(env, "token", "create", f"load {run}", "--scopes", "authority:use,authority:read").strip().splitlines()[-1]
        plan = inner(env, "plan", str(args.users), run, args.dashboards)
        plan.update(password="servicechain-demo", token=token)
        print(f"  plan: {len(plan['people'])} people ({', '.join(f'{k} {v}' for k, v in plan['counts'].items())})", flush=True)
        plan_file, out_file = work / "plan.json", work / "out.json"
        plan_file.write_text(json.dumps(plan))
        base = f"http://127.0.0.1:{args.port}"
        server = subprocess.Popen([str(BIN / "servicechain"), "serve", "--port", str(args.port), "--workers", str(workers), "--no-worker"],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(work / "server.log", "w"),
                                  start_new_session=True)
        wait_ready(base + "/healthz", server)
        load_avg = os.getloadavg()[0]
        cpu_before = server_cpu(server.pid)
        profiler = None
        if args.profile:  # py-spy samples the server (and its workers) while the users run
            profiler = subprocess.Popen([str(BIN / "py-spy"), "record", "--subprocesses", "--idle", "--format", "raw",
                                         "-o", f"{args.profile}.{engine}.txt", "--pid", str(server.pid)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ramp = math.ceil(args.users / args.spawn_rate)
        locust = subprocess.run(
            [str(BIN / "locust"), "-f", str(HERE / "load" / "locustfile.py"), "--headless", "--only-summary",
             "-u", str(args.users), "-r", str(args.spawn_rate), "-t", f"{ramp + SIGN_IN_TAIL_S + args.seconds}s", "-H", base,
             "--csv", str(work / "locust"), "--loglevel", "WARNING"],
            cwd=ROOT, env={**os.environ, "LOAD_PLAN": str(plan_file), "LOAD_OUT": str(out_file)},
            capture_output=True, text=True)
        load_avg = max(load_avg, os.getloadavg()[0])
        cpu_used = server_cpu(server.pid) - cpu_before
        # SQLite's write-ahead log as the run left it (the server's last close folds it away): it
        # should stay small, checkpointed as the run goes, not grow with every write.
        wal = work / "servicechain.sqlite3-wal"
        wal_mb = wal.stat().st_size / 1e6 if engine == "sqlite" and wal.exists() else None
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(timeout=60)
        stop(server)
        server = None
        if not out_file.exists():
            raise RuntimeError(f"locust wrote no results: {locust.stderr[-3000:]}")
        out = json.loads(out_file.read_text())
        found = inner(env, "count", run)
        since = steady_window(out)
        last = max(start + ms / 1000 for _name, ms, _ok, start in out["samples"])
        result = {"engine": engine, "workers": workers, "users": args.users, "rows": summarise(out["samples"], since),
                  "whole_run": summarise(out["samples"]), "steady_s": last - since,
                  "steady_requests": sum(1 for _n, _ms, _ok, start in out["samples"] if start >= since),
                  "writes": check_writes(out["writes"], found),
                  "cpu_s": cpu_used, "requests": len(out["samples"]), "argon2_s": argon2_cpu_s(),
                  "seconds": math.ceil(args.users / args.spawn_rate) + SIGN_IN_TAIL_S + args.seconds,
                  "sign_ins": sum(1 for name, _ms, _ok, _start in out["samples"] if name == "sign in"),
                  "load": load_avg, "failures": failures(work / "locust_failures.csv"), "wal_mb": wal_mb}
        if args.profile:
            result["profile"] = profile_shares(Path(f"{args.profile}.{engine}.txt"))
        report(result)
        if args.keep_work:
            print(f"  work folder kept: {work}")
        return result
    finally:
        if server is not None:
            stop(server)
        if engine == "postgres":
            psql(f"DROP DATABASE IF EXISTS {PG_RUN} WITH (FORCE)")
        if not args.keep_work:
            shutil.rmtree(work, ignore_errors=True)


def failures(path: Path) -> list[str]:
    """Locust's failures by request and error, most frequent first."""
    import csv

    if not path.exists():
        return []
    rows = sorted(csv.DictReader(path.open(encoding="utf-8")), key=lambda r: -int(r["Occurrences"]))
    return [f"{r['Occurrences']} x {r['Method']} {r['Name']}: {r['Error'][:200]}" for r in rows[:15]]


def report(result: dict) -> None:
    print(f"\n  {result['engine']}, {result['workers']} worker(s); load average up to {result['load']:.1f} on this "
          f"{os.cpu_count()}-core machine")
    print(f"  {result['requests']} requests in {result['seconds']} s ({result['requests'] / result['seconds']:.0f}/s); "
          f"server CPU {result['cpu_s']:.1f} s ({result['cpu_s'] / result['seconds']:.2f} cores); {result['sign_ins']} sign-ins sent, "
          f"argon2 costs {result['argon2_s'] * 1000:.0f} ms of CPU per sign-in here")
    if result.get("wal_mb") is not None:
        print(f"  SQLite's write-ahead log at the end of the run: {result['wal_mb']:.1f} MB")
    if result.get("profile"):
        print("  where the server's busy samples went (py-spy): " + ", ".join(f"{k} {v:.0f} %" for k, v in result["profile"].items()))
    print(f"\n  all {result['users']} users on: {result['steady_requests']} requests in {result['steady_s']:.0f} s "
          f"({result['steady_requests'] / max(result['steady_s'], 1):.0f}/s), from the last sign-in on (the target is judged here)")
    table(result["rows"], judged=True)
    print("\n  the whole run, ramp and sign-ins included")
    table(result["whole_run"], judged=False)
    print("\n  | writes | confirmed | rows in the database | lost | doubled | stored, answer never came | stored though refused or never sent |")
    print("  |---|---|---|---|---|---|---|")
    for kind, confirmed, rows, lost, doubled, unconfirmed, unknown in result["writes"]:
        print(f"  | {kind} | {confirmed} | {rows} | {len(lost)} | {len(doubled)} | {len(unconfirmed)} | {len(unknown)} |")
        for what, items in (("lost", lost), ("doubled", doubled), ("stored though refused or never sent", unknown)):
            if items:
                print(f"    {what}: {', '.join(items[:10])}")
    for line in result["failures"]:
        print(f"  failed: {line}")


def table(rows: list[tuple], judged: bool) -> None:
    print(f"  | requests | n | errors | p50 ms | p95 ms{f' (target ≤ {TARGET_P95_MS})' if judged else ''} | p99 ms |")
    print("  |---|---|---|---|---|---|")
    for label, n, errors, p50, p95, p99 in rows:
        flag = "" if not judged or label in SIGN_IN or label == "flow: sign-in" else (" ✅" if p95 <= TARGET_P95_MS else " ❌")
        print(f"  | {label} | {n} | {errors} | {p50:.0f} | {p95:.0f}{flag} | {p99:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--spawn-rate", type=float, default=5, help="users started (and signed in) per second")
    parser.add_argument("--seconds", type=int, default=60, help="how long all users stay on after the ramp-up")
    parser.add_argument("--pg-workers", type=int, default=3)
    parser.add_argument("--employees", type=int, default=20000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--port", type=int, default=8121)
    parser.add_argument("--dashboards", default="dashboard: analytics=/analytics/,dashboard: analytics department=/analytics/departments/{department}",
                        help="NAME=PAGE of the dashboards heads of departments open, comma-separated; {department} is theirs")
    parser.add_argument("--keep-template", action="store_true", help=f"keep the loaded demo in {TEMPLATES} / {PG_TEMPLATE} and reuse it today")
    parser.add_argument("--keep-work", action="store_true", help="keep the work folder (plan, results, server log)")
    parser.add_argument("--profile", metavar="PREFIX", help="sample the server with py-spy into PREFIX.<engine>.txt (collapsed stacks)")
    parser.add_argument("--inner", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        what, *rest = args.inner
        if what == "plan":
            print(json.dumps(asyncio.run(inner_plan(int(rest[0]), rest[1], rest[2]))))
        else:
            print(json.dumps(asyncio.run(inner_count(rest[0]))))
        return
    failed = False
    for engine in args.engines.split(","):
        result = run_engine(engine, 1 if engine == "sqlite" else args.pg_workers, args)
        overall = next(r for r in result["rows"] if r[0] == "ALL but sign-in")
        failed |= any(r[2] for r in result["whole_run"]) or any(w[3] or w[4] or w[6] for w in result["writes"])
        failed |= overall[4] > TARGET_P95_MS
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
