"""What one request of the morning rush costs the server, page by page, in CPU.

The load bench (bench/load.py) says whether 200 people get their pages in time; when they do not,
the cause on this machine is CPU: one SQLite worker runs out of a core. This script says where
that CPU goes. Against the same 20,000-person demo (the load bench's kept template, or loaded
afresh), one server worker on loopback and one client asking one page at a time, it signs in
people of the load plan (heads, goal owners, agents, anyone) and asks each of them every page and
form of the locust scenario: once to warm the server's caches, then again while the server's
CPU time (all its threads, from /proc) is read before and after each kind of request, asked
`--rounds` times by everyone (the kernel counts CPU time in 10 ms ticks).

Prints, per page: requests, server CPU ms per request (mean), and wall ms (p50, p95) with no
other load. Run it before and after a change to a page:

    .venv/bin/python bench/request_cost.py --engine sqlite --keep-template
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import load  # noqa: E402  (the load bench's demo template, plan and server helpers)
from common import BIN, ROOT  # noqa: E402

SERVICE_LINK = re.compile(r"/internal-service/services/(\d+)/rate")


class Person:
    """One signed-in demo person with their own cookies, as a browser would be."""

    def __init__(self, base: str, me: dict, index: int, password: str) -> None:
        self.me = me
        self.client = httpx.Client(base_url=base, timeout=60,
                                   headers={"X-Forwarded-For": f"10.2.{index // 250 % 250}.{1 + index % 250}"})
        self.client.get("/login")
        answer = self.client.post("/login", data={"identifier": me["login"], "password": password, "next": "/"},
                                  headers=self.headers())
        if answer.status_code not in (200, 303):
            raise RuntimeError(f"{me['login']} could not sign in: {answer.status_code}")
        self.n = 0

    def headers(self, htmx: bool = False) -> dict[str, str]:
        headers = {"x-csrftoken": self.client.cookies.get("sc_csrf", "")}
        if htmx:
            headers["HX-Request"] = "true"
        return headers

    def marker(self, kind: str) -> str:
        self.n += 1
        return f"RC{uuid.uuid4().hex[:6]}-{kind}-{self.n}"


def flows(today: str, values: list[str]) -> dict[str, Callable[[Person], httpx.Response | None]]:
    """The locust scenario's requests, each on its own so that its cost can be read apart."""

    def goal(p: Person) -> int | None:
        return random.choice(p.me["goals"]) if p.me["goals"] else None

    def service(p: Person) -> str | None:
        return str(random.choice(p.me["services"])) if p.me["services"] else None

    def scope(p: Person) -> dict | None:
        return random.choice(p.me["scopes"]) if p.me["scopes"] else None

    def check_in(p: Person):
        if (g := goal(p)) is None:
            return None
        return p.client.post(f"/goals/{g}/check-ins", headers=p.headers(True), data={
            "value": str(random.randint(1, 100)), "confidence": "on_track", "taken_on": today, "comment": p.marker("c")})

    def thanks(p: Person):
        colleague = p.me["colleague"]
        return p.client.post("/recognition/new", headers=p.headers(True), data={
            "to": colleague["login"], "values": random.choice(values), "message": f"Thank you ({p.marker('t')})",
            "visibility": "public"})

    def rate(p: Person):
        if (s := service(p)) is None:
            return None
        scores = {name: str(random.randint(3, 5)) for name in ("overall", "speed", "quality", "courtesy", "willingness")}
        return p.client.post(f"/internal-service/services/{s}/rate", headers=p.headers(True),
                             data={**scores, "comment": "", "request_ref": p.marker("r"), "round_id": ""})

    def use(p: Person):
        if (s := scope(p)) is None:
            return None
        return p.client.post("/authority/uses", headers=p.headers(True), data={
            "scope_id": str(s["id"]), "amount": s["amount"], "case_ref": p.marker("u"), "customer": "",
            "action": "goodwill compensation"})

    return {
        "home": lambda p: p.client.get("/"),
        "my goals": lambda p: p.client.get("/goals/"),
        "goal page": lambda p: p.client.get(f"/goals/{g}") if (g := goal(p)) else None,
        "check-in": check_in,
        "recognition feed": lambda p: p.client.get("/recognition/"),
        "thanks form": lambda p: p.client.get("/recognition/new"),
        "thanks picker": lambda p: p.client.get("/recognition/picker", params={"find": p.me["colleague"]["name"][:5]},
                                                headers={"HX-Request": "true"}),
        "thanks": thanks,
        "rating round": lambda p: p.client.get("/internal-service/round"),
        "rating form": lambda p: p.client.get(f"/internal-service/services/{s}/rate") if (s := service(p)) else None,
        "rating": rate,
        "my authority": lambda p: p.client.get("/authority/"),
        "authority use (form)": use,
        "dashboard": lambda p: p.client.get(p.me["dashboard"][1]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", default="sqlite", choices=("sqlite", "postgres"))
    parser.add_argument("--people", type=int, default=40, help="people of the load plan who sign in")
    parser.add_argument("--rounds", type=int, default=5, help="times each person asks each page (the kernel counts CPU in 10 ms ticks)")
    parser.add_argument("--employees", type=int, default=20000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--port", type=int, default=8131)
    parser.add_argument("--pages", default="", help="only these pages, comma-separated")
    parser.add_argument("--keep-template", action="store_true", help="reuse (or keep) the load bench's demo template of today")
    parser.add_argument("--dashboards", default="dashboard: analytics=/analytics/,dashboard: analytics department=/analytics/departments/{department}")
    args = parser.parse_args()
    random.seed(1)
    work = Path(tempfile.mkdtemp(prefix=f"cost-{args.engine}-"))
    server = None
    try:
        env = load.prepare(args.engine, args, work)
        plan = load.inner(env, "plan", str(args.people), "RC" + uuid.uuid4().hex[:8], args.dashboards)
        base = f"http://127.0.0.1:{args.port}"
        server = subprocess.Popen([str(BIN / "servicechain"), "serve", "--port", str(args.port), "--workers", "1", "--no-worker"],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(work / "server.log", "w"),
                                  start_new_session=True)
        load.wait_ready(base + "/healthz", server)
        people = [Person(base, me, i, "servicechain-demo") for i, me in enumerate(plan["people"])]
        chosen = flows(plan["today"], plan["values"])
        wanted = [name for name in chosen if not args.pages or name in args.pages.split(",")]
        for name in wanted:  # warm: the first view of a page fills per-process caches
            for person in people:
                chosen[name](person)
        print(f"\n{args.engine}: one worker, {len(people)} people, one request at a time (server CPU from /proc)\n")
        print(f"{'page':24} {'requests':>8} {'CPU ms/req':>10} {'wall p50':>9} {'wall p95':>9}")
        for name in wanted:
            walls: list[float] = []
            cpu_before = load.server_cpu(server.pid)
            for person in people * args.rounds:
                started = time.perf_counter()
                answer = chosen[name](person)
                if answer is None:
                    continue
                walls.append((time.perf_counter() - started) * 1000)
                if answer.status_code >= 400:
                    print(f"  {name}: {answer.status_code} {answer.text[:200]}")
            cpu = load.server_cpu(server.pid) - cpu_before
            if walls:
                walls.sort()
                p95 = walls[min(len(walls) - 1, int(len(walls) * 0.95))]
                print(f"{name:24} {len(walls):8} {cpu * 1000 / len(walls):10.1f} {statistics.median(walls):9.1f} {p95:9.1f}")
    finally:
        if server is not None:
            load.stop(server)
        if args.engine == "postgres":
            load.psql(f"DROP DATABASE IF EXISTS {load.PG_RUN} WITH (FORCE)")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
