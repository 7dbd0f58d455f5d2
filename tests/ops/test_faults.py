"""A real `servicechain serve` killed with SIGKILL mid-work, and a database that goes away
and comes back: after a restart nothing is half-written, no budget is overspent and the audit
chain verifies; while the database is away pages say so (503, in the reader's language) and
the same process serves again, without a restart, once it returns."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import sqlite3
import subprocess
import time
import uuid
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from servicechain.goals.authority.service import chain_ids, period_start, today
from tests.conftest import ROOT
from tests.ops.helpers import (SERVICECHAIN, Server, TcpProxy, Worker, cli, env_for, free_port, is_postgres, report_jobs,
                               sql, wait_for_reports)

PASSWORD = "servicechain-demo"


@pytest.fixture(scope="module")
def server(company):
    url, _ = company
    server = Server(url).start()
    yield server
    server.stop()


def api(server: Server, token: str, timeout: float = 120) -> httpx.Client:
    return httpx.Client(base_url=server.base, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)


def audit_intact(url: str) -> None:
    done = cli(url, "audit", "verify", check=False)
    assert done.returncode == 0 and "Audit log intact" in done.stdout, done.stderr


def wait_until_writing(url: str, seconds: float = 60) -> None:
    """Return once a write transaction has been under way for a while: PostgreSQL shows a
    transaction id only after the first row is written; on SQLite another connection cannot
    take the write lock for three probes in a row (the token check's short write is over by
    then)."""
    deadline = time.monotonic() + seconds
    held = 0
    while time.monotonic() < deadline:
        if url.startswith("postgres"):
            name = url.rsplit("/", 1)[1]
            if sql(url, "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = '%s' AND backend_xid IS NOT NULL"
                        " AND pid <> pg_backend_pid()" % name)[0][0]:
                return
        else:
            with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"), timeout=0)) as conn:
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    conn.execute("ROLLBACK")
                    held = 0
                except sqlite3.OperationalError:
                    held += 1
                    if held >= 3:
                        return
        time.sleep(0.02)
    raise AssertionError("the import never started writing")


def test_an_import_killed_midway_is_saved_whole_or_not_at_all(company, server):
    url, token = company
    department = sql(url, "SELECT code FROM department WHERE code <> '' ORDER BY id DESC LIMIT 1")[0][0]
    day = (today() - timedelta(days=1)).isoformat()
    batch = [{"external_id": f"kill-{i}", "date": day, "channel": "chat", "department": department,
              "csat": 2 if i % 10 == 0 else 5, "comment": "after the crash"} for i in range(5000)]
    with api(server, token) as client:
        assert client.get("/api/v1/authority", params={"employee": "employee@example.com"}).status_code == 200
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            posted = pool.submit(client.post, "/api/v1/customer-scores", json=batch)
            wait_until_writing(url)
            server.kill()
            with pytest.raises(httpx.TransportError):
                posted.result()
    saved = sql(url, "SELECT COUNT(*) FROM customer_score WHERE external_id LIKE 'kill-%'")[0][0]
    follow_ups = sql(url, "SELECT COUNT(*) FROM customer_follow_up f JOIN customer_score s ON s.id = f.score"
                          " WHERE s.external_id LIKE 'kill-%'")[0][0]
    assert (saved, follow_ups) in ((0, 0), (5000, 500)), (saved, follow_ups)
    server.start()
    audit_intact(url)
    with api(server, token) as client:  # the integration sends the batch again: it lands whole
        again = client.post("/api/v1/customer-scores", json=batch)
    assert again.status_code == 200, again.text
    assert again.json()["created"] + again.json()["skipped"] == 5000
    assert sql(url, "SELECT COUNT(*) FROM customer_score WHERE external_id LIKE 'kill-%'")[0][0] == 5000


def budgets_hold(url: str) -> None:
    """Per grant and period: the running total equals the uses recorded under the grant and
    every grant below it, and the current period's total is within the budget."""
    grants = {g: (period, budget) for g, period, budget in sql(url, "SELECT id, period, budget FROM authority_grant")}
    totals: dict[tuple[int, str], int] = defaultdict(int)
    for path, amount, used_on in sql(url, "SELECT grant_path, amount, used_on FROM authority_use"):
        day = used_on if isinstance(used_on, date) else date.fromisoformat(used_on)
        for grant in chain_ids(path):
            totals[(grant, period_start(day, grants[grant][0]).isoformat())] += amount
    recorded = {(g, str(p)): s for g, p, s in sql(url, "SELECT grant_id, period_start, spent FROM authority_spent")}
    assert {k: v for k, v in recorded.items() if v} == dict(totals)
    for (grant, start), spent in totals.items():
        if start == period_start(today(), grants[grant][0]).isoformat():
            assert spent <= grants[grant][1], f"grant {grant} overspent: {spent} of {grants[grant][1]}"


