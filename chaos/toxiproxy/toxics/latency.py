"""`latency`: every chunk is delayed by latency +/- jitter ms, counted from its arrival."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chaos.toxiproxy.state import ToxicState
from chaos.toxiproxy.toxics.base import ToxicKind, attribute, jittered, register

if TYPE_CHECKING:
    from chaos.toxiproxy.connection import Direction


@register("latency")
@dataclass
class LatencyToxic(ToxicKind):
    latency: int = attribute("int64")  # ms; negative means none, as in Toxiproxy
    jitter: int = attribute("int64")  # ms; ignored unless positive

    async def pipe(
        self, d: Direction, state: ToxicState, data: bytes, at: float
    ) -> AsyncIterator[bytes]:
        delay = jittered(d.rng, self.latency, self.jitter)
        await d.sleep_until(state, at + delay / 1000)
        yield data
