"""Password hashing with argon2id (argon2-cffi: the reference implementation's bindings).

Hashing costs about 100 ms of CPU by design, so it runs in a worker thread, off the event
loop, and on one core fewer than the machine has at once (one on two cores): a morning rush of
sign-ins otherwise ran forty hashes at once (anyio's thread pool), which starved the event loop
and the database thread of CPU, so every other request - and every write transaction holding
the writer - waited behind them. Now sign-ins queue for the hasher and the rest keeps a core.
Tests lower the cost through SERVICECHAIN_ENV=test; production keeps the library defaults.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from functools import lru_cache

import anyio
import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from servicechain.platform.config import get_settings

MIN_LENGTH = 10


@lru_cache(maxsize=1)
def hasher() -> PasswordHasher:
    if get_settings().is_test:
        return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return PasswordHasher()


def hash_password_sync(password: str) -> str:
    return hasher().hash(password)


_limiters: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop -> its limiter


def _hashing_slots() -> anyio.CapacityLimiter:
    loop = asyncio.get_running_loop()
    if loop not in _limiters:
        _limiters[loop] = anyio.CapacityLimiter(max(1, (os.cpu_count() or 2) - 1))
    return _limiters[loop]


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(hash_password_sync, password, limiter=_hashing_slots())


def verify_password_sync(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        # Spend the same time as a real check so timing does not reveal unknown accounts.
        hasher().hash(password)
        return False
    try:
        return hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    return await anyio.to_thread.run_sync(verify_password_sync, password_hash, password, limiter=_hashing_slots())
