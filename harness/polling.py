"""Waiting until something holds, on tenacity: the one way the harness polls.

A check is called again and again, `interval` apart, until it returns True or `within`
seconds have passed (then the answer is False). An exception from the check is not retried:
it ends the wait at once, which is how a check reports that waiting longer is pointless (a
process that exited, a server that failed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tenacity import AsyncRetrying, Retrying, retry_if_result, stop_after_delay, wait_fixed


def _not_yet(ok: bool) -> bool:
    return not ok


def until(check: Callable[[], bool], *, within: float, interval: float) -> bool:
    """True as soon as `check()` is; False once `within` seconds have passed without."""
    retrying = Retrying(
        stop=stop_after_delay(within),
        wait=wait_fixed(interval),
        retry=retry_if_result(_not_yet),
        retry_error_callback=lambda _: False,
    )
    return bool(retrying(check))


async def until_async(
    check: Callable[[], Awaitable[bool]], *, within: float, interval: float
) -> bool:
    """`until` for a coroutine check; the event loop runs on while it waits."""
    retrying = AsyncRetrying(
        stop=stop_after_delay(within),
        wait=wait_fixed(interval),
        retry=retry_if_result(_not_yet),
        retry_error_callback=lambda _: False,
    )
    return bool(await retrying(check))
