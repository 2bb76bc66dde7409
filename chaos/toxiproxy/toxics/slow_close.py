"""`slow_close`: data passes untouched; the close is passed on `delay` ms late."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chaos.toxiproxy.state import ToxicState
from chaos.toxiproxy.toxics.base import ToxicKind, attribute, register

if TYPE_CHECKING:
    from chaos.toxiproxy.connection import Direction


@register("slow_close")
@dataclass
class SlowCloseToxic(ToxicKind):
    delay: int = attribute("int64")  # ms

    async def end_of_stream(self, d: Direction, state: ToxicState) -> None:
        await d.sleep_for(state, self.delay / 1000)
