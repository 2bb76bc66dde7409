"""`limit_data`: the connection closes once `bytes` bytes went through this direction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chaos.toxiproxy.state import CloseConnection, ToxicState
from chaos.toxiproxy.toxics.base import ToxicKind, attribute, register

if TYPE_CHECKING:
    from chaos.toxiproxy.connection import Direction


@dataclass(eq=False)
class LimitDataState(ToxicState):
    count: int = 0  # bytes let through so far, kept while the toxic stays


@register("limit_data")
@dataclass
class LimitDataToxic(ToxicKind):
    bytes: int = attribute("int64")  # 0 or less closes at the first chunk, as in Toxiproxy

    state_class = LimitDataState

    async def pipe(
        self, d: Direction, state: LimitDataState, data: bytes, at: float
    ) -> AsyncIterator[bytes]:
        piece = data[: max(self.bytes - state.count, 0)]
        if piece:
            state.count += len(piece)
            yield piece
        if state.count >= self.bytes:
            raise CloseConnection
