"""Production must never run with the demo's well-known accounts and password."""

from servicechain.platform.config import get_settings

DEMO_FLAG = "demo"
DEMO_ACCOUNTS = (
    "admin@example.com",
    "hr@example.com",
    "ceo@example.com",
    "manager@example.com",
    "employee@example.com",
)


class DemoInProduction(RuntimeError):
    pass


async def refuse_demo_in_production() -> None:
    from servicechain.platform.people.tables import Person
    from servicechain.platform.tables import SystemFlag

    if not get_settings().is_production:
        return
    if await SystemFlag.exists().where(SystemFlag.key == DEMO_FLAG).run() or await Person.exists().where(
        Person.email.is_in(list(DEMO_ACCOUNTS))
    ).run():
        from servicechain.platform.cli import fail

        fail("this database holds the demo company or its accounts; production refuses to start with them", 1)
