"""Running the server: in the current event loop (`serve`) or in a thread (`EmbeddedToxiproxy`).

The HTTP API (uvicorn + Starlette) and every proxy share one event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import socket
import threading
from collections.abc import Callable
from types import TracebackType

import uvicorn

from chaos.toxiproxy import addresses
from chaos.toxiproxy.api import create_app
from chaos.toxiproxy.proxy import ProxyCollection

log = logging.getLogger(__name__)


def raise_fd_limit() -> None:
    """Lift the soft open-files limit to the hard one, as Go programs (Toxiproxy) do at start.

    Each proxied connection holds two sockets and, while spliced, two pipes: hundreds of
    connections would exceed a soft limit of 1024.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def bind_api(host: str = "127.0.0.1", port: int = 8474) -> socket.socket:
    """The API's listening socket; raises OSError (e.g. address in use)."""
    return addresses.bind_listener(host, port, backlog=512)


def url_of(sock: socket.socket) -> str:
    return f"http://{addresses.bound(sock)}"


async def serve(
    host: str = "127.0.0.1",
    port: int = 8474,
    seed: int | None = None,
    ready: Callable[[str], None] | None = None,
    stop: asyncio.Event | None = None,
    sock: socket.socket | None = None,
) -> None:
    """Serve the API and its proxies until `stop` is set; `ready(url)` once listening."""
    raise_fd_limit()
    sock = sock or bind_api(host, port)
    stop = stop or asyncio.Event()
    proxies = ProxyCollection(asyncio.get_running_loop(), seed)
    config = uvicorn.Config(
        create_app(proxies),
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
        server_header=False,
        log_config=None,  # leave the host process's logging alone
    )
    server = uvicorn.Server(config)
    config.load()
    server.lifespan = config.lifespan_class(config)
    await server.startup(sockets=[sock])
    ticking = asyncio.create_task(server.main_loop())  # keeps the Date header current
    try:
        if ready is not None:
            ready(url_of(sock))
        await stop.wait()
    finally:
        ticking.cancel()
        proxies.close()
        # uvicorn's own shutdown sleeps and polls in 0.1 s steps; closing directly is instant.
        for listening in server.servers:
            listening.close()
        for connection in list(server.server_state.connections):
            connection.shutdown()
        sock.close()


class EmbeddedToxiproxy:
    """The server in a background thread with its own event loop.

    >>> with EmbeddedToxiproxy() as server:
    ...     ToxiproxyClient(server.url).create_proxy("db", "127.0.0.1:0", "127.0.0.1:5432")
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, seed: int | None = None) -> None:
        self.host, self.port, self.seed = host, port, seed
        self.url = ""
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    def start(self) -> EmbeddedToxiproxy:
        """Start serving; returns once the API listens. Raises OSError if it cannot bind."""
        sock = bind_api(self.host, self.port)
        self.url = url_of(sock)
        started = threading.Event()
        failure: list[BaseException] = []

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            try:
                await serve(
                    seed=self.seed, ready=lambda _: started.set(), stop=self._stop, sock=sock
                )
            except BaseException as exc:
                failure.append(exc)
                raise
            finally:
                started.set()

        def run() -> None:
            with contextlib.suppress(BaseException):
                asyncio.run(main())

        self._thread = threading.Thread(target=run, name="faultline-toxiproxy", daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            raise RuntimeError(f"the embedded Toxiproxy server failed to start: {failure[0]}")
        return self

    def stop(self) -> None:
        """Close the API, every proxy listener and every connection; wait for the thread."""
        if self._thread is None:
            return
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> EmbeddedToxiproxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
