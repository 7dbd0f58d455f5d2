"""An invitation link sets the person's password: when it is mailed, HR's page must not show it,
or HR could open it and take the account (of an executive, say) before its owner does."""

from __future__ import annotations

from tests.accounts.helpers import new_person
from tests.conftest import post_form, text_of


async def test_mailed_invitation_link_is_not_shown_to_hr(client, cast, as_user):
    person = await new_person(cast, password=None)
    await as_user("hr")
    response = await post_form(client, f"/people/{person['id']}/invite")
    assert response.status_code == 200
    assert f"We have sent the invitation to {person['email']}." in text_of(response.text)
    assert "/invite/" not in response.text


async def test_printed_invitation_still_shows_the_link(client, cast, as_user):
    person = await new_person(cast, email=None, password=None)
    await as_user("hr")
    response = await post_form(client, f"/people/{person['id']}/invite")
    assert response.status_code == 200
    assert "/invite/" in response.text
