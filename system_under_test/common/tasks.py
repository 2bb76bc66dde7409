"""Stopping background tasks reliably."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


async def cancel_and_wait(task: asyncio.Task[object], *, rounds: int = 20) -> None:
    """Cancel `task` and wait for it to end, cancelling again if the first cancel is lost.

    A cancel can be swallowed on its way through a driver (a query being cancelled
    server-side) or through asyncio.timeout on Python 3.11; repeating it lands the next
    cancel at the task's next await instead of hanging shutdown forever.
    """
    for _ in range(rounds):
        if task.done():
            break
        task.cancel()
        await asyncio.wait({task}, timeout=0.25)
    if not task.done():
        log.error("task %s did not stop", task.get_name())
        return
    if not task.cancelled() and task.exception() is not None:
        log.warning("task %s ended with %r", task.get_name(), task.exception())
