"""The embedded server as a program, `python -m chaos.toxiproxy` (how the stack starts it) and
`faultline toxiproxy`: one line when ready, clean exit on a signal."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import httpx
import pytest

pytestmark = pytest.mark.integration

PROGRAMS = {
    "module": [sys.executable, "-m", "chaos.toxiproxy"],
    "faultline": [sys.executable, "-m", "faultline", "toxiproxy"],
}


@pytest.fixture(params=list(PROGRAMS))
def program(request) -> list[str]:
    return PROGRAMS[request.param]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serves_until_a_signal_then_exits_0(sig, echo, program):
    proc = subprocess.Popen(
        [*program, "--port", "0", "--seed", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:")
        url = line.split()[-1]
        assert httpx.get(f"{url}/version").json() == {"version": "2.12.0"}
        listen = httpx.post(
            f"{url}/proxies", json={"name": "e", "listen": "127.0.0.1:0", "upstream": echo}
        ).json()["listen"]
        proc.send_signal(sig)
        assert proc.wait(timeout=10) == 0
        assert proc.stdout.read() == ""
        assert "Traceback" not in proc.stderr.read()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(tuple(listen.rsplit(":", 1)), timeout=2)
    finally:
        proc.kill()
        proc.wait()


def test_a_busy_port_is_one_line_and_exit_2(program):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        done = subprocess.run(
            [*program, "--port", str(port)], capture_output=True, text=True, timeout=30
        )
    finally:
        taken.close()
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"faultline: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]
