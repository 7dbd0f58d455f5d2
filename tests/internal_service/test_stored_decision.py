"""The worker decides a period's figures after every change of the summary and stores them; pages
read the newest stored figures and say how many newer ratings are still being counted. Committed
data on a private copy of the test database: the job and the pages use their own connections."""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta

import pytest

from servicechain.internal_service import disclosure, service
from servicechain.internal_service import jobs  # noqa: F401  (registers the job)
from servicechain.platform import db, outbox
from tests.conftest import copied_database
from tests.internal_service import helpers as h


@pytest.fixture(scope="module")
async def private_db(cast):
    async with copied_database("figures"):
        yield


async def run_figures_job() -> None:
    """The job as the worker runs it (through its registration)."""
    await outbox.JOB_HANDLERS[service.FIGURES_JOB]({})


async def stored_rows() -> list[dict]:
    return await db.fetch("SELECT digest, period, version, counted, checksum FROM internal_service_figures"
                          " WHERE period = {} ORDER BY as_of", service.months_back(service.today(), 1)[0])


async def pending_jobs() -> int:
    rows = await db.fetch("SELECT COUNT(*) AS n FROM job WHERE kind = {} AND finished_at IS NULL", service.FIGURES_JOB)
    return rows[0]["n"]


@pytest.fixture
async def company(private_db, cast):
    provider = await h.department("Stored provider", cast.departments["company"])
    raters = await h.department("Stored raters", cast.departments["company"])
    svc = await h.service(provider, "Stored help")
    await h.ratings(svc, [(person, raters, 4) for person in await h.people(raters, 6)])
    await run_figures_job()
    return provider, raters, svc


async def test_a_rating_schedules_the_job_and_pages_show_the_decided_figures_with_a_note_until_it_ran(cast, company):
    provider, raters, svc = company
    hr = cast.actor("hr")
    card = await service.scorecard(hr, provider)
    assert card["period"]["count"] == 6 and card["lag"] is None

    await h.ratings(svc, [(person, raters, 2) for person in await h.people(raters, 2)])
    assert await pending_jobs() >= 1, "the rating's transaction scheduled the decision"
    card = await service.scorecard(hr, provider)
    assert card["period"]["count"] == 6, "the figures of the last decision, not the live summary"
    assert card["lag"]["newer"] == 2 and card["lag"]["as_of"] is not None
    top = await service.matrix(hr)
    assert top["lag"]["newer"] == 2

    await run_figures_job()
    card = await service.scorecard(hr, provider)
    assert card["period"]["count"] == 8 and card["lag"] is None
    assert (await service.matrix(hr))["lag"] is None
    again = len(await stored_rows())
    await run_figures_job()
    assert len(await stored_rows()) == again, "a job for a version already decided stores nothing"


async def test_the_note_reads_in_english_and_russian(cast, company):
    from servicechain.platform.i18n import use_language
    from servicechain.platform.web import ENVIRONMENT

    provider, raters, svc = company
    await h.ratings(svc, [(person, raters, 3) for person in await h.people(raters, 3)])
    card = await service.scorecard(cast.actor("hr"), provider)
    source = "{% set lag = card.lag %}{% include 'internal_service/_lag.html' %}"
    for language, words in (("en", "3 newer ratings are being counted"), ("ru", "ещё учитываются 3 новые оценки")):
        with use_language(language):
            html = ENVIRONMENT.from_string(source).render(card=card)
        assert words in html, html
    await run_figures_job()


