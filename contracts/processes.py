"""A service as its own uvicorn process on a socket bound here (port 0), so fuzzing the
gateway in-process does not share one interpreter (and its lock) with four more servers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from harness import polling
from harness.processes import tail, terminate
from harness.topology import load_topology

STARTUP_TIMEOUT_S = 30.0


@contextmanager
def service_process(service: str, env: Mapping[str, str]) -> Iterator[str]:
    """Run `service` (its topology app) with `env` (its `SVC_` settings); yield its URL."""
    app = load_topology().service(service).app
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # uvicorn takes an inherited descriptor for a Unix socket and so never sets TCP_NODELAY;
    # accepted connections inherit it from here (Linux), sparing ~40 ms per response.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    log = Path(tempfile.mkstemp(prefix=f"fl-{service}-", suffix=".log")[1])
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", app, "--fd", str(sock.fileno()), "--no-access-log"],
            env={**os.environ, **env},
            pass_fds=[sock.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    sock.close()  # the child has its own copy
    try:
        _wait_healthy(url, process, log)
        yield url
    finally:
        terminate([process.pid])
        process.wait(10)
        log.unlink(missing_ok=True)


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    def healthy() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}:\n{tail(log)}")
        try:
            return httpx.get(f"{url}/health", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    if not polling.until(healthy, within=STARTUP_TIMEOUT_S, interval=0.1):
        raise RuntimeError(f"{url} did not become healthy within {STARTUP_TIMEOUT_S:.0f}s")
