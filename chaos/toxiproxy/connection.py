"""One proxied TCP connection: two directions, each spliced or piped through toxics.

With no toxic on a direction its bytes move socket -> pipe -> socket with `os.splice`, driven
by the event loop's readiness callbacks: no copy into Python and no task switch per chunk. As
soon as a toxic (or an injected HTTP response) concerns a direction, whatever sits in its pipe
becomes the first chunk of a queue that a task feeds through the toxics, in order; when the
last toxic goes and the queue is empty, the direction returns to splicing.

What a toxic does is its own module's (chaos/toxiproxy/toxics/): this one calls its hooks and
knows no toxic type by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import socket
import struct
from collections import deque
from dataclasses import dataclass
from random import Random
from typing import TYPE_CHECKING, Any

from chaos.toxiproxy.http_faults import HttpStage
from chaos.toxiproxy.state import CloseConnection, ToxicState
from chaos.toxiproxy.toxics import DOWNSTREAM, UPSTREAM, Toxic

if TYPE_CHECKING:
    from chaos.toxiproxy.proxy import Proxy

SPLICE_FLAGS = os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
PIPE_SIZE = 1 << 20
READ_SIZE = 64 * 1024
BUSY_READ = 64 * 1024  # a read this large suggests more is waiting
MAX_QUEUED = 256
LINGER_RESET = struct.pack("ii", 1, 0)

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Chunk:
    data: bytes
    at: float  # loop time of arrival, so latency counts from when the bytes came in


_EOF = object()
_CLOSE = object()

_IDLE, _SPLICE, _PIPELINE = "idle", "splice", "pipeline"


class Direction:
    def __init__(
        self, conn: Connection, stream: str, src: socket.socket, dst: socket.socket, rng: Random
    ) -> None:
        self.conn = conn
        self.proxy = conn.proxy
        self.loop = conn.loop
        self.stream = stream
        self.src, self.dst = src, dst
        self.src_fd, self.dst_fd = src.fileno(), dst.fileno()
        self.rng = rng
        self.other: Direction
        self.states: dict[Toxic, ToxicState] = {}
        self.received = 0
        self.sent = 0
        self.mode = _IDLE
        self.src_eof = False
        self.finished = False
        self.pipe_r = self.pipe_w = -1
        self.pending = 0
        self.queue: deque[Any] = deque()
        self.paused = False
        self.task: asyncio.Task[None] | None = None
        self.wakeup: asyncio.Future[None] | None = None
        self.interrupt: asyncio.Future[None] = self.loop.create_future()
        self.http: HttpStage | None = None

    # ---- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        if self.proxy.chain(self.stream):
            self._enter_pipeline()
        else:
            self._enter_splice()

    def stop(self) -> None:
        loop = self.loop
        loop.remove_reader(self.src_fd)
        loop.remove_writer(self.dst_fd)
        if self.task is not None:
            self.task.cancel()
            self.task = None
        for state in self.states.values():
            if state.timer is not None:
                state.timer.cancel()
        for fd in (self.pipe_r, self.pipe_w):
            if fd >= 0:
                os.close(fd)
        self.pipe_r = self.pipe_w = -1

    def _finish(self) -> None:
        """The source is exhausted: pass the half-close on, end when both sides are done."""
        self.finished = True
        with contextlib.suppress(OSError):
            self.dst.shutdown(socket.SHUT_WR)
        if self.other.finished:
            self.conn.close()

    # ---- fast path: splice ----------------------------------------------------------
    def _enter_splice(self) -> None:
        self.mode = _SPLICE
        if self.pipe_r < 0:
            self.pipe_r, self.pipe_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
            with contextlib.suppress(OSError):
                fcntl.fcntl(self.pipe_w, F_SETPIPE_SZ, PIPE_SIZE)
        if not self.src_eof:
            self.loop.add_reader(self.src_fd, self._splice_in)

    def _splice_in(self) -> None:
        # A busy stream is moved in several rounds per wake-up, saving event-loop turns.
        for _ in range(8):
            try:
                n = os.splice(self.src_fd, self.pipe_w, PIPE_SIZE, flags=SPLICE_FLAGS)
            except BlockingIOError:
                return
            except OSError:
                self.conn.close()
                return
            if n == 0:
                self.loop.remove_reader(self.src_fd)
                self.src_eof = True
                self._finish()
                return
            self.received += n
            self.pending += n
            self._splice_out()
            if self.pending or self.mode != _SPLICE or n < BUSY_READ or self.conn.closed:
                return

    def _splice_out(self) -> None:
        while self.pending:
            try:
                n = os.splice(self.pipe_r, self.dst_fd, self.pending, flags=SPLICE_FLAGS)
            except BlockingIOError:
                # The receiver is slow: stop reading until it has taken what we hold.
                self.loop.remove_reader(self.src_fd)
                self.loop.add_writer(self.dst_fd, self._splice_drain)
                return
            except OSError:
                self.conn.close()
                return
            self.pending -= n
            self.sent += n

    def _splice_drain(self) -> None:
        self._splice_out()
        if not self.pending and self.mode == _SPLICE and not self.conn.closed:
            self.loop.remove_writer(self.dst_fd)
            self.loop.add_reader(self.src_fd, self._splice_in)

    def _leave_splice(self) -> bytes:
        self.loop.remove_reader(self.src_fd)
        self.loop.remove_writer(self.dst_fd)
        held = bytearray()
        while self.pending:
            part = os.read(self.pipe_r, self.pending)
            held += part
            self.pending -= len(part)
        return bytes(held)

    # ---- toxic path: queue + task -------------------------------------------------------
    def _enter_pipeline(self) -> None:
        held = self._leave_splice() if self.mode == _SPLICE else b""
        self.mode = _PIPELINE
        if held:
            self.queue.appendleft(Chunk(held, self.loop.time()))
        if not self.src_eof:
            self.loop.add_reader(self.src_fd, self._pipe_in)
        if self.task is None:
            self.task = self.loop.create_task(self._pump())

    def _pipe_in(self) -> None:
        try:
            data = self.src.recv(READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            self.conn.close()
            return
        if not data:
            self.loop.remove_reader(self.src_fd)
            self.src_eof = True
            self.queue.append(_EOF)
        else:
            self.received += len(data)
            self.queue.append(Chunk(data, self.loop.time()))
            if len(self.queue) >= MAX_QUEUED:
                self.loop.remove_reader(self.src_fd)
                self.paused = True
        self._wake()

    def _wake(self) -> None:
        if self.wakeup is not None and not self.wakeup.done():
            self.wakeup.set_result(None)

    def _can_splice(self) -> bool:
        buffered = self.http is not None and self.http.buffered
        return not self.proxy.chain(self.stream) and not buffered and not self.src_eof

    async def _pump(self) -> None:
        try:
            while not self.conn.closed:
                if not self.queue:
                    if self._can_splice():
                        self.task = None
                        self.loop.remove_reader(self.src_fd)
                        self._enter_splice()
                        return
                    self.wakeup = self.loop.create_future()
                    await self.wakeup
                    continue
                item = self.queue.popleft()
                if self.paused and len(self.queue) <= MAX_QUEUED // 2:
                    self.paused = False
                    self.loop.add_reader(self.src_fd, self._pipe_in)
                if item is _EOF:
                    await self._end_of_stream()
                    return
                if item is _CLOSE:
                    self.conn.close()
                    return
                await self._process(item)
        except (CloseConnection, OSError):
            self.conn.close()
        except Exception:
            log.exception("proxy %s: %s stream failed", self.proxy.name, self.stream)
            self.conn.close()

    async def _process(self, chunk: Chunk) -> None:

        chain = self.proxy.chain(self.stream)
        per_request = [t for t in chain if t.kind.per_request]
        if per_request or (self.http is not None and self.http.buffered):
            if self.http is None:
                self.http = HttpStage()
            byte_chain = [t for t in chain if not t.kind.per_request]
            async for raw in self.http.feed(self, chunk.data, per_request):
                await self._apply(byte_chain, 0, raw, chunk.at)
        else:
            await self._apply(chain, 0, chunk.data, chunk.at)

    async def _apply(self, chain: list[Toxic], start: int, data: bytes, at: float) -> None:
        for index in range(start, len(chain)):
            toxic = chain[index]
            state = self.states.get(toxic)
            if state is None or not state.active or toxic.kind.per_request:
                continue
            async for piece in toxic.kind.pipe(self, state, data, at):
                await self._apply(chain, index + 1, piece, at)
            return
        await self.loop.sock_sendall(self.dst, data)
        self.sent += len(data)

    async def _end_of_stream(self) -> None:
        chain = self.proxy.chain(self.stream)
        if self.http is not None and self.http.buffered:
            byte_chain = [t for t in chain if not t.kind.per_request]
            await self._apply(byte_chain, 0, self.http.take(), 0.0)
        for toxic in chain:
            state = self.states.get(toxic)
            if state is not None and state.active and not self.conn.closed:
                await toxic.kind.end_of_stream(self, state)
        self.task = None
        if not self.conn.closed:
            self._finish()

    def inject(self, data: bytes, close_after: bool) -> None:
        """Send bytes that never came from the source (an HTTP response made up by a toxic)."""
        if self.finished or self.conn.closed:
            return
        if self.mode != _PIPELINE:
            self._enter_pipeline()
        self.queue.append(Chunk(data, self.loop.time()))
        if close_after:
            self.queue.append(_CLOSE)
        self._wake()

    # ---- toxics come and go -------------------------------------------------------------
    def toxic_added(self, toxic: Toxic) -> None:
        state = toxic.kind.new_state(toxic, active=self.rng.random() < toxic.toxicity)
        self.states[toxic] = state
        if state.active and not toxic.kind.per_request:
            self.proxy.stats.activated(toxic)
        toxic.kind.attached(self, state)
        if self.mode == _SPLICE and not self.finished:
            self._enter_pipeline()

    def toxic_updated(self, toxic: Toxic) -> None:
        state = self.states.get(toxic)
        if state is None:
            return
        # Toxiproxy restarts an updated toxic on every link, drawing its toxicity again.
        state.active = self.rng.random() < toxic.toxicity
        toxic.kind.attached(self, state)
        self._changed()

    def toxic_removed(self, toxic: Toxic) -> None:
        state = self.states.pop(toxic, None)
        self._changed()
        if state is not None:
            toxic.kind.detached(self, state)
        if not self.conn.closed:
            self._wake()

    def _changed(self) -> None:
        fired, self.interrupt = self.interrupt, self.loop.create_future()
        fired.set_result(None)

    # ---- waiting that a toxic's removal cuts short ---------------------------------
    async def pause(self, seconds: float | None) -> None:
        """Sleep `seconds` (None: until woken), returning early on any toxic change."""
        interrupt = self.interrupt
        if interrupt.done() or (seconds is not None and seconds <= 0):
            return
        waiter: asyncio.Future[None] = self.loop.create_future()

        def done(_: object = None) -> None:
            if not waiter.done():
                waiter.set_result(None)

        interrupt.add_done_callback(done)
        timer = self.loop.call_later(seconds, done) if seconds is not None else None
        try:
            await waiter
        finally:
            interrupt.remove_done_callback(done)
            if timer is not None:
                timer.cancel()

    async def sleep_for(self, state: ToxicState, seconds: float | None) -> bool:
        """Sleep; True when the toxic was removed meanwhile (its held data then goes on)."""
        until = None if seconds is None else self.loop.time() + seconds
        return await self.sleep_until(state, until)

    async def sleep_until(self, state: ToxicState, until: float | None) -> bool:
        while self.states.get(state.toxic) is state:
            remaining = None if until is None else until - self.loop.time()
            if remaining is not None and remaining <= 0:
                return False
            await self.pause(remaining)
        return True


class Connection:
    def __init__(
        self,
        proxy: Proxy,
        client: socket.socket,
        upstream: socket.socket,
        rngs: tuple[Random, Random],
    ) -> None:
        self.proxy = proxy
        self.loop = proxy.loop
        self.client, self.upstream = client, upstream
        self.closed = False
        self.up = Direction(self, UPSTREAM, client, upstream, rngs[0])
        self.down = Direction(self, DOWNSTREAM, upstream, client, rngs[1])
        self.up.other, self.down.other = self.down, self.up

    def direction(self, stream: str) -> Direction:
        return self.up if stream == UPSTREAM else self.down

    def start(self) -> None:
        for toxic in self.proxy.toxic_list():
            self.direction(toxic.direction).toxic_added(toxic)
        self.up.start()
        self.down.start()

    def inject_response(self, data: bytes, close_after: bool) -> None:
        self.down.inject(data, close_after)

    def reset(self) -> None:
        """Abort both sides with RST (SO_LINGER 0), as the reset_peer toxic does."""
        self.close(reset=True)

    def close(self, reset: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        self.up.stop()
        self.down.stop()
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                if reset:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
                else:
                    _discard_unread(sock)
            sock.close()
        self.proxy.connection_closed(self)


def _discard_unread(sock: socket.socket) -> None:
    # Closing a socket with unread input makes the kernel send RST, which can destroy
    # data still on its way to the peer; a toxic's close must look like a normal close.
    for _ in range(64):
        try:
            if not sock.recv(READ_SIZE):
                return
        except OSError:
            return
