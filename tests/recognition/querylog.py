"""Counting the queries a piece of code sends, and how many of them run inside a write
transaction: under load every query inside one holds SQLite's single writer for a trip through
the event loop, so that number is what the write paths keep small (and tests hold them to)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from piccolo.engine.sqlite import TransactionType

from servicechain.platform import db


@dataclass
class QueryLog:
    """Each query as (its SQL with the values in, where it ran: "write", "read" or "alone")."""

    queries: list[tuple[str, str]] = field(default_factory=list)

    @property
    def in_write(self) -> int:
        return sum(1 for _sql, where in self.queries if where == "write")

    @property
    def outside_write(self) -> int:
        return len(self.queries) - self.in_write

    def __str__(self) -> str:
        return "\n".join(f"{where:5} {sql[:110]}" for sql, where in self.queries)


@contextlib.contextmanager
def count_queries() -> Iterator[QueryLog]:
    """Every query the engine runs meanwhile, on any event loop (the test client serves the app
    on a loop of its own). PostgreSQL's transactions here are all write transactions
    (``db.read()`` is no transaction there)."""
    engine = db.engine()
    log = QueryLog()
    original = engine.run_querystring

    async def run_querystring(querystring, in_pool: bool = True):
        transaction = engine.current_transaction.get()
        if transaction is None:
            where = "alone"
        elif engine.engine_type == "postgres" or transaction.transaction_type is TransactionType.immediate:
            where = "write"
        else:
            where = "read"
        log.queries.append((" ".join(str(querystring).split()), where))
        return await original(querystring, in_pool=in_pool)

    engine.run_querystring = run_querystring  # type: ignore[method-assign]
    try:
        yield log
    finally:
        del engine.run_querystring
