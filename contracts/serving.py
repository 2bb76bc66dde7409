"""Serve an ASGI application for real (uvicorn, loopback, a port the OS picks) in a thread.

Provider verification needs a real HTTP server (the Pact verifier is a separate HTTP client),
and keeping it in this process lets a test reach into the app (its database, or a middleware
that simulates a provider change).
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import uvicorn

from harness import polling

T = TypeVar("T")
STARTUP_TIMEOUT_S = 30.0


@dataclass
class Served:
    url: str
    server: uvicorn.Server
    loop: asyncio.AbstractEventLoop

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run a coroutine on the server's event loop (where the app's engine and pools live)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


@contextmanager
def serve(app: Any) -> Iterator[Served]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Inherited by accepted connections on Linux; without it a plain asyncio loop lets Nagle
    # hold back the response body until the client's delayed ACK (about 40 ms per request).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    loops: list[asyncio.AbstractEventLoop] = []
    failure: list[BaseException] = []

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loops.append(loop)
        try:
            loop.run_until_complete(server.serve(sockets=[sock]))
        except BaseException as exc:  # reported to the caller below
            failure.append(exc)
        finally:
            loop.close()

    # uvicorn installs signal handlers only in the main thread, so a thread is safe here.
    thread = threading.Thread(target=run, name=f"uvicorn-{port}", daemon=True)
    thread.start()

    def started() -> bool:
        if failure or not thread.is_alive():
            raise RuntimeError(f"the app did not start on port {port}: {failure}")
        return server.started

    try:
        if not polling.until(started, within=STARTUP_TIMEOUT_S, interval=0.02):
            raise RuntimeError(f"the app did not start on port {port} within {STARTUP_TIMEOUT_S}s")
    except RuntimeError:
        server.should_exit = True
        thread.join(5)
        sock.close()
        raise
    try:
        yield Served(url=f"http://127.0.0.1:{port}", server=server, loop=loops[0])
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
