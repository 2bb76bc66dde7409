"""The proxy server a stack routes every edge through: a real Toxiproxy named by URL, or
faultline's embedded one started as a child process (`python -m chaos.toxiproxy`).

The stack talks to either only through `harness.toxiproxy.ToxiproxyClient`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from harness import polling, processes
from harness.errors import UserError
from harness.toxiproxy import answers

START_TIMEOUT_S = 15.0


def check_real(url: str, env_name: str) -> None:
    if not answers(url, timeout=3.0):
        raise UserError(
            f"Toxiproxy is not reachable at {url}; unset {env_name} to use the embedded "
            "proxy server, or start Toxiproxy there (`docker compose up -d toxiproxy`)"
        )


def start_embedded(
    port: int, log: Path, seed: int | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """Run the embedded server as a child process; return it and its API URL once it answers."""
    argv = [sys.executable, "-m", "chaos.toxiproxy", "--host", "127.0.0.1", "--port", str(port)]
    if seed is not None:
        argv += ["--seed", str(seed)]
    proc = processes.spawn(argv, {**os.environ, "PYTHONUNBUFFERED": "1"}, log)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise UserError(
                f"the embedded proxy server exited with code {proc.returncode}:\n"
                + processes.tail(log, 10)
            )
        return answers(url, timeout=0.5)

    if polling.until(up, within=START_TIMEOUT_S, interval=0.05):
        return proc, url
    processes.terminate([proc.pid])
    proc.poll()
    raise UserError(f"the embedded proxy server did not answer on {url} within {START_TIMEOUT_S}s")
