"""What each byte-level toxic does to a chunk: async generators yielding what passes on.

Semantics follow Toxiproxy 2.x (toxics/*.go). Every random draw comes from the direction's
own generator, so a seeded server makes the same choices again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from random import Random
from typing import TYPE_CHECKING

from chaos.toxiproxy.state import CloseConnection, ToxicState
from chaos.toxiproxy.toxics import Toxic

if TYPE_CHECKING:
    from chaos.toxiproxy.connection import Direction

Effect = Callable[["Direction", Toxic, ToxicState, bytes, float], AsyncIterator[bytes]]


def jittered(rng: Random, base: int, jitter: int) -> int:
    """base +/- jitter milliseconds, drawn like Go's `Int63n(2*jitter) - jitter`."""
    return base + rng.randrange(2 * jitter) - jitter if jitter > 0 else base


async def latency(
    d: Direction, toxic: Toxic, state: ToxicState, data: bytes, at: float
) -> AsyncIterator[bytes]:
    delay = jittered(d.rng, toxic.attributes["latency"], toxic.attributes["jitter"])
    await d.sleep_until(toxic, at + delay / 1000)
    yield data


async def bandwidth(
    d: Direction, toxic: Toxic, state: ToxicState, data: bytes, at: float
) -> AsyncIterator[bytes]:
    while toxic.attributes["rate"] <= 0:
        # Toxiproxy stalls a zero-rate stream; the data goes on if the toxic is removed.
        if await d.sleep_for(toxic, None):
            yield data
            return
    rate = toxic.attributes["rate"]  # KB/s, i.e. bytes per millisecond
    tick = rate * 100
    state.sleep += len(data) / (rate * 1000)
    # Large chunks go out in 100 ms slices so the stream stays smooth at low rates.
    while len(data) > tick:
        if await d.sleep_for(toxic, 0.1):
            yield data
            return
        yield data[:tick]
        data = data[tick:]
        state.sleep -= 0.1
    started = d.loop.time()
    if await d.sleep_for(toxic, state.sleep):
        yield data
        return
    state.sleep -= d.loop.time() - started
    yield data


async def passes(
    d: Direction, toxic: Toxic, state: ToxicState, data: bytes, at: float
) -> AsyncIterator[bytes]:
    # slow_close only acts at the end of the stream (Direction._end_of_stream).
    yield data


async def drops(
    d: Direction, toxic: Toxic, state: ToxicState, data: bytes, at: float
) -> AsyncIterator[bytes]:
    # timeout: data is dropped; the close after `timeout` ms is armed when the toxic attaches.
    for _ in ():
        yield data


async def reset_peer(
    d: Direction, toxic: Toxic, state: ToxicState, data: bytes, at: float
) -> AsyncIterator[bytes]:
    if not state.triggered:
        state.triggered = True
        state.timer = d.loop.call_later(toxic.attributes["timeout"] / 1000, d.conn.reset)
    for _ in ():
        yield data


def slice_offsets(rng: Random, average: int, variation: int, start: int, end: int) -> list[int]:
    """Cut points splitting [start, end) into pieces of average +/- variation bytes."""
    if (end - start) - average <= variation:
        return [start, end]
    shift = rng.randrange(2 * variation) - variation if variation > 0 else 0
    mid = start + (end - start) // 2 + shift
    return slice_offsets(rng, average, variation, start, mid)[:-1] + slice_offsets(
        rng, average, variation, mid, end
    )


async def slicer(
    d: Direction, toxic: Toxic, state: ToxicState, data: bytes, at: float
) -> AsyncIterator[bytes]:
    attrs = toxic.attributes
    cuts = slice_offsets(d.rng, attrs["average_size"], attrs["size_variation"], 0, len(data))
    for i in range(len(cuts) - 1):
        yield data[cuts[i] : cuts[i + 1]]
        last = i == len(cuts) - 2
        if not last and attrs["delay"] > 0 and await d.sleep_for(toxic, attrs["delay"] / 1e6):
            yield data[cuts[i + 1] :]
            return


async def limit_data(
    d: Direction, toxic: Toxic, state: ToxicState, data: bytes, at: float
) -> AsyncIterator[bytes]:
    limit = toxic.attributes["bytes"]
    piece = data[: max(limit - state.count, 0)]
    if piece:
        state.count += len(piece)
        yield piece
    if state.count >= limit:
        raise CloseConnection


EFFECTS: dict[str, Effect] = {
    "latency": latency,
    "bandwidth": bandwidth,
    "slow_close": passes,
    "timeout": drops,
    "reset_peer": reset_peer,
    "slicer": slicer,
    "limit_data": limit_data,
}
