"""The default pulse template ships with the product: two statements per trait (loves the
company, loves people, understands the goals and holds the authority to act, feels fairly
rewarded), in English and Russian. Written as data here, not read from the code, so later
changes to the code's copy never rewrite what a database already holds; skipped when a default
template exists."""

from datetime import UTC, datetime

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T22:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "the default pulse template"

NAME = ("Engagement pulse", "Пульс вовлечённости")
ITEMS = (
    ("company", "I am proud to tell people where I work.", "Я с гордостью говорю, где работаю."),
    ("company", "I believe in what our company offers its customers.", "Я верю в то, что наша компания предлагает клиентам."),
    ("people", "I enjoy making our customers' day better.", "Мне нравится делать день наших клиентов лучше."),
    ("people", "My colleagues help me when I need it.", "Коллеги помогают мне, когда это нужно."),
    ("goals", "I know what my goals are and how they serve the company's.", "Я знаю свои цели и как они связаны с целями компании."),
    ("goals", "I have enough authority to put things right for a customer.", "У меня достаточно полномочий, чтобы исправить ситуацию для клиента."),
    ("reward", "My contribution is recognised.", "Мой вклад замечают и ценят."),
    ("reward", "My pay and rewards are fair for what I do.", "Моя оплата и вознаграждения справедливы для того, что я делаю."),
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="surveys", description=DESCRIPTION)

    async def add_default():
        from servicechain.platform.surveys.tables import Pulse  # any table: only its raw() is used

        found = await Pulse.raw("SELECT id FROM survey_template WHERE is_default = {}", True).run()
        if found:
            return
        rows = await Pulse.raw(
            "INSERT INTO survey_template (name_en, name_ru, is_default, based_on, active, created_by, created_at)"
            " VALUES ({}, {}, {}, NULL, {}, NULL, {}) RETURNING id", NAME[0], NAME[1], True, True, datetime.now(UTC)).run()
        template_id = rows[0]["id"]
        for position, (trait, en, ru) in enumerate(ITEMS, start=1):
            await Pulse.raw("INSERT INTO survey_item (template, position, trait, text_en, text_ru) VALUES ({}, {}, {}, {}, {})",
                            template_id, position, trait, en, ru).run()

    async def remove_default():
        from servicechain.platform.surveys.tables import Pulse

        await Pulse.raw("DELETE FROM survey_item WHERE template IN (SELECT id FROM survey_template WHERE is_default = {}"
                        " AND id NOT IN (SELECT template FROM pulse WHERE template IS NOT NULL))", True).run()
        await Pulse.raw("DELETE FROM survey_template WHERE is_default = {}"
                        " AND id NOT IN (SELECT template FROM pulse WHERE template IS NOT NULL)", True).run()

    manager.add_raw(add_default)
    manager.add_raw_backwards(remove_default)
    return manager
