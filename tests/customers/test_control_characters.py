"""Control characters in form fields and JSON texts are refused the same way on both engines
(PostgreSQL refuses a NUL in any text; SQLite would keep it), in the reader's language, and
nothing is saved. The check lives in one place (platform/lib/checked_request.py); these tests go
through the customers pages and the APIs as a person and a system would."""

from __future__ import annotations

import pytest

from servicechain.platform.customers.tables import CustomerScore, ScoreFollowUp, ScoreUpload
from servicechain.platform.lib.text import control_character, control_character_message
from servicechain.platform.i18n import use_language
from tests.api.helpers import on_app_loop
from tests.api.test_api import assert_error_shape, bearer
from tests.cast import EMAILS
from tests.conftest import ensure_csrf, post_form
from tests.customers import helpers as h
from tests.customers.test_api import URL, count, score, token

NUL_MESSAGE = "The text contains an invisible NUL character, which cannot be saved. Remove it and try again."
NUL_MESSAGE_RU = "В тексте есть невидимый символ NUL, его нельзя сохранить. Удалите его и попробуйте ещё раз."


@pytest.mark.parametrize("text", ["tab\there", "lines\r\nand\nmore", "ёжик — «ok»", "\u2028", ""])
def test_typed_text_has_no_control_character(text):
    assert control_character({"note": text, "items": [text]}) is None


def test_the_first_control_character_is_named_with_where_it_is():
    assert control_character("a\x00b") == ("", "\x00")
    assert control_character({"to": ["ok", "bell\x07"]}) == ("to.1", "\x07")
    assert control_character([{"comment": "fine"}, {"comment": "esc\x1b[31m"}]) == ("1.comment", "\x1b")
    assert control_character({"key\x00": "value"}) == ("key\x00", "\x00")
    assert control_character({"n": 5, "flag": True, "none": None}) is None


def test_the_message_names_a_nul_or_the_characters_code_in_the_readers_language():
    assert control_character_message("\x00") == NUL_MESSAGE
    assert "(code 27)" in control_character_message("\x1b")
    with use_language("ru"):
        assert control_character_message("\x00") == NUL_MESSAGE_RU
        assert "(код 27)" in control_character_message("\x1b")


async def _follow_up(client) -> dict:
    source = f"ctl-{h.tag()}"
    await on_app_loop(client, h.save, [h.item("ctl", csat="1")], source)
    row = await on_app_loop(client, CustomerScore.select().where(CustomerScore.source == source).first().run)
    return await on_app_loop(client, ScoreFollowUp.select().where(ScoreFollowUp.score == row["id"]).first().run)


async def test_a_form_field_with_a_nul_is_refused_and_the_follow_up_stays_open(client, as_user):
    follow_up = await _follow_up(client)
    await as_user("manager")
    url = f"/customers/follow-ups/{follow_up['id']}/close"
    refused = await post_form(client, url, {"outcome": "called_back", "note": "Called\x00back"})
    assert refused.status_code == 422 and NUL_MESSAGE in refused.text
    fragment = await post_form(client, url, {"outcome": "called_back", "note": "bell\x07"}, htmx=True)
    assert fragment.status_code == 422 and "(code 7)" in fragment.text and "<html" not in fragment.text
    # As a browser posts it: the CSRF token in the body, so the CSRF check reads the form first.
    browser = await client.post(url, data={"_csrf_token": await ensure_csrf(client), "outcome": "called_back",
                                           "note": "Called\x00back"}, follow_redirects=False)
    assert browser.status_code == 422 and NUL_MESSAGE in browser.text
    row = await on_app_loop(client, ScoreFollowUp.select().where(ScoreFollowUp.id == follow_up["id"]).first().run)
    assert row["status"] == "open" and not row["note"]
    await post_form(client, "/language", {"language": "ru", "next": "/"})
    russian = await post_form(client, url, {"outcome": "called_back", "note": "Позвонил\x00"})
    assert russian.status_code == 422 and NUL_MESSAGE_RU in russian.text
    await post_form(client, "/language", {"language": "en", "next": "/"})
    closed = await post_form(client, url, {"outcome": "called_back", "note": "Called back\r\nand\tapologised"})
    assert closed.status_code == 303


async def test_a_multipart_text_field_is_checked_but_the_file_is_left_to_the_import(client, as_user):
    await as_user("hr")
    headers = {"x-csrftoken": await ensure_csrf(client)}
    before = await on_app_loop(client, ScoreUpload.count().run)
    data = h.csv_bytes([h.EN_HEADER, [f"m-{h.tag()}", h.recent().isoformat(), "chat", "support", "", "5", "", "", ""]])
    refused = await client.post("/customers/import/", files={"file": ("scores.csv", data, "text/csv")},
                                data={"source": "survey\x1b"}, headers=headers, follow_redirects=False)
    assert refused.status_code == 422 and "(code 27)" in refused.text
    repeated = await client.post("/customers/import/", files={"file": ("scores.csv", data, "text/csv")},
                                 data={"source": ["survey\x00", "survey"]}, headers=headers, follow_redirects=False)
    assert repeated.status_code == 422 and NUL_MESSAGE in repeated.text, "every value of a repeated field"
    assert await on_app_loop(client, ScoreUpload.count().run) == before
    nul_file = await client.post("/customers/import/", files={"file": ("scores.csv", b"ID\x00,Date\n", "text/csv")},
                                 data={"source": "survey"}, headers=headers, follow_redirects=False)
    assert nul_file.status_code == 422 and "Unknown encoding" in nul_file.text  # the import's own message


async def test_a_json_string_with_a_nul_is_refused_and_nothing_is_saved(client, cast):
    raw, source = await token(client, cast)
    batch = [score("n1"), score("n2", comment="Курьер\x00опоздал")]
    refused = await client.post(URL, json=batch, headers=bearer(raw))
    assert assert_error_shape(refused, 422)["detail"] == NUL_MESSAGE
    assert await count(client, source) == 0
    russian = await client.post(URL, json=batch, headers={**bearer(raw), "Accept-Language": "ru"})
    assert assert_error_shape(russian, 422)["detail"] == NUL_MESSAGE_RU


async def test_a_typed_json_body_is_checked_before_its_handler(client, cast):
    from tests.recognition.test_api import token as recognition_token

    raw = await recognition_token(client, cast)
    data = {"from": EMAILS["hr"], "to": [EMAILS["employee"]], "values": ["customer"], "message": "Thanks\x0b"}
    refused = assert_error_shape(await client.post("/api/v1/recognitions", json=data, headers=bearer(raw)), 422)
    assert "(code 11)" in refused["detail"]


async def test_a_backslash_and_letters_that_look_like_an_escape_are_text(client, cast):
    raw, source = await token(client, cast)
    batch = [score("t1", comment="Путь C:\\u0001\\beta, café")]
    saved = await client.post(URL, json=batch, headers=bearer(raw))
    assert saved.status_code == 200, saved.text
    assert await count(client, source) == 1
