"""Settings come from the environment once; every bad value stops start-up with a message
that names the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from servicechain.platform.config import ConfigError, load_settings
from tests.conftest import ROOT

SECRET = "s" * 40


def settings(**env):
    return load_settings({k: v for k, v in env.items() if v is not None})


def test_defaults_suit_a_developer(tmp_path):
    s = settings(SERVICECHAIN_DATA_DIR=str(tmp_path))
    assert s.env == "development"
    assert s.default_language == "ru"
    assert s.timezone == "Europe/Moscow" and str(s.tz) == "Europe/Moscow"
    assert s.min_group_size == 5
    assert s.smtp_url == ""
    assert s.trusted_proxies == ()
    assert not s.secure_cookies


def test_database_url_defaults_to_a_sqlite_file_under_the_data_dir(tmp_path):
    s = settings(SERVICECHAIN_DATA_DIR=str(tmp_path))
    assert s.database_url == f"sqlite:///{tmp_path.resolve() / 'servicechain.sqlite3'}"
    assert not s.uses_postgres
    assert s.sqlite_path.parent == tmp_path.resolve()


def test_postgresql_url_is_taken_as_given():
    s = settings(DATABASE_URL="postgresql://app:pw@db.internal:5432/servicechain")
    assert s.uses_postgres
    assert s.database_url == "postgresql://app:pw@db.internal:5432/servicechain"


def test_every_variable_is_read():
    s = settings(
        SERVICECHAIN_ENV="production", SERVICECHAIN_SECRET_KEY=SECRET, SERVICECHAIN_DATA_DIR="/srv/sc",
        SERVICECHAIN_SMTP_URL="smtp+starttls://mailer:pw@mail.example.com:587", SERVICECHAIN_DEFAULT_LANGUAGE="en",
        SERVICECHAIN_TIMEZONE="Asia/Yekaterinburg", SERVICECHAIN_MIN_GROUP_SIZE="7",
        SERVICECHAIN_TRUSTED_PROXIES="10.0.0.0/8, 127.0.0.1", DATABASE_URL="postgres://x@h/db",
    )
    assert s.is_production and s.secure_cookies
    assert s.secret_key == SECRET
    assert s.data_dir == Path("/srv/sc")
    assert s.smtp_url == "smtp+starttls://mailer:pw@mail.example.com:587"
    assert s.default_language == "en"
    assert s.timezone == "Asia/Yekaterinburg"
    assert s.min_group_size == 7
    assert [str(n) for n in s.trusted_proxies] == ["10.0.0.0/8", "127.0.0.1/32"]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SERVICECHAIN_ENV", "staging"),
        ("DATABASE_URL", "mysql://root@localhost/db"),
        ("SERVICECHAIN_SECRET_KEY", "too-short"),
        ("SERVICECHAIN_SMTP_URL", "mail.example.com:25"),
        ("SERVICECHAIN_SMTP_URL", "http://mail.example.com"),
        ("SERVICECHAIN_DEFAULT_LANGUAGE", "de"),
        ("SERVICECHAIN_TIMEZONE", "Mars/Olympus_Mons"),
        ("SERVICECHAIN_MIN_GROUP_SIZE", "five"),
        ("SERVICECHAIN_MIN_GROUP_SIZE", "2"),
        ("SERVICECHAIN_MIN_GROUP_SIZE", "0"),
        ("SERVICECHAIN_TRUSTED_PROXIES", "10.0.0.0/8,not-an-address"),
    ],
)
def test_a_bad_value_fails_naming_the_variable(variable, value):
    with pytest.raises(ConfigError) as caught:
        settings(**{variable: value})
    assert variable in str(caught.value)


def test_data_dir_that_is_a_file_is_refused(tmp_path):
    a_file = tmp_path / "data"
    a_file.write_text("not a folder")
    with pytest.raises(ConfigError, match="SERVICECHAIN_DATA_DIR"):
        settings(SERVICECHAIN_DATA_DIR=str(a_file))


def test_min_group_size_of_three_is_the_smallest_accepted():
    assert settings(SERVICECHAIN_MIN_GROUP_SIZE="3").min_group_size == 3
    with pytest.raises(ConfigError, match="at least 3"):
        settings(SERVICECHAIN_MIN_GROUP_SIZE="2")


def test_production_refuses_to_run_without_a_secret_key():
    with pytest.raises(ConfigError, match="SERVICECHAIN_SECRET_KEY is required in production"):
        settings(SERVICECHAIN_ENV="production")
    # Outside production a fixed development key keeps things running.
    assert settings(SERVICECHAIN_ENV="development").secret_key


def _cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVICECHAIN_") and k != "DATABASE_URL"}
    env.update(extra)
    return env


def test_production_server_does_not_start_without_a_secret_key(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "servicechain.platform.cli", "serve"], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env=_cli_env(SERVICECHAIN_ENV="production", SERVICECHAIN_DATA_DIR=str(tmp_path)),
    )
    assert result.returncode == 2
    assert "SERVICECHAIN_SECRET_KEY is required in production" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_names_the_bad_variable_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "servicechain.platform.cli", "migrate"], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env=_cli_env(SERVICECHAIN_MIN_GROUP_SIZE="2", SERVICECHAIN_DATA_DIR=str(tmp_path)),
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "SERVICECHAIN_MIN_GROUP_SIZE" in result.stderr


async def test_healthz_answers_200_when_the_database_answers(client):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


HEALTH_PROBE = """
import asyncio
from litestar.testing import AsyncTestClient
from servicechain.platform.app import create_app

async def main():
    async with AsyncTestClient(app=create_app()) as client:
        response = await client.get("/healthz")
        print(response.status_code, *sorted(response.json().items()))

asyncio.run(main())
"""


@pytest.mark.parametrize(
    "database_url",
    [
        "postgresql://postgres@127.0.0.1:1/nowhere",  # nothing listens on port 1
        "sqlite:////proc/servicechain-cannot-exist/db.sqlite3",  # a folder that cannot be made
    ],
)
def test_healthz_answers_503_when_the_database_does_not(tmp_path, database_url):
    result = subprocess.run(
        [sys.executable, "-c", HEALTH_PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env=_cli_env(SERVICECHAIN_ENV="test", SERVICECHAIN_DATA_DIR=str(tmp_path), DATABASE_URL=database_url,
                     PICCOLO_CONF=os.environ["PICCOLO_CONF"]),
    )
    assert result.returncode == 0, result.stderr
    # only the state: the route is public, and the reason can name the database's host and user
    assert result.stdout.split() == ["503", "('status',", "'unavailable')"]


def test_templates_are_checked_for_edits_outside_production_only(monkeypatch, tmp_path):
    from servicechain.platform import app as app_module
    from servicechain.platform.web import template_engine

    production = settings(SERVICECHAIN_ENV="production", SERVICECHAIN_SECRET_KEY=SECRET, SERVICECHAIN_DATA_DIR=str(tmp_path))
    development = settings(SERVICECHAIN_DATA_DIR=str(tmp_path))
    try:
        monkeypatch.setattr(app_module, "get_settings", lambda: production)
        app_module.create_app()
        assert template_engine.engine.auto_reload is False  # a release's templates never change under it
        monkeypatch.setattr(app_module, "get_settings", lambda: development)
        app_module.create_app()
        assert template_engine.engine.auto_reload is True  # a developer sees an edited template at once
    finally:
        template_engine.engine.auto_reload = True
