"""`slicer`: chunks are cut into pieces of average_size +/- size_variation bytes, `delay` µs
apart.

Toxiproxy accepts any sizes; some of them (average_size 0, a variation above the average)
send its cutting into endless recursion or out of the chunk's bounds. Here every cut stays
inside the chunk, so such sizes end in the smallest pieces that make sense (down to 1 byte).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from random import Random
from typing import TYPE_CHECKING

from chaos.toxiproxy.state import ToxicState
from chaos.toxiproxy.toxics.base import ToxicKind, attribute, register

if TYPE_CHECKING:
    from chaos.toxiproxy.connection import Direction


def slice_offsets(rng: Random, average: int, variation: int, start: int, end: int) -> list[int]:
    """Cut points splitting [start, end) into pieces of average +/- variation bytes."""
    cuts = [start]
    _cut(rng, average, variation, start, end, cuts)
    return cuts


def _cut(rng: Random, average: int, variation: int, start: int, end: int, cuts: list[int]) -> None:
    if (end - start) - average <= variation or end - start <= 1:
        cuts.append(end)
        return
    mid = start + (end - start) // 2
    if variation > 0:
        mid += rng.randrange(2 * variation) - variation
    mid = min(max(mid, start + 1), end - 1)
    _cut(rng, average, variation, start, mid, cuts)
    _cut(rng, average, variation, mid, end, cuts)


@register("slicer")
@dataclass
class SlicerToxic(ToxicKind):
    average_size: int = attribute("int")
    size_variation: int = attribute("int")
    delay: int = attribute("int")  # µs after each piece

    async def pipe(
        self, d: Direction, state: ToxicState, data: bytes, at: float
    ) -> AsyncIterator[bytes]:
        cuts = slice_offsets(d.rng, self.average_size, self.size_variation, 0, len(data))
        for i in range(len(cuts) - 1):
            yield data[cuts[i] : cuts[i + 1]]
            if self.delay > 0 and await d.sleep_for(state, self.delay / 1e6):
                if rest := data[cuts[i + 1] :]:
                    yield rest  # removed meanwhile: the rest goes on at once
                return
