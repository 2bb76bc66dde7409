"""`faultline toxiproxy`: the embedded Toxiproxy-compatible server in the foreground, the same
program as `python -m chaos.toxiproxy`."""

from __future__ import annotations

import typer

from chaos.toxiproxy.cli import toxiproxy

app = typer.Typer()
app.command("toxiproxy", help="Run the embedded Toxiproxy-compatible fault proxy.")(toxiproxy)
