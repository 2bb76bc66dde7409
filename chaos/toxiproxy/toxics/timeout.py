"""`timeout`: data is dropped; the connection closes after `timeout` ms (never if 0 or less).

Removing the toxic closes the connections it was attached to, as Toxiproxy's `Cleanup` does
(whatever the toxicity draw was).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chaos.toxiproxy.state import ToxicState
from chaos.toxiproxy.toxics.base import ToxicKind, attribute, register

if TYPE_CHECKING:
    from chaos.toxiproxy.connection import Direction


@register("timeout")
@dataclass
class TimeoutToxic(ToxicKind):
    timeout: int = attribute("int64")  # ms

    def attached(self, d: Direction, state: ToxicState) -> None:
        if state.timer is not None:
            state.timer.cancel()
            state.timer = None
        if state.active and self.timeout > 0:
            state.timer = d.loop.call_later(self.timeout / 1000, d.conn.close)

    def detached(self, d: Direction, state: ToxicState) -> None:
        super().detached(d, state)
        d.conn.close()

    async def pipe(
        self, d: Direction, state: ToxicState, data: bytes, at: float
    ) -> AsyncIterator[bytes]:
        for _ in ():  # everything is dropped
            yield data