def near_the_end_of_a_budget(url: str, uses_left: int) -> tuple[str, str, float, int]:
    """A leaf grant whose budget leaves room for `uses_left` uses of its per-case limit:
    (grantee email, scope code, amount per use as the API takes it, grant id)."""
    grant, email, scope, kind, per_case, period = sql(url, (
        "SELECT g.id, p.email, s.code, s.kind, g.per_case_limit, g.period FROM authority_grant g"
        " JOIN person p ON p.id = g.grantee JOIN authority_scope s ON s.id = g.scope"
        " WHERE g.revoked_at IS NULL AND p.active AND g.valid_from <= '{day}'"
        " AND (g.valid_until IS NULL OR g.valid_until >= '{day}')"
        " AND NOT EXISTS (SELECT 1 FROM authority_grant c WHERE c.parent = g.id) ORDER BY g.depth DESC, g.id LIMIT 1"
    ).format(day=today().isoformat()))[0]
    key = f"{grant}:{period_start(today(), period).isoformat()}"
    spent = (sql(url, f"SELECT spent FROM authority_spent WHERE key = '{key}'") or [(0,)])[0][0]
    # Every grant of the chain gets room for exactly `uses_left` more: whichever is reached first stops the burst.
    path = sql(url, f"SELECT path FROM authority_grant WHERE id = {grant}")[0][0]
    for above in chain_ids(path):
        above_key = f"{above}:{period_start(today(), period).isoformat()}"
        above_spent = (sql(url, f"SELECT spent FROM authority_spent WHERE key = '{above_key}'") or [(0,)])[0][0]
        sql(url, f"UPDATE authority_grant SET budget = {above_spent + uses_left * per_case}, per_case_limit = {per_case}"
                 f" WHERE id = {above}")
    assert spent is not None
    return email, scope, per_case / 100 if kind == "money" else per_case, grant


def test_a_burst_of_uses_killed_midway_overspends_no_budget(company, server):
    url, token = company
    email, scope, amount, grant = near_the_end_of_a_budget(url, uses_left=6)
    run = uuid.uuid4().hex[:6]
    answers: list[int] = []
    with api(server, token, timeout=60) as client, concurrent.futures.ThreadPoolExecutor(24) as pool:
        def use(i: int) -> httpx.Response:
            return client.post("/api/v1/authority/uses", json={
                "employee": email, "scope": scope, "amount": amount, "case_ref": f"burst-{run}-{i}",
                "request_id": f"burst-{run}-{i}"})
        futures = [pool.submit(use, i) for i in range(24)]
        finished = 0
        for _ in concurrent.futures.as_completed(futures):
            finished += 1
            if finished == 3:  # the burst is under way: pull the plug
                server.kill()
                break
        server.kill()
        for future in futures:
            with contextlib.suppress(httpx.TransportError):
                answers.append(future.result().status_code)
    assert len(answers) < 24, "the server answered every use before it was killed"
    recorded = sql(url, f"SELECT COUNT(*) FROM authority_use WHERE case_ref LIKE 'burst-{run}-%'")[0][0]
    assert recorded >= answers.count(201)
    assert recorded <= 6
    server.start()
    budgets_hold(url)
    audit_intact(url)
    # After the restart the budget's remainder is still usable, and no more.
    with api(server, token) as client:
        after = [client.post("/api/v1/authority/uses", json={
            "employee": email, "scope": scope, "amount": amount, "case_ref": f"after-{run}-{i}"}).status_code
            for i in range(7 - recorded)]
    assert after.count(201) == 6 - recorded and after.count(422) == 1, after
    budgets_hold(url)
    audit_intact(url)


# --- the database goes away -------------------------------------------------------------------


