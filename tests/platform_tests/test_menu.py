"""The site header: the everyday places in view, the rest under "More", by role."""

from __future__ import annotations

import re

from servicechain.platform import i18n
from servicechain.platform.web import main_menu
from tests.helpers import actor


def hrefs(group: list[tuple[str, str, bool]]) -> list[str]:
    return [href for href, _, _ in group]


def test_an_employee_sees_the_everyday_places_and_no_administration():
    menu = main_menu(actor(1, "employee"), "/")
    assert hrefs(menu["main"])[:3] == ["/", "/people/", "/goals/"]
    assert "/departments/" in hrefs(menu["more"])
    assert menu["admin"] == []
    assert [current for _, _, current in menu["main"]] == [href == "/" for href in hrefs(menu["main"])]
    assert not menu["more_current"]


def test_an_administrator_finds_administration_under_more():
    menu = main_menu(actor(1, "admin"), "/admin/tokens/")
    assert hrefs(menu["admin"]) == ["/people/import/", "/audit/", "/admin/tokens/"]
    assert [href for href, _, current in menu["admin"] if current] == ["/admin/tokens/"]
    assert menu["more_current"]  # the summary shows where the reader is


def test_the_import_page_is_not_also_the_directory():
    menu = main_menu(actor(1, "admin"), "/people/import/")
    assert not any(current for _, _, current in menu["main"])
    assert [href for href, _, current in menu["admin"] if current] == ["/people/import/"]


def test_rewards_belong_to_recognition():
    menu = main_menu(actor(1, "employee"), "/rewards/")
    assert [href for href, _, current in menu["main"] if current] == ["/recognition/"]


def test_labels_are_in_the_readers_language():
    with i18n.use_language("ru"):
        labels = [label for _, label, _ in main_menu(actor(1, "admin"), "/")["main"]]
    assert labels[:2] == ["Главная", "Сотрудники"]


def test_nobody_signed_in_gets_no_links():
    from servicechain.platform.security import NOBODY

    assert main_menu(NOBODY, "/login") == {"main": [], "more": [], "admin": [], "more_current": False}


async def test_the_header_puts_administration_in_the_more_menu(as_user):
    client = await as_user("admin")
    html = (await client.get("/audit/")).text
    header = html[html.index("<header"):html.index("</header>")]
    assert '<details class="dropdown nav-more">' in header
    assert '<summary class="current">' in header
    assert re.search(r'<a href="/audit/" aria-current="page">Audit log</a>', header)
    assert "Administration" in header


async def test_an_employees_header_has_no_administration(as_user):
    client = await as_user("employee")
    html = (await client.get("/")).text
    header = html[html.index("<header"):html.index("</header>")]
    assert '<a href="/" aria-current="page">Home</a>' in header
    assert "/audit/" not in header and "Administration" not in header
