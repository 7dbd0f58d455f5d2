"""The demo's company values, committed once for the recognition tests."""

from __future__ import annotations

import pytest

from servicechain.recognition.tables import CompanyValue

VALUES = (
    ("customer", "Love the customer", "Любить клиента"),
    ("colleagues", "Help colleagues", "Помогать коллегам"),
    ("ownership", "Own the problem", "Решать проблему до конца"),
    ("beyond", "Go beyond expectations", "Превосходить ожидания"),
)


async def ensure_values() -> dict[str, int]:
    from servicechain.platform import db

    async with db.write():
        for position, (code, en, ru) in enumerate(VALUES):
            if not await CompanyValue.exists().where(CompanyValue.code == code).run():
                await CompanyValue.insert(CompanyValue(code=code, name_en=en, name_ru=ru, position=position * 10)).run()
        rows = await CompanyValue.select(CompanyValue.id, CompanyValue.code).run()
    return {r["code"]: r["id"] for r in rows}


@pytest.fixture(scope="session")
async def values(cast) -> dict[str, int]:
    return await ensure_values()
