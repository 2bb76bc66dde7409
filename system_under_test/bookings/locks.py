"""One asyncio lock per booking, for as long as someone holds or awaits it.

Two requests for one booking in the same process queue here and never meet in the database;
the lease in the database settles it between processes.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class KeyedLocks:
    def __init__(self) -> None:
        self._locks: dict[uuid.UUID, asyncio.Lock] = {}
        self._users: dict[uuid.UUID, int] = {}

    def busy(self, key: uuid.UUID) -> bool:
        lock = self._locks.get(key)
        return lock is not None and lock.locked()

    @asynccontextmanager
    async def hold(self, key: uuid.UUID, deadline: float | None = None) -> AsyncIterator[bool]:
        """Yield True once the lock is held; False at once when it is busy and `deadline` is
        None, or when it is still busy at `deadline` (a `time.monotonic()` instant)."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            if lock.locked() and deadline is None:
                yield False
                return
            try:
                async with asyncio.timeout_at(_loop_time(deadline)):
                    await lock.acquire()
            except TimeoutError:
                yield False
                return
            try:
                yield True
            finally:
                lock.release()
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]


def _loop_time(deadline: float | None) -> float | None:
    """A `time.monotonic()` instant on the event loop's clock."""
    if deadline is None:
        return None
    return asyncio.get_running_loop().time() + (deadline - time.monotonic())
