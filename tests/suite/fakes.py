"""An in-memory unit of work for service-layer tests: what `common.uow` promises, without
a database. Each service's tests bring an in-memory repository (`<service>/fakes.py`).

The promises kept: a transaction is all or nothing (a block that raises leaves the repository
and the outbox as they were); events are emitted only inside a transaction, and are in
`published` only once it committed; a statement is atomic on its own. Transactions and
statements run one at a time: the strictest isolation a database offers, so the row locks and
advisory locks of the real repositories need nothing here, and a rule that holds for dozens
of requests in flight here still has to be shown on PostgreSQL (the integration tests do).
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from system_under_test.common.uow import NoTransaction

R = TypeVar("R")


@dataclass
class FakeWork(Generic[R]):
    repo: R
    events: list[dict[str, Any]] | None  # None: a statement, where nothing may be emitted

    async def emit(self, event: dict[str, Any]) -> None:
        if self.events is None:
            raise NoTransaction("events are emitted inside a transaction, through the outbox")
        self.events.append(event)


class FakeUnitOfWork(Generic[R]):
    def __init__(self, repo: R) -> None:
        self.repo = repo
        self.published: list[dict[str, Any]] = []  # the outbox: committed events, in order
        self.commits = 0
        # Raised at the next emit, as a database failing inside the transaction would.
        self.fail_next_emit: BaseException | None = None
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[FakeWork[R]]:
        async with self._lock:
            saved = copy.deepcopy(vars(self.repo))
            work = FakeWork(self.repo, [])
            work.emit = self._failing(work.emit)  # type: ignore[method-assign]
            try:
                yield work
            except BaseException:
                vars(self.repo).clear()
                vars(self.repo).update(saved)
                raise
            self.published.extend(work.events or [])
            self.commits += 1

    @asynccontextmanager
    async def statement(self) -> AsyncIterator[FakeWork[R]]:
        async with self._lock:
            yield FakeWork(self.repo, None)

    def events_of(self, type_: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.published if type_ is None or e["type"] == type_]

    def _failing(self, emit: Any) -> Any:
        async def emit_or_fail(event: dict[str, Any]) -> None:
            failure, self.fail_next_emit = self.fail_next_emit, None
            if failure is not None:
                raise failure
            await emit(event)

        return emit_or_fail
