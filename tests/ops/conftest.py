"""One small demo company for the whole ops suite (a demo load is the slowest step): the
backup round trip, the fault tests and the two-worker tests each change only what they set up
themselves, and compare against what they recorded."""

from __future__ import annotations

import pytest

from tests.ops.helpers import cli, drop_database, new_database


@pytest.fixture(scope="session")
def company():
    """(database URL, an integration token that may push scores and read and record uses)."""
    url = new_database("company")
    cli(url, "migrate")
    cli(url, "demo", "--employees", "50", "--months", "3")
    token = cli(url, "token", "create", "ops", "--scopes", "scores:write,authority:read,authority:use").stdout.strip()
    yield url, token
    drop_database(url)