def sign_in(base: str, email: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60, follow_redirects=False)
    client.get("/login")
    response = client.post("/login", data={"identifier": email, "password": PASSWORD, "next": "/"},
                           headers={"x-csrftoken": client.cookies["sc_csrf"]})
    assert response.status_code == 303, response.text
    return client


def wait_for_health(base: str, status: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(base + "/healthz", timeout=10).status_code == status:
                return
        time.sleep(0.2)
    raise AssertionError(f"/healthz never answered {status}")


@pytest.fixture
def outage(company):
    """(server, cut, bring back): SQLite's folder moved away (a volume gone), or PostgreSQL
    reached through a proxy that drops every connection."""
    url, _ = company
    if is_postgres():
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        proxy = TcpProxy(port, free_port()).resume()
        via = url.replace(f":{port}/", f":{proxy.port}/")
        server = Server(via).start()
        yield server, proxy.cut, proxy.resume
        proxy.cut()
    else:
        folder = Path(url.removeprefix("sqlite:///")).parent
        away = folder.with_name(folder.name + "-away")
        server = Server(url).start()
        yield server, lambda: folder.rename(away), lambda: away.rename(folder)
        if away.exists():
            away.rename(folder)
    server.stop()


def test_while_the_database_is_away_pages_say_so_and_the_app_recovers_by_itself(company, outage):
    url, token = company
    server, cut, bring_back = outage
    person = sign_in(server.base, "employee@example.com")
    language = person.cookies.get("sc_lang")
    assert person.get("/").status_code == 200
    # Strangers about to sign in, one with a Russian browser, one with an English one.
    russian = httpx.Client(base_url=server.base, timeout=60, headers={"Accept-Language": "ru"})
    english = httpx.Client(base_url=server.base, timeout=60, headers={"Accept-Language": "en"})
    for client in (russian, english):
        assert client.get("/login").status_code == 200
    pid = server.process.pid
    cut()
    try:
        wait_for_health(server.base, 503)
        health = httpx.get(server.base + "/healthz", timeout=10)
        assert health.json()["status"] == "unavailable"

        page = person.get("/")  # a signed-in person: the language cookie set at sign-in
        assert page.status_code == 503 and page.headers["retry-after"] == "30" and page.headers["refresh"] == "30"
        assert f'<html lang="{language}"' in page.text

        for client, words in ((russian, ("Сервис временно недоступен", "Временно недоступно")),
                              (english, ("The service is temporarily unavailable", "Temporarily unavailable"))):
            signing_in = client.post("/login", data={"identifier": "hr@example.com", "password": PASSWORD, "next": "/"},
                                     headers={"x-csrftoken": client.cookies["sc_csrf"]})
            assert signing_in.status_code == 503
            assert f'<html lang="{client.headers["accept-language"]}"' in signing_in.text
            assert all(w in signing_in.text for w in words), signing_in.text

        posted = person.post("/language", data={"language": "en"}, headers={"x-csrftoken": person.cookies["sc_csrf"]})
        assert posted.status_code == 503

        answer = httpx.get(server.base + "/api/v1/authority", params={"employee": "employee@example.com"},
                           headers={"Authorization": f"Bearer {token}", "Accept-Language": "ru"}, timeout=30)
        assert answer.status_code == 503 and answer.headers["content-type"].startswith("application/json")
        assert answer.json()["detail"] == "Сервис временно недоступен. Попробуйте через минуту."
    finally:
        bring_back()
    wait_for_health(server.base, 200)
    assert person.get("/").status_code == 200  # the same session, the same process
    assert httpx.get(server.base + "/api/v1/authority", params={"employee": "employee@example.com"},
                     headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code == 200
    assert server.process.pid == pid and server.process.poll() is None


# --- a report generation ----------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until_busy(pid: int, seconds_of_cpu: float, deadline_s: float = 120) -> None:
    """Return once the process has worked `seconds_of_cpu` more: it is mid-way through the
    report (snapshot, charts, PDF), whatever the machine's load."""
    start, deadline = cpu_seconds(pid), time.monotonic() + deadline_s
    while cpu_seconds(pid) - start < seconds_of_cpu:
        if time.monotonic() > deadline:
            raise AssertionError("the report generation never got going")
        time.sleep(0.02)


def archive_whole(url: str) -> int:
    """Every archived report's bytes match its recorded size and checksum; returns how many."""
    import hashlib

    rows = sql(url, "SELECT id, size, sha256, pdf FROM report_archive")
    for report_id, size, digest, pdf in rows:
        assert len(bytes(pdf)) == size and hashlib.sha256(bytes(pdf)).hexdigest() == digest, f"report {report_id}"
    return len(rows)


def test_a_report_generation_killed_midway_leaves_no_half_report(company, server, tmp_path):
    from servicechain.platform.lib.dates import month_key
    from servicechain.platform.reports.service import last_complete_month

    url, _ = company
    month = month_key(last_complete_month())
    before = archive_whole(url)
    person = sign_in(server.base, "ceo@example.com")
    # Asked for on the web, the report is made by a worker: kill that one mid-way.
    asked = person.post("/reports/generate", data={"month": month, "lang": "ru", "regenerate": "1"},
                        headers={"x-csrftoken": person.cookies["sc_csrf"]}, timeout=60)
    assert asked.status_code == 303, asked.text
    worker = Worker(url).start()
    deadline = time.monotonic() + 120
    while not any(attempts for _id, attempts, finished, _error in report_jobs(url) if not finished):
        assert time.monotonic() < deadline, "the worker never took the report"
        time.sleep(0.05)
    wait_until_busy(worker.process.pid, 0.5)
    worker.kill()
    assert archive_whole(url) in (before, before + 1)
    audit_intact(url)

    # The timer's command killed the same way writes no file, half or whole.
    out = tmp_path / "report.pdf"
    process = subprocess.Popen([SERVICECHAIN, "report", "monthly", "--month", month, "--lang", "ru", "--out", str(out)],
                               cwd=ROOT, env=env_for(url), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until_busy(process.pid, 1.0)
    process.kill()
    process.wait(10)
    assert not out.exists()
    archive_whole(url)

    # The killed worker's claim lapses (after outbox.CLAIM_FOR; here at once) and the next
    # worker makes the report whole.
    sql(url, "UPDATE job SET locked_until = NULL WHERE kind = 'reports.generate' AND finished_at IS NULL")
    worker = Worker(url).start()
    try:
        wait_for_reports(url)
    finally:
        worker.stop()
    [(report_id,)] = sql(url, f"SELECT id FROM report_archive WHERE month = '{month}-01' AND lang = 'ru'")
    assert person.get(f"/reports/{report_id}/download").content.startswith(b"%PDF")
    archive_whole(url)


# --- a backup while the application writes ----------------------------------------------------


def test_a_backup_taken_while_the_app_writes_restores_consistent(company, server, tmp_path):
    """Uses keep being recorded through the API while `servicechain backup` runs: the restored
    copy holds whole uses only (each with its running totals and its audit entry)."""
    from tests.ops.helpers import drop_database, new_database

    url, token = company
    email, scope, amount, _ = near_the_end_of_a_budget(url, uses_left=1000)
    run = uuid.uuid4().hex[:6]
    backup = tmp_path / "while-writing.scbackup"
    with api(server, token) as client, concurrent.futures.ThreadPoolExecutor(2) as pool:
        def keep_writing() -> int:
            made = 0
            while not backup.exists():
                answer = client.post("/api/v1/authority/uses", json={
                    "employee": email, "scope": scope, "amount": amount, "case_ref": f"during-{run}-{made}"})
                assert answer.status_code == 201, answer.text
                made += 1
            return made
        writer = pool.submit(keep_writing)
        while not sql(url, f"SELECT COUNT(*) FROM authority_use WHERE case_ref LIKE 'during-{run}-%'")[0][0]:
            time.sleep(0.05)
        cli(url, "backup", str(backup))
        assert writer.result() > 0
    target = new_database("during")
    try:
        cli(target, "restore", str(backup))
        budgets_hold(target)
        audit_intact(target)
        copied = sql(target, f"SELECT COUNT(*) FROM authority_use WHERE case_ref LIKE 'during-{run}-%'")[0][0]
        audited = sql(target, "SELECT COUNT(*) FROM audit_entry WHERE action = 'authority.used'"
                              f" AND summary LIKE '%during-{run}-%'")[0][0]
        assert copied >= 1 and audited == copied
    finally:
        drop_database(target)