async def test_the_same_inputs_are_stored_once_and_concurrent_jobs_are_harmless(cast, company):
    provider, raters, svc = company
    await h.ratings(svc, [(person, raters, 5) for person in await h.people(raters, 2)])
    service._figures.clear()
    await asyncio.gather(run_figures_job(), run_figures_job(), run_figures_job())
    rows = await stored_rows()
    assert len({r["digest"] for r in rows}) == len(rows)
    card = await service.scorecard(cast.actor("hr"), provider)
    assert card["lag"] is None and card["period"]["count"] == 8
    newest = rows[-1]
    with pytest.raises(Exception):
        async with db.write():
            await db.fetch("INSERT INTO internal_service_figures (digest, period, k, version, tree, rounds, since, counted,"
                           " as_of, made_at, checksum, payload) SELECT digest, period, k, version, tree, rounds, since,"
                           " counted, as_of, made_at, checksum, payload FROM internal_service_figures WHERE digest = {}",
                           newest["digest"])


async def test_figures_this_process_knows_are_stored_again_when_their_row_is_gone(cast, company):
    # Pruned as older figures of the period (or, in tests, another copy of the database) while this
    # process still holds them decoded: the job must store them again, not only "learn" a newer
    # version on a row that is not there (the period then stayed behind for good and the analytics
    # panel's refresh waited for a job that never caught it up).
    provider, _raters, _svc = company
    digest = (await stored_rows())[-1]["digest"]
    assert digest in service._figures, "decided in this process"
    async with db.write():
        await db.fetch("DELETE FROM internal_service_figures WHERE period = {}", service.months_back(service.today(), 1)[0])
    await run_figures_job()
    assert [r["digest"] for r in await stored_rows()] == [digest]
    await service.refresh_figures(patience=timedelta(seconds=5))
    assert (await service.scorecard(cast.actor("hr"), provider))["lag"] is None


