import subprocess
import sys

from tests.conftest import ROOT, sign_in, text_of


def test_standard_platform_module_is_not_shadowed_from_repo_root():
    result = subprocess.run([sys.executable, "-c", "import platform; print(platform.system())"], cwd=ROOT,
                            capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "Linux"


async def test_healthz_answers_when_database_answers(client):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_home_redirects_anonymous_to_sign_in(client):
    response = await client.get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=/")


async def test_sign_in_and_see_home(client):
    await sign_in(client, "employee@test.local")
    response = await client.get("/")
    assert response.status_code == 200
    assert "Ёлкин Иван" in text_of(response.text)
