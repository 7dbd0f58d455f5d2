"""Database work from API tests, done on the app's event loop.

The test client runs the app, and its lifespan, on a loop of its own in another thread; on
PostgreSQL that lifespan opens an asyncpg pool which works only on that loop, and the engine is
shared. So while a client is open, tests reach the database through the client's loop.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio.to_thread
from litestar.testing import AsyncTestClient

T = TypeVar("T")


async def on_app_loop(client: AsyncTestClient, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
    return await anyio.to_thread.run_sync(client.blocking_portal.call, functools.partial(fn, *args, **kwargs))