async def test_damaged_figures_are_refused_and_decided_again(cast, company):
    provider, _raters, _svc = company
    hr = cast.actor("hr")
    good = await service.scorecard(hr, provider)
    digest = (await stored_rows())[-1]["digest"]
    blob = bytearray(base64.b64decode((await db.fetch("SELECT payload FROM internal_service_figures WHERE digest = {}",
                                                      digest))[0]["payload"]))
    blob[len(blob) // 2] ^= 0xFF
    async with db.write():
        await db.fetch("UPDATE internal_service_figures SET payload = {} WHERE digest = {}",
                       base64.b64encode(bytes(blob)).decode(), digest)
    service._figures.clear()  # a new process
    card = await service.scorecard(hr, provider)
    assert card["period"] == good["period"], "decided again from the summary, the same figures"
    rows = await db.fetch("SELECT checksum, payload FROM internal_service_figures WHERE digest = {}", digest)
    assert len(rows) == 1, "stored again"
    disclosure.Figures.from_bytes(base64.b64decode(rows[0]["payload"]), rows[0]["checksum"])  # and sound


def test_figures_read_back_from_their_bytes_are_the_decided_ones():
    atoms = [disclosure.Atom(r, p, s, m, n, c, (4 * c,) * 5, c, "," + ",".join(str(r * 100 + i) for i in range(c)) + ",")
             for r, p, s, m, n, c in ((2, 3, 1, "2026-10", 1, 6), (4, 3, 1, "2026-10", 1, 2), (2, 4, 2, "2026-11", 0, 7),
                                      (4, 4, 2, "2026-09", 1, 1), (3, 2, 3, "2026-11", 0, 5))]
    made = disclosure.Universe({1: None, 2: 1, 3: 1, 4: 1}, atoms, 5, window=["2026-09", "2026-10", "2026-11"],
                               trend=["2026-09", "2026-10", "2026-11"], rounds=[1], quarters={"2026-09": 0, "2026-10": 0,
                                                                                             "2026-11": 0})
    blob = made.to_bytes()
    back = disclosure.Figures.from_bytes(blob, disclosure.Figures.checksum(blob))
    assert back.hidden == made.hidden and back.figure_keys() == made.figure_keys() and made.hidden
    for rater in (("s", 1), ("s", 2), ("s", 4), ("a", 1)):
        for provider in (("s", 1), ("s", 3), ("s", 4)):
            assert back.cell(disclosure.MATRIX, rater, provider) == made.cell(disclosure.MATRIX, rater, provider)
            assert back.cell(disclosure.ROUND, rater, provider, round_id=1) == made.cell(disclosure.ROUND, rater, provider,
                                                                                         round_id=1)
        assert back.cell(disclosure.RECEIVED, rater, month="2026-10") == made.cell(disclosure.RECEIVED, rater, month="2026-10")
    assert back.services() == made.services()
    with pytest.raises(disclosure.Damaged):
        disclosure.Figures.from_bytes(blob, "0" * 64)
    with pytest.raises(disclosure.Damaged):
        disclosure.Figures.from_bytes(blob[: len(blob) // 2])


async def test_a_past_months_figures_are_decided_again_when_the_tree_changed_though_ratings_moved_the_version(cast, company):
    """A past month has no rating's job after it; when the tree changed and ratings elsewhere
    moved the summary's version meanwhile, reading the period must still schedule its job."""
    provider, raters, svc = company
    last_month = service.months_back(service.today(), 2)[0]
    until = service.first_of_month(last_month)
    k = await service.min_group()
    await service.decided(until, k, await service.Tree.load())  # nothing stored yet: decided and stored here
    await h.department("Stored newcomers", cast.departments["company"])  # a new tree
    await h.ratings(svc, [(person, raters, 5) for person in await h.people(raters, 1)])  # this month: a new version
    async with db.write():
        await db.fetch("DELETE FROM job WHERE kind = {}", service.FIGURES_JOB)
    await service.decided(until, k, await service.Tree.load())
    await asyncio.sleep(0.2)  # the job is scheduled outside the request's snapshot
    rows = await db.fetch("SELECT payload FROM job WHERE kind = {} AND finished_at IS NULL", service.FIGURES_JOB)
    assert any(until.isoformat() in str(r["payload"]) for r in rows), rows


# --- the job once per bucket, and readers that sum the summary themselves -------------------------


@pytest.fixture
def decisions(monkeypatch):
    """Every suppression decision made in this process (``Universe`` built), by its minimum."""
    made: list[int] = []
    real = service.Universe

    def counting(*args, **kwargs):
        made.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "Universe", counting)
    return made


async def forget_figure_jobs() -> None:
    async with db.write():
        await db.fetch("DELETE FROM job WHERE kind = {}", service.FIGURES_JOB)


async def current_period_behind() -> bool:
    k, tree = await service.min_group(), await service.Tree.load()
    period = await service.period_of(service.today())
    return service._behind(await service._newest(period, k), period, k, tree)


async def test_a_burst_of_ratings_schedules_one_job_that_runs_after_its_bucket_and_catches_the_figures_up(
        cast, company, monkeypatch):
    provider, raters, svc = company
    await forget_figure_jobs()
    at = outbox.now()
    monkeypatch.setattr(outbox, "now", lambda: at)
    for person in await h.people(raters, 5):  # five ratings, each its own transaction, in one bucket
        await h.ratings(svc, [(person, raters, 3)])
    assert await pending_jobs() == 1
    assert await outbox.run_jobs(kinds=(service.FIGURES_JOB,)) == 0, "not before its bucket ended"
    assert await current_period_behind()
    monkeypatch.setattr(outbox, "now", lambda: at + service.summary.FIGURES_BUCKET + service.summary.FIGURES_GRACE)
    assert await outbox.run_jobs(kinds=(service.FIGURES_JOB,)) == 1
    assert not await current_period_behind()
    card = await service.scorecard(cast.actor("hr"), provider)
    assert card["lag"] is None and card["period"]["count"] == 11


def test_a_bucket_job_runs_after_every_moment_of_its_bucket():
    from datetime import UTC, datetime, timedelta

    start = datetime(2026, 11, 24, 7, 0, 5, tzinfo=UTC)
    keys = {service.summary.figures_bucket(start + timedelta(milliseconds=ms)) for ms in (0, 1, 2500, 4999)}
    [(key, run_at)] = keys
    assert run_at > start + service.summary.FIGURES_BUCKET, "a change late in the bucket is read by its job"
    assert service.summary.figures_bucket(start + service.summary.FIGURES_BUCKET)[0] != key


async def test_housekeeping_forgets_the_finished_figures_jobs_after_an_hour(company):
    from servicechain.platform.tables import Job

    await forget_figure_jobs()
    now = outbox.now()
    async with db.write():
        for key, finished in (("old", now - jobs.KEEP_FINISHED - service.timedelta(minutes=1)), ("new", now), ("todo", None)):
            await Job.insert(Job(kind=service.FIGURES_JOB, payload="{}", run_at=now, unique_key=key, attempts=1,
                                 last_error="", finished_at=finished)).run()
    await outbox.housekeeping({})
    rows = await db.fetch("SELECT unique_key FROM job WHERE kind = {}", service.FIGURES_JOB)
    assert {r["unique_key"] for r in rows} == {"new", "todo"}


async def test_the_panels_refresh_never_decides_stored_figures_itself(cast, company, decisions, monkeypatch):
    """Stored figures behind the summary are the job's to decide: with no worker free to run
    it (another holds its claim), the caller waits and gives up; it decides nothing."""
    provider, raters, svc = company
    await h.ratings(svc, [(person, raters, 4) for person in await h.people(raters, 2)])
    await forget_figure_jobs()

    async def no_free_worker(**_kwargs) -> int:
        return 0

    monkeypatch.setattr(outbox, "run_jobs", no_free_worker)
    with pytest.raises(service.FiguresPending):
        await service.refresh_figures(patience=service.timedelta(seconds=0.5))
    assert decisions == []
    assert await current_period_behind()
    assert await pending_jobs() == 1, "the job it waited for is queued"


async def test_the_panels_refresh_catches_up_through_the_job_once_for_concurrent_callers(cast, company, decisions):
    provider, raters, svc = company
    await h.ratings(svc, [(person, raters, 4) for person in await h.people(raters, 2)])
    await forget_figure_jobs()
    await asyncio.gather(service.refresh_figures(), service.refresh_figures())
    assert len(decisions) == 1
    assert not await current_period_behind()
    finished = await db.fetch("SELECT COUNT(*) AS n FROM job WHERE kind = {} AND finished_at IS NOT NULL",
                              service.FIGURES_JOB)
    assert finished[0]["n"] == 1, "decided by the job, claimed once"


async def test_a_period_with_nothing_stored_is_decided_once_by_the_panel_and_a_page_together(cast, company, decisions):
    until = service.first_of_month(service.months_back(service.today(), 3)[0])
    k, tree = await service.min_group(), await service.Tree.load()
    period = await service.period_of(until)
    async with db.write():
        await db.fetch("DELETE FROM internal_service_figures WHERE period = {}", period.name)
    service._figures.clear()
    await asyncio.gather(service.refresh_figures(until), service.decided(until, k, tree))
    assert len(decisions) == 1
    assert await service._newest(period, k) is not None


async def test_figures_left_behind_by_a_lost_job_are_scheduled_again_when_read(cast, company):
    """A rating whose transaction committed after its bucket's job read the summary (possible on
    PostgreSQL) has no job after it: a page reading figures over a minute behind schedules one."""
    provider, raters, svc = company
    await h.ratings(svc, [(person, raters, 4) for person in await h.people(raters, 1)])
    await forget_figure_jobs()
    async with db.write():
        await db.fetch("UPDATE internal_service_figures SET as_of = {} WHERE period = {}",
                       outbox.now() - service.FIGURES_OVERDUE * 2, service.months_back(service.today(), 1)[0])
    service._nudged.clear()
    card = await service.scorecard(cast.actor("hr"), provider)
    assert card["lag"]["newer"] == 1
    await asyncio.sleep(0.2)  # scheduled outside the page's snapshot
    assert await pending_jobs() == 1
