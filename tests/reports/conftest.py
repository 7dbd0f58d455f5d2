"""The report tests share one seeded month and its snapshot, and the two reports made from it
(generating a PDF takes seconds: each is made once for the package)."""

from __future__ import annotations

import pytest

from tests.reports.helpers import seed_month


@pytest.fixture(scope="package")
async def seeded(cast) -> dict:
    from servicechain.platform.analytics import snapshot
    from servicechain.platform.reports import monthly

    data = await seed_month(cast)
    snap = await snapshot.refresh(data["month"])
    reports = {lang: await monthly.generate(data["month"], lang, cast.actor("ceo"), snap=snap) for lang in ("en", "ru")}
    return {**data, "snapshot": snap, "reports": reports}
