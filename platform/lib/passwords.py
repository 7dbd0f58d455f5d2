"""Password hashing with argon2id (argon2-cffi: the reference implementation's bindings).

Hashing costs about 100 ms by design, so it runs in a worker thread, off the event loop.
Tests lower the cost through SERVICECHAIN_ENV=test; production keeps the library defaults.
"""

from __future__ import annotations

from functools import lru_cache

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


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(hash_password_sync, password)


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
    return await anyio.to_thread.run_sync(verify_password_sync, password_hash, password)
