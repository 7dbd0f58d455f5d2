"""Only the JSON API under /api/ is exempt from CSRF: a form route whose path merely contains
"/api/" (revoking a token named "api") still needs the token, or another site could post it."""

from __future__ import annotations

from servicechain.platform.accounts import service as accounts
from servicechain.platform.tables import ApiToken
from tests.conftest import ensure_csrf, post_form


async def test_revoking_a_token_named_api_needs_the_csrf_token(client, cast, as_user):
    if not await ApiToken.exists().where(ApiToken.name == "api").run():
        await accounts.create_token(cast.actor("admin"), "api", "people:read")
    await ApiToken.update({ApiToken.revoked_at: None}).where(ApiToken.name == "api").run()
    await as_user("admin")
    await ensure_csrf(client)
    response = await client.post("/admin/tokens/api/revoke", data={})  # no x-csrftoken header, no form field
    assert response.status_code == 403
    row = await ApiToken.select().where(ApiToken.name == "api").first().run()
    assert row["revoked_at"] is None
    response = await post_form(client, "/admin/tokens/api/revoke")
    assert response.status_code == 303
    row = await ApiToken.select().where(ApiToken.name == "api").first().run()
    assert row["revoked_at"] is not None
