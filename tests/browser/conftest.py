"""Browser tests: Debian's chromium driven by Playwright against a real server process.

The server runs `servicechain.platform.asgi:app` under uvicorn in a subprocess on the same
SQLite file the test session migrated and filled with the cast (tests/conftest.py), so the
browser sees committed data through a real socket.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    # Playwright's own browser download is not possible here; Debian's chromium is.
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "en-US", "viewport": {"width": 1280, "height": 900}}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(cast) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "SERVICECHAIN_RUN_WORKER": "0", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "servicechain.platform.asgi:app", "--host", "127.0.0.1", "--port", str(port),
         "--no-access-log", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None:
                raise RuntimeError("the test server exited")
            time.sleep(0.1)
        else:
            raise RuntimeError("the test server did not start")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


async def sign_in(page, base_url: str, identifier: str, password: str) -> None:
    await page.goto(base_url + "/login")
    await page.get_by_label("Email or employee number").fill(identifier)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(base_url + "/")
