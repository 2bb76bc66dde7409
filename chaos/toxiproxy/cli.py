"""The embedded Toxiproxy-compatible server in the foreground, as a program of its own:
`python -m chaos.toxiproxy` (the stack starts it so) and `faultline toxiproxy`.

It needs nothing else of faultline: a bad address is one line on stderr and exit code 2.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Annotated

import typer

USAGE_ERROR = 2


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
    from chaos.toxiproxy.server import bind_api, serve

    try:
        sock = bind_api(host, port)
    except (OSError, OverflowError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        print(f"faultline: cannot listen on {host}:{port}: {reason}", file=sys.stderr)
        raise typer.Exit(USAGE_ERROR) from None

    def ready(url: str) -> None:
        print(f"listening on {url}", flush=True)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(seed=seed, ready=ready, stop=stop, sock=sock)

    asyncio.run(main())


def main() -> None:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(toxiproxy)
    app(prog_name="python -m chaos.toxiproxy")
