"""Child processes: own session, stop with a grace period, and the state file on disk."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from harness import polling, processes
from harness.errors import UserError
from harness.state import ProxyState, ServiceState, StackState, read_state, write_state

pytestmark = pytest.mark.integration

IGNORES_TERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True);"
    " time.sleep(60)"
)


def _spawn(code: str, tmp_path):
    log = tmp_path / "logs" / "child.log"
    proc = processes.spawn([sys.executable, "-c", code], {"PATH": "/usr/bin:/bin"}, log)
    assert polling.until(lambda: "up" in log.read_text(), within=10, interval=0.02)
    return proc, log


def test_child_leads_its_own_session_so_it_outlives_a_terminal_interrupt(tmp_path):
    import os

    proc, log = _spawn("print('up', flush=True); import time; time.sleep(60)", tmp_path)
    try:
        assert os.getsid(proc.pid) == proc.pid != os.getsid(0)
        assert processes.alive(proc.pid)
        assert "up" in processes.tail(log)
    finally:
        processes.terminate([proc.pid])
    assert not processes.alive(proc.pid)


def test_terminate_escalates_to_sigkill_when_sigterm_is_ignored(tmp_path):
    proc, _ = _spawn(IGNORES_TERM, tmp_path)
    t0 = time.monotonic()
    processes.terminate([proc.pid], grace=0.5)
    assert not processes.alive(proc.pid)
    assert proc.wait(1) == -signal.SIGKILL
    assert 0.4 < time.monotonic() - t0 < 5


def test_a_paused_process_is_still_stopped(tmp_path):
    proc, _ = _spawn("print('up', flush=True); import time; time.sleep(60)", tmp_path)
    processes.signal_group(proc.pid, signal.SIGSTOP)
    processes.terminate([proc.pid], grace=2)
    assert proc.wait(1) == -signal.SIGTERM


def test_free_port_is_bindable_and_in_use_detection_works():
    import socket

    port = processes.free_port()
    assert not processes.port_in_use(port)
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        assert processes.port_in_use(port)


def _state(run_id: str) -> StackState:
    return StackState(
        run_id=run_id,
        topology="t.yaml",
        namespace=f"fl_{run_id}",
        postgres_url="postgresql://postgres@127.0.0.1:5432/postgres",
        rabbitmq_url="amqp://guest:guest@127.0.0.1:5672/",
        toxiproxy_url="http://127.0.0.1:8474",
        toxiproxy_embedded=True,
        toxiproxy_pid=1,
        gateway_url="http://127.0.0.1:8080",
        services={"gateway": ServiceState("gateway", 2, 8080, "http://127.0.0.1:8080", "a:b", "l")},
        proxies={"a->b": ProxyState("a->b", "127.0.0.1:1234", "127.0.0.1:8081")},
        databases=[],
        exchanges=[],
        queues=[],
        run_dir="/tmp/x",
        supervisor_pid=3,
    )


def test_state_round_trips_and_replaces_atomically(tmp_path):
    path = tmp_path / "nested" / "stack.json"
    assert read_state(path) is None
    write_state(_state("aaaa"), path)
    write_state(_state("bbbb"), path)
    loaded = read_state(path)
    assert loaded is not None and loaded.run_id == "bbbb"
    assert loaded.services["gateway"].port == 8080
    assert loaded.proxies["a->b"].listen == "127.0.0.1:1234"
    assert [p.name for p in path.parent.iterdir()] == ["stack.json"]  # no temp file left


def test_corrupt_state_file_is_a_user_error(tmp_path):
    path = tmp_path / "stack.json"
    path.write_text("{not json")
    with pytest.raises(UserError, match="remove it and retry"):
        read_state(path)


def test_a_state_file_with_a_wrong_field_names_it(tmp_path):
    path = tmp_path / "stack.json"
    write_state(_state("cccc"), path)
    path.write_text(path.read_text().replace('"port": 8080', '"port": "eighty"'))
    with pytest.raises(UserError, match=r"services\.gateway\.port: .*remove it and retry"):
        read_state(path)


LEAVES_THE_GROUP = (
    "import os, subprocess, sys, time;"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],"
    " start_new_session=True);"
    "print('up', child.pid, flush=True); time.sleep(60)"
)


def test_terminate_reaches_a_child_that_left_the_process_group(tmp_path):
    proc, log = _spawn(LEAVES_THE_GROUP, tmp_path)
    grandchild = int(log.read_text().split()[1])
    assert os.getpgid(grandchild) != os.getpgid(proc.pid)
    processes.terminate([proc.pid], grace=2)
    assert not processes.alive(proc.pid)
    assert not processes.alive(grandchild)
