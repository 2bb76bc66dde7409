"""`faultline toxiproxy`: the embedded Toxiproxy-compatible server in the foreground."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer

from chaos.toxiproxy.server import bind_api, serve
from harness.errors import UserError


def toxiproxy(
    host: Annotated[
        str, typer.Option(help="Address of the HTTP API (loopback unless told otherwise).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port of the HTTP API; 0 picks a free one.")
    ] = 8474,
    seed: Annotated[
        int | None,
        typer.Option(help="Seed every random draw (toxicity, jitter, slicer) for repeatable runs."),
    ] = None,
) -> None:
    """Serve Toxiproxy's HTTP API and proxies until SIGINT or SIGTERM."""
    try:
        sock = bind_api(host, port)
    except (OSError, OverflowError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise UserError(f"cannot listen on {host}:{port}: {reason}") from None

    def ready(url: str) -> None:
        print(f"listening on {url}", flush=True)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(seed=seed, ready=ready, stop=stop, sock=sock)

    asyncio.run(main())
