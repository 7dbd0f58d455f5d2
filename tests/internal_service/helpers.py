"""Building internal-service data for tests: departments, people, services, rounds, ratings."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from servicechain.internal_service import summary
from servicechain.internal_service.tables import InternalService, Rating, RatingRound
from servicechain.platform import db
from servicechain.platform.people.service import today
from servicechain.platform.security import utcnow
from tests.helpers import actor, department, people  # noqa: F401  (the internal service tests import them from here)


async def service(provider: int, name: str = "Laptop setup", for_all: bool = True) -> int:
    now = utcnow()
    async with db.write():
        row = InternalService(provider=provider, name_en=name, name_ru=name + " (ru)", for_all=for_all,
                              created_at=now, updated_at=now)
        await row.save().run()
    return row.id


async def open_round() -> int:
    """The open round (rounds may not overlap, and other tests may have opened one)."""
    on = today()
    found = await RatingRound.select().where((RatingRound.opens_on <= on) & (RatingRound.closes_on >= on)
                                             & RatingRound.closed_at.is_null()).first().run()
    if found:
        return found["id"]
    async with db.write():
        row = RatingRound(title="Test round", opens_on=on - timedelta(days=3), closes_on=on + timedelta(days=30),
                          min_group_size=5, created_at=utcnow())
        await row.save().run()
    return row.id


async def closed_round() -> int:
    on = today()
    async with db.write():
        row = RatingRound(title="Long ago", opens_on=date(2001, 1, 1), closes_on=date(2001, 2, 1), min_group_size=5,
                          created_at=utcnow())
        await row.save().run()
    return row.id


async def ratings(service_id: int, rows: list[tuple[int, int, int]], *, on: date | None = None,
                  round_id: int | None = None) -> None:
    """Direct ratings (rater, rater department, overall) of one service, each with its own request."""
    svc = await InternalService.select().where(InternalService.id == service_id).first().run()
    async with db.write():
        for rater, rater_department, overall in rows:
            await Rating(service=service_id, rater=rater, rater_department=rater_department,
                         provider_department=svc["provider"], request_ref=f"R-{uuid.uuid4().hex[:10]}", overall=overall,
                         round=round_id,
                         speed=overall, quality=overall, courtesy=overall, willingness=overall, comment="",
                         rated_on=on or today(), created_at=utcnow()).save().run()
            await summary.add_rating(rater=rater, rater_department=rater_department, provider_department=svc["provider"],
                                     service=service_id, round_id=round_id, rated_on=on or today(),
                                     scores={name: overall for name in summary.SUMS})


def scores(overall: int = 4, **extra) -> dict[str, str]:
    data = {name: str(overall) for name in ("overall", "speed", "quality", "courtesy", "willingness")}
    data.update({k: str(v) for k, v in extra.items()})
    return data


async def authorization_fixtures(cast) -> dict[str, int]:
    """For the authorization matrix: a warehouse service, and an open follow-up of a support
    service (the manager heads support, the CEO the company above it)."""
    from servicechain.internal_service.tables import FollowUp

    warehouse_service = await service(cast.departments["warehouse"], "Matrix: picking")
    support_service = await service(cast.departments["support"], "Matrix: answering")
    svc = await InternalService.select().where(InternalService.id == support_service).first().run()
    async with db.write():
        rating = Rating(service=support_service, rater=cast.ids["outsider"], rater_department=cast.departments["warehouse"],
                        provider_department=svc["provider"], request_ref=f"MX-{uuid.uuid4().hex[:8]}", overall=1, speed=1,
                        quality=1, courtesy=1, willingness=1, comment="", rated_on=today(), created_at=utcnow())
        await rating.save().run()
        await summary.add_rating(rater=cast.ids["outsider"], rater_department=cast.departments["warehouse"],
                                 provider_department=svc["provider"], service=support_service, round_id=None,
                                 rated_on=today(), scores={name: 1 for name in summary.SUMS})
        follow_up = FollowUp(rating=rating.id, provider_department=svc["provider"], status="open", created_at=utcnow())
        await follow_up.save().run()
    return {"is_service": warehouse_service, "is_follow_up": follow_up.id, "is_closed_round": await closed_round()}


async def decoy(cast) -> None:
    """Five people of a department of their own rating a provider of its own once each: the
    fewest ratings that can be shown, so where other tests' small figures under the company
    need a complement, it is this one and not the figures a test looks at."""
    raters = await department("Decoy raters", cast.departments["company"])
    provider = await department("Decoy provider", cast.departments["company"])
    svc = await service(provider, "Decoy")
    await ratings(svc, [(person, raters, 3) for person in await people(raters, 5)])
