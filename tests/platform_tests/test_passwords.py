"""Password hashing keeps to its share of the machine during a rush of sign-ins."""

from __future__ import annotations

import asyncio
import os
import threading
import time

from servicechain.platform.lib import passwords


async def test_concurrent_sign_ins_hash_on_one_core_fewer_than_the_machine_has(monkeypatch):
    running, most = 0, 0
    lock = threading.Lock()

    def slow_verify(password_hash, password):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)  # stands in for argon2's ~100 ms of CPU
        with lock:
            running -= 1
        return True

    monkeypatch.setattr(passwords, "verify_password_sync", slow_verify)
    results = await asyncio.gather(*(passwords.verify_password("hash", "secret") for _ in range(8)))
    assert results == [True] * 8
    assert most == max(1, (os.cpu_count() or 2) - 1)


async def test_hashing_still_checks_passwords(monkeypatch):
    hashed = await passwords.hash_password("correct horse battery")
    assert await passwords.verify_password(hashed, "correct horse battery")
    assert not await passwords.verify_password(hashed, "wrong horse battery")
