"""How many queries giving thanks and its pages send, and how many of them hold the writer.

Under the morning rush every query inside a write transaction waits for a trip through the busy
event loop while SQLite's one writer is held, and every thanks queues behind it: the checks that
need no lock are read before the transaction, and the transaction only writes (the daily limit
is counted by the insert itself, on PostgreSQL after taking the sender's lock). The audit entry's
own queries belong to platform.audit.
"""

from __future__ import annotations

from servicechain.platform import audit, db
from servicechain.recognition import service
from servicechain.recognition.tables import Recognition
from tests.api.helpers import on_app_loop
from tests.cast import EMAILS
from tests.conftest import post_form
from tests.recognition.querylog import QueryLog, count_queries

AUDIT = ("audit_entry", "system_flag", f"pg_advisory_xact_lock({audit.PG_CHAIN_LOCK})")


def writes_of_thanks(log: QueryLog) -> list[str]:
    """The thanks' own statements inside the write transaction, audit left out."""
    return [sql.split(" (")[0] for sql, where in log.queries if where == "write" and not any(t in sql for t in AUDIT)]


def touching(log: QueryLog, *tables: str) -> int:
    return sum(1 for sql, _where in log.queries if any(f" {t} " in f" {sql} " for t in tables))


async def test_thanks_hold_the_writer_only_for_their_inserts(client, cast, values, as_user):
    await as_user("employee")
    message = "Queries: thanks for covering the late shift."
    with count_queries() as log:
        response = await post_form(client, "/recognition/new", {"to": [EMAILS["manager"], EMAILS["hr"]],
                                                               "values": ["customer", "beyond"], "message": message}, htmx=True)
    assert response.status_code == 200, response.text
    # PostgreSQL: the sender's lock first, so that thanks sent at once count one another.
    lock = [] if db.is_sqlite() else [f"SELECT pg_advisory_xact_lock({service.SENDER_LOCK}, {cast.ids['employee']})"]
    assert writes_of_thanks(log) == [*lock, "INSERT INTO recognition", "INSERT INTO recognition_recipient",
                                     "INSERT INTO recognition_value", 'INSERT INTO "notification"',
                                     'INSERT INTO "notification"'], str(log)
    saved = await on_app_loop(client, Recognition.select().where(Recognition.message == message).run)
    assert len(saved) == 1
    # The new card comes from what was written: nothing of the recognition is read back.
    read_back = [sql for sql, where in log.queries if where != "write"
                 and any(f" {t} " in f" {sql} " for t in ("recognition", "recognition_recipient", "recognition_value"))]
    assert read_back == [] and message in response.text, str(log)
    assert touching(log, "company_value") == 1, str(log)  # checked and shown again from one read


async def test_refused_thanks_never_take_the_writer(client, values, as_user):
    await as_user("employee")
    with count_queries() as log:
        response = await post_form(client, "/recognition/new", {"to": [EMAILS["employee"], "nobody@nowhere.test"],
                                                               "values": ["customer"], "message": "To myself"}, htmx=True)
    assert response.status_code == 422
    assert log.in_write == 0, str(log)


async def test_the_feed_form_and_picker_read_a_handful_of_queries(client, values, as_user):
    await as_user("employee")
    await post_form(client, "/recognition/new", {"to": EMAILS["manager"], "values": "customer",
                                                 "message": "Queries: one for the feed."}, htmx=True)
    tables = ("recognition", "recognition_recipient", "recognition_value", "recognition_reaction", "company_value")
    with count_queries() as log:
        assert (await client.get("/recognition/")).status_code == 200
    # The page's recognitions with their senders, their details, the values for the filter.
    assert touching(log, *tables) <= 3 and log.in_write == 0, str(log)
    with count_queries() as log:
        assert (await client.get("/recognition/new")).status_code == 200
    assert touching(log, *tables) <= 1 and log.in_write == 0, str(log)  # the values to choose from
    with count_queries() as log:
        picked = await client.get("/recognition/picker", params={"find": "Руко"}, headers={"HX-Request": "true"})
    assert picked.status_code == 200 and "Руководова" in picked.text
    searches = sum(1 for sql, _where in log.queries if "search_name" in sql)
    assert searches == 1 and touching(log, *tables) == 0 and log.in_write == 0, str(log)

