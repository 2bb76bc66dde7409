"""Units of work: what one use case reads and writes, committed together or not at all.

A service's use cases take a `UnitOfWork[R]` (R: the service's repository) and never touch a
connection. `transaction()` opens `BEGIN … COMMIT`, rolled back when the block raises; the
repository and `emit` work inside it, so an event recorded in the outbox commits with the
change it announces. `statement()` gives the repository a connection on which every statement
commits on its own: the one-statement fast paths, which need no `BEGIN` and no `COMMIT`.

`SqlUnitOfWork` is the one the services run on. Service-layer tests hand the use cases an
in-memory one (tests/suite/fakes.py) that keeps the same promises: all or nothing per
transaction, events only inside one, a statement atomic on its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from .db import Database
from .outbox import EventPublisher

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class NoTransaction(RuntimeError):
    """An event emitted outside a transaction (or where the service has no outbox)."""


class Work(Protocol[R_co]):
    """An open unit of work: the service's repository on its connection, and the outbox."""

    @property
    def repo(self) -> R_co: ...

    async def emit(self, event: dict[str, Any]) -> None:
        """Record `event` to be published once, and only if, this transaction commits."""
        ...


class UnitOfWork(Protocol[R_co]):
    def transaction(self) -> AbstractAsyncContextManager[Work[R_co]]: ...

    def statement(self) -> AbstractAsyncContextManager[Work[R_co]]: ...


@dataclass(frozen=True)
class SqlWork(Generic[R]):
    repo: R
    conn: AsyncConnection
    publisher: EventPublisher | None

    async def emit(self, event: dict[str, Any]) -> None:
        if self.publisher is None:
            raise NoTransaction("events are emitted inside a transaction, through the outbox")
        await self.publisher.emit(self.conn, event)


class SqlUnitOfWork(Generic[R]):
    """Units of work on one service's database; `repository(conn)` builds its repository."""

    def __init__(
        self,
        db: Database,
        repository: Callable[[AsyncConnection], R],
        publisher: EventPublisher | None = None,
    ) -> None:
        self.db = db
        self.repository = repository
        self.publisher = publisher

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlWork[R]]:
        async with self.db.transaction() as conn:
            yield SqlWork(self.repository(conn), conn, self.publisher)

    @asynccontextmanager
    async def statement(self) -> AsyncIterator[SqlWork[R]]:
        async with self.db.autocommit() as conn:
            yield SqlWork(self.repository(conn), conn, None)
