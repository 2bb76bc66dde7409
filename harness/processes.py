"""Child processes of a stack: start in their own session, signal, stop with a grace period.

Each process leads its own session (and process group) so that `faultline up --detach` can
exit while they keep running, a Ctrl-C on the terminal reaches only the supervisor (which
then tears down in order), and a signal sent to a service reaches every process it spawned.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil

from harness import polling

STOP_GRACE_S = 5.0
_GONE = (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
_random = random.SystemRandom()


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def free_port(host: str = "127.0.0.1") -> int:
    """A free port for a child process to bind later, chosen below the ephemeral range.

    A port from bind(0) lies in the ephemeral range, where the proxies (listening on port 0)
    and every outgoing connection draw theirs too, so it could be taken before the child binds
    it. Below that range only another process choosing ports itself can collide.
    """
    low, _ = _ephemeral_range()
    floor = max(1024, low - 12000)
    for _ in range(100):
        port = _random.randrange(floor, low)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def spawn(argv: Sequence[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(
            list(argv),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (exited, not yet reaped by its parent) counts as gone.

    Only looks: the `Popen` that started a child still reaps it and gets its exit status.
    """
    try:
        return psutil.Process(pid).status() not in _GONE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def cmdline(pid: int) -> str:
    """The command line of `pid`, space-separated ("" when gone or not ours to read)."""
    try:
        return " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return ""


def signal_group(pid: int, sig: int) -> None:
    """Signal the process group `pid` leads (falls back to the process alone)."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _tree(pids: Sequence[int]) -> list[psutil.Process]:
    """The processes and all their descendants, as they are now."""
    found: list[psutil.Process] = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            parent = psutil.Process(pid)
            found += [parent, *parent.children(recursive=True)]
    return found


def _signal_tree(tree: Sequence[psutil.Process], sig: int) -> None:
    for proc in tree:
        # psutil checks the process is still the one listed (not a recycled pid) first.
        with contextlib.suppress(psutil.Error):
            proc.send_signal(sig)


def wait_gone(pids: Sequence[int], timeout: float) -> list[int]:
    """Wait until the processes have exited; return those still running at the deadline."""
    left = list(pids)

    def gone() -> bool:
        left[:] = [p for p in left if alive(p)]
        return not left

    polling.until(gone, within=timeout, interval=0.05)
    return left


def terminate(pids: Sequence[int], grace: float = STOP_GRACE_S) -> None:
    """SIGTERM each process, its group and every descendant (one that left the group too);
    SIGKILL what still runs after `grace` seconds."""
    tree = _tree(pids)
    for pid in pids:
        signal_group(pid, signal.SIGCONT)  # a paused process cannot handle SIGTERM
        signal_group(pid, signal.SIGTERM)
    _signal_tree(tree, signal.SIGCONT)
    _signal_tree(tree, signal.SIGTERM)
    everyone = sorted({*pids, *(proc.pid for proc in tree)})
    left = wait_gone(everyone, grace)
    for pid in left:
        signal_group(pid, signal.SIGKILL)
    _signal_tree([proc for proc in tree if proc.pid in left], signal.SIGKILL)
    wait_gone(left, 2.0)


def tail(path: Path, lines: int = 20) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
