"""Two `servicechain serve` processes on different ports share one PostgreSQL database and
behave as one: sessions, sign-out, throttling, budgets and the report archive live in the
database, none in a worker's memory (the reverse proxy may send any request anywhere)."""

from __future__ import annotations

import concurrent.futures
import itertools
import uuid

import httpx
import pytest

from servicechain.platform.reports.service import last_complete_month
from servicechain.platform.lib.dates import month_key
from tests.ops.helpers import Server, Worker, sql, wait_for_reports
from tests.ops.test_faults import PASSWORD, budgets_hold, near_the_end_of_a_budget, sign_in

pytestmark = pytest.mark.postgres_only


@pytest.fixture(scope="module")
def two_workers(company):
    url, token = company
    a, b = Server(url).start(), Server(url).start()
    yield url, token, a, b
    a.stop()
    b.stop()


def moved_to(client: httpx.Client, server: Server) -> httpx.Client:
    """The same browser (cookies), now sent to the other worker."""
    other = httpx.Client(base_url=server.base, timeout=60, follow_redirects=False)
    other.cookies = client.cookies
    return other


def test_a_session_made_on_one_worker_works_on_the_other_and_sign_out_ends_it_on_both(two_workers):
    _, _, a, b = two_workers
    on_a = sign_in(a.base, "manager@example.com")
    on_b = moved_to(on_a, b)
    assert on_b.get("/").status_code == 200
    # The CSRF token made by A is good on B too (the same secret signs it).
    assert on_a.post("/logout", headers={"x-csrftoken": on_a.cookies["sc_csrf"]}).status_code == 303
    stale = httpx.Client(base_url=b.base, timeout=60, follow_redirects=False)
    stale.cookies.set("sc_session", on_b.cookies["sc_session"])  # B's copy of the cookie, kept
    gone = stale.get("/")
    assert gone.status_code == 303 and gone.headers["location"].startswith("/login")


def test_failed_sign_ins_are_counted_across_workers(two_workers):
    _, _, a, b = two_workers
    clients = {s: httpx.Client(base_url=s.base, timeout=60, follow_redirects=False) for s in (a, b)}
    for client in clients.values():
        client.get("/login")
    workers = itertools.cycle((a, b))
    for _ in range(5):  # five wrong passwords, alternating between the workers
        client = clients[next(workers)]
        wrong = client.post("/login", data={"identifier": "hr@example.com", "password": "not the password", "next": "/"},
                            headers={"x-csrftoken": client.cookies["sc_csrf"]})
        assert wrong.status_code == 422
    for client in clients.values():  # the right password is refused now, on either worker
        right = client.post("/login", data={"identifier": "hr@example.com", "password": PASSWORD, "next": "/"},
                            headers={"x-csrftoken": client.cookies["sc_csrf"]})
        assert right.status_code == 429


def test_concurrent_uses_split_across_workers_overspend_no_budget(two_workers):
    url, token, a, b = two_workers
    email, scope, amount, _ = near_the_end_of_a_budget(url, uses_left=5)
    run = uuid.uuid4().hex[:6]
    clients = [httpx.Client(base_url=s.base, headers={"Authorization": f"Bearer {token}"}, timeout=60) for s in (a, b)]

    def use(i: int) -> int:
        return clients[i % 2].post("/api/v1/authority/uses", json={
            "employee": email, "scope": scope, "amount": amount, "case_ref": f"split-{run}-{i}"}).status_code

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(use, range(16)))
    assert answers.count(201) == 5 and answers.count(422) == 11, answers
    budgets_hold(url)


def test_a_report_archived_through_one_worker_downloads_through_the_other(two_workers):
    _, _, a, b = two_workers
    on_a = sign_in(a.base, "ceo@example.com")
    month = last_complete_month()
    made = on_a.post("/reports/generate", data={"month": month_key(month), "lang": "en"},
                     headers={"x-csrftoken": on_a.cookies["sc_csrf"]}, timeout=300)
    assert made.status_code == 303, made.text
    worker = Worker(two_workers[0]).start()  # the report is made on the job queue
    try:
        wait_for_reports(two_workers[0])
    finally:
        worker.stop()
    [(report_id,)] = sql(two_workers[0], f"SELECT id FROM report_archive WHERE month = '{month}' AND lang = 'en'")
    on_b = moved_to(on_a, b)
    pdf = on_b.get(f"/reports/{report_id}/download")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    import hashlib

    assert hashlib.sha256(pdf.content).hexdigest() == pdf.headers["x-content-sha256"]
