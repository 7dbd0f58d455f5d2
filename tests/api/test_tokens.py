"""API tokens: stored hashed and shown once, created and revoked by admins (web and CLI), audited."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import uuid

import pytest

from servicechain.platform.accounts.service import actor_for_token, create_token, revoke_token
from servicechain.platform.security import SYSTEM
from servicechain.platform.tables import ApiToken, AuditEntry
from servicechain.platform.web import DomainError, FormInvalid
from tests.api.helpers import on_app_loop
from tests.conftest import ROOT, post_form, sign_in, text_of

from servicechain.platform.security import SCOPES

KNOWN = ", ".join(SCOPES)  # every scope the installation knows, as the message lists them


def unique(prefix: str = "tok") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def audit_of(name: str) -> list[dict]:
    return await AuditEntry.select(AuditEntry.action, AuditEntry.actor_label, AuditEntry.payload).where(
        (AuditEntry.object_type == "token") & (AuditEntry.object_id == name)
    ).order_by(AuditEntry.seq).run()


# --- service (no HTTP) ------------------------------------------------------------------------------


async def test_token_is_stored_as_its_sha256_only(database, cast):
    name = unique()
    raw = await create_token(cast.actor("admin"), name, "people:read")
    row = await ApiToken.select().where(ApiToken.name == name).first().run()
    assert row["token_hash"] == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in {str(v) for v in row.values()}
    assert row["prefix"] == raw[:8] and len(raw) > 40
    assert row["scopes"] == "people:read" and row["created_by"] == cast.ids["admin"]
    actor = await actor_for_token(raw)
    assert actor.kind == "token" and actor.scopes == {"people:read"} and actor.name == name


@pytest.mark.parametrize(
    "name, scopes, field, message",
    [
        ("", "people:read", "name", "Give the token a name of 1 to 100 characters."),
        ("   ", "people:read", "name", "Give the token a name of 1 to 100 characters."),
        ("x" * 101, "people:read", "name", "Give the token a name of 1 to 100 characters."),
        ("ok-name", "", "scopes", "Choose at least one scope."),
        ("ok-name", " , ", "scopes", "Choose at least one scope."),
        ("ok-name", "people:write", "scopes", f"Unknown scope: people:write. Known: {KNOWN}."),
    ],
)
async def test_bad_token_requests_are_refused_and_change_nothing(database, cast, name, scopes, field, message):
    before = await ApiToken.count().run()
    with pytest.raises(FormInvalid) as caught:
        await create_token(cast.actor("admin"), name, scopes)
    assert caught.value.errors[field] == [message]
    assert await ApiToken.count().run() == before


async def test_duplicate_name_is_refused(database, cast):
    name = unique()
    await create_token(cast.actor("admin"), name, ["people:read"])
    with pytest.raises(FormInvalid) as caught:
        await create_token(cast.actor("admin"), name, ["people:read"])
    assert caught.value.errors == {"name": ["A token with this name exists already."]}
    assert await ApiToken.count().where(ApiToken.name == name).run() == 1


async def test_create_and_revoke_are_audited_and_revoked_tokens_stop_working(database, cast):
    name = unique()
    raw = await create_token(cast.actor("admin"), name, "people:read")
    await revoke_token(cast.actor("admin"), name)
    assert (await actor_for_token(raw)).kind == "nobody"
    entries = await audit_of(name)
    assert [e["action"] for e in entries] == ["token.create", "token.revoke"]
    assert all(e["actor_label"].startswith("Админ Админов") for e in entries)
    assert raw not in str(entries)  # the secret never reaches the log
    with pytest.raises(DomainError) as caught:
        await revoke_token(cast.actor("admin"), name)
    assert caught.value.status_code == 404
    assert len(await audit_of(name)) == 2


# --- web ------------------------------------------------------------------------------------------


async def test_admin_creates_a_token_and_sees_it_once(client, cast):
    await sign_in(client, "admin@test.local")
    name = unique("web")
    response = await post_form(client, "/admin/tokens/", {"name": name, "scopes": "people:read"})
    assert response.status_code == 200
    row = await on_app_loop(client, ApiToken.select().where(ApiToken.name == name).first().run)
    shown = re.findall(r'<code class="token">([^<]+)</code>', response.text)
    assert len(shown) == 1 and hashlib.sha256(shown[0].encode()).hexdigest() == row["token_hash"]
    assert "Copy the token now: it is shown only once." in text_of(response.text)
    listing = await client.get("/admin/tokens/")
    assert name in listing.text and shown[0] not in listing.text
    assert (await client.get("/api/v1/people?limit=1", headers={"Authorization": f"Bearer {shown[0]}"})).status_code == 200
    assert [e["action"] for e in await on_app_loop(client, audit_of, name)] == ["token.create"]


@pytest.mark.parametrize(
    "data, message",
    [
        ({"name": "", "scopes": "people:read"}, "Give the token a name of 1 to 100 characters."),
        ({"name": "no-scope"}, "Choose at least one scope."),
        ({"name": "bad-scope", "scopes": "everything"}, f"Unknown scope: everything. Known: {KNOWN}."),
    ],
)
async def test_token_form_errors_re_render_with_the_values(client, cast, data, message):
    await sign_in(client, "admin@test.local")
    before = await on_app_loop(client, ApiToken.count().run)
    response = await post_form(client, "/admin/tokens/", data)
    assert response.status_code == 422
    assert message in text_of(response.text)
    if data["name"]:
        assert f'value="{data["name"]}"' in response.text
    assert 'class="token"' not in response.text
    assert await on_app_loop(client, ApiToken.count().run) == before


async def test_duplicate_name_in_the_form_is_an_error(client, cast):
    name = unique("dup")
    await on_app_loop(client, create_token, cast.actor("admin"), name, "people:read")
    await sign_in(client, "admin@test.local")
    response = await post_form(client, "/admin/tokens/", {"name": name, "scopes": "people:read"})
    assert response.status_code == 422
    assert "A token with this name exists already." in text_of(response.text)


async def test_admin_revokes_a_token_in_the_web(client, cast):
    name = unique("web")
    raw = await on_app_loop(client, create_token, cast.actor("admin"), name, "people:read")
    await sign_in(client, "admin@test.local")
    response = await post_form(client, f"/admin/tokens/{name}/revoke")
    assert response.status_code == 303 and response.headers["location"] == "/admin/tokens/"
    assert (await client.get("/api/v1/people", headers={"Authorization": f"Bearer {raw}"})).status_code == 401
    assert [e["action"] for e in await on_app_loop(client, audit_of, name)] == ["token.create", "token.revoke"]


@pytest.mark.parametrize("who", ["hr", "ceo", "manager", "employee"])
async def test_only_admins_manage_tokens(client, cast, who):
    name = unique("victim")
    raw = await on_app_loop(client, create_token, cast.actor("admin"), name, "people:read")
    await sign_in(client, f"{who}@test.local")
    assert (await client.get("/admin/tokens/")).status_code == 403
    assert (await post_form(client, "/admin/tokens/", {"name": unique(), "scopes": "people:read"})).status_code == 403
    assert (await post_form(client, f"/admin/tokens/{name}/revoke")).status_code == 403
    assert (await on_app_loop(client, actor_for_token, raw)).kind == "token"  # still works


# --- CLI --------------------------------------------------------------------------------------------


def servicechain(*args: str) -> subprocess.CompletedProcess:
    """The real command, against this test run's database (conftest put it in os.environ)."""
    return subprocess.run([sys.executable, "-m", "servicechain.platform.cli", *args], cwd=ROOT, env=dict(os.environ),
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


async def test_cli_prints_the_token_alone_on_stdout(database, cast):
    name = unique("cli")
    result = servicechain("token", "create", name, "--scopes", "people:read")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1
    raw = result.stdout.strip()
    assert raw.startswith("sc_") and " " not in raw
    actor = await actor_for_token(raw)
    assert actor.kind == "token" and actor.name == name
    entries = await audit_of(name)
    assert [(e["action"], e["actor_label"]) for e in entries] == [("token.create", SYSTEM.label)]


@pytest.mark.parametrize("scopes, fragment", [("people:read,hr:everything", "Unknown scope: hr:everything"),
                                              (",", "Choose at least one scope.")])
async def test_cli_refuses_a_bad_scope_with_one_line_and_exit_2(database, cast, scopes, fragment):
    name = unique("cli")
    result = servicechain("token", "create", name, "--scopes", scopes)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and fragment in result.stderr
    assert await ApiToken.count().where(ApiToken.name == name).run() == 0


async def test_cli_revokes_by_name_and_refuses_an_unknown_name(database, cast):
    name = unique("cli")
    raw = await create_token(cast.actor("admin"), name, "people:read")
    result = servicechain("token", "revoke", name)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert (await actor_for_token(raw)).kind == "nobody"
    result = servicechain("token", "revoke", name)  # already revoked
    assert result.returncode == 1
    assert result.stderr.strip() == f"servicechain: No active token is named {name}."
    result = servicechain("token", "revoke", "no-such-token")
    assert result.returncode == 1 and result.stderr.count("\n") == 1


async def test_a_token_name_that_would_break_its_revoke_link_is_refused(cast):
    from servicechain.platform.tables import ApiToken
    from servicechain.platform.web import FormInvalid

    with pytest.raises(FormInvalid) as caught:
        await create_token(cast.actor("admin"), "crm/sync", "people:read")
    assert caught.value.errors == {"name": ["Use letters, digits, spaces, dots, dashes or underscores in the name."]}
    assert not await ApiToken.exists().where(ApiToken.name == "crm/sync").run()
