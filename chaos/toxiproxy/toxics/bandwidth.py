"""`bandwidth`: chunks are paced to `rate` KB/s, large ones in 100 ms slices."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chaos.toxiproxy.state import ToxicState
from chaos.toxiproxy.toxics.base import ToxicKind, attribute, register

if TYPE_CHECKING:
    from chaos.toxiproxy.connection import Direction


@dataclass(eq=False)
class BandwidthState(ToxicState):
    sleep: float = 0.0  # seconds owed, carried from chunk to chunk like Toxiproxy's


@register("bandwidth")
@dataclass
class BandwidthToxic(ToxicKind):
    rate: int = attribute("int64")  # KB/s; 0 or less holds the data until the toxic goes

    state_class = BandwidthState

    async def pipe(
        self, d: Direction, state: BandwidthState, data: bytes, at: float
    ) -> AsyncIterator[bytes]:
        while self.rate <= 0:
            # Toxiproxy stalls such a stream; the data goes on if the toxic is removed.
            if await d.sleep_for(state, None):
                yield data
                return
        rate = self.rate  # KB/s, i.e. bytes per millisecond
        tick = rate * 100
        state.sleep += len(data) / (rate * 1000)
        while len(data) > tick:
            if await d.sleep_for(state, 0.1):
                yield data
                return
            yield data[:tick]
            data = data[tick:]
            state.sleep -= 0.1
        started = d.loop.time()
        if await d.sleep_for(state, state.sleep):
            yield data
            return
        state.sleep -= d.loop.time() - started
        yield data
