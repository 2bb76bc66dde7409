"""`reset_peer`: once data (or the end of the stream) arrives, both sides get a TCP RST
`timeout` ms later (SO_LINGER 0). Like Toxiproxy's, a reset already under way still happens
when the toxic is removed, since it has dropped data by then."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chaos.toxiproxy.state import ToxicState
from chaos.toxiproxy.toxics.base import ToxicKind, attribute, register

if TYPE_CHECKING:
    from chaos.toxiproxy.connection import Direction


@dataclass(eq=False)
class ResetState(ToxicState):
    triggered: bool = False


@register("reset_peer")
@dataclass
class ResetToxic(ToxicKind):
    timeout: int = attribute("int64")  # ms

    state_class = ResetState

    def _trigger(self, d: Direction, state: ResetState) -> None:
        if not state.triggered:
            state.triggered = True
            state.timer = d.loop.call_later(max(self.timeout, 0) / 1000, d.conn.reset)

    def detached(self, d: Direction, state: ToxicState) -> None:
        if not isinstance(state, ResetState) or not state.triggered:
            super().detached(d, state)

    async def pipe(
        self, d: Direction, state: ResetState, data: bytes, at: float
    ) -> AsyncIterator[bytes]:
        self._trigger(d, state)
        for _ in ():  # dropped: the peer is about to be reset anyway
            yield data

    async def end_of_stream(self, d: Direction, state: ToxicState) -> None:
        if isinstance(state, ResetState):
            self._trigger(d, state)
            await d.sleep_for(state, None)
