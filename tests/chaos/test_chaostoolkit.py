"""The Chaos Toolkit extension, driven by the real `chaos run` against the real stack.

The shipped experiment cuts payments off under a burst of bookings: the journal must show the
steady state met before and after, the breaker in front of payments open during the outage,
the rollback run, and no fault left on any proxy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chaos.faults import FaultError, FaultJournal
from faultline.chaostoolkit import actions, probes
from faultline.chaostoolkit.target import STATE_FILE_KEY, journal_path
from harness.toxiproxy import ToxiproxyClient
from load.thresholds import ThresholdError

pytestmark = pytest.mark.chaos

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENT = ROOT / "scenarios" / "chaostoolkit" / "experiment.json"


@pytest.fixture
def recorded_stack(faultline_stack_factory: Any) -> Any:
    """A stack this session started, with its state file, through which every activity
    attaches (a stack given only by URL has none). Without settings it is the session's
    `faultline_stack` itself."""
    return faultline_stack_factory()


def _state_file(stack: Any) -> Path:
    return Path(stack.state_file).resolve()  # `chaos run` works in another directory


def _chaos() -> str:
    found = shutil.which("chaos", path=str(Path(sys.executable).parent)) or shutil.which("chaos")
    if found is None:
        pytest.fail("the `chaos` command is missing: pip install -e '.[chaostoolkit]'")
    return found


def _assert_no_fault_left(stack: Any) -> None:
    with ToxiproxyClient(stack.toxiproxy_url) as client:
        proxies = client.proxies()
    left = {name: p for name, p in proxies.items() if p["toxics"] or not p["enabled"]}
    assert left == {}, f"faults left on proxies: {left}"


def _by_name(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {entry["activity"]["name"]: entry for entry in entries}


def test_chaos_run_drives_the_stack_and_its_journal_tells_the_outcome(
    recorded_stack: Any, tmp_path: Path
) -> None:
    state_file = _state_file(recorded_stack)
    journal_file = tmp_path / "journal.json"
    env = {**os.environ, "FAULTLINE_STATE_FILE": str(state_file)}
    done = subprocess.run(
        [
            _chaos(),
            "--no-version-check",
            "run",
            "--journal-path",
            str(journal_file),
            str(EXPERIMENT),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert journal_file.exists(), done.stdout + done.stderr
    journal = json.loads(journal_file.read_text())
    assert done.returncode == 0, done.stdout + done.stderr

    assert journal["status"] == "completed"
    assert journal["deviated"] is False
    for moment in ("before", "after"):
        state = journal["steady_states"][moment]
        assert state["steady_state_met"] is True, state
        assert [p["tolerance_met"] for p in state["probes"]] == [True, True]

    run = _by_name(journal["run"])
    assert [entry["status"] for entry in journal["run"]] == ["succeeded"] * 5
    assert run["payments-down"]["output"]["injected"] == "bookings->payments down"
    assert run["payments-breaker-opened"]["output"] == "open"
    during = run["bookings-during-the-outage"]["output"]
    assert during["requests"] > 0 and during["passed"], during
    # Payments unreachable: no booking placed during the outage was confirmed.
    assert "confirmed" not in during["outcomes"], during
    assert run["payments-back"]["output"]["healed"] == ["bookings->payments down"]
    after = run["bookings-after-recovery"]["output"]
    assert after["passed"] and after["requests"] > 0, after

    rollbacks = _by_name(journal["rollbacks"])
    assert rollbacks["heal-every-fault"]["status"] == "succeeded"
    _assert_no_fault_left(recorded_stack)
    assert FaultJournal(journal_path(recorded_stack)).pending() == []


HEAL = """
import json, sys
from faultline.chaostoolkit import actions
print(json.dumps(actions.heal({"faultline_state_file": sys.argv[1]})))
"""


def test_a_fault_injected_by_one_process_is_healed_by_another(recorded_stack: Any) -> None:
    config = {STATE_FILE_KEY: str(_state_file(recorded_stack))}
    first = actions.inject(
        {
            "kind": "toxic",
            "edge": "bookings->facilities",
            "type": "latency",
            "attributes": {"latency": 50},
        },
        config,
    )
    second = actions.inject({"kind": "database", "service": "notifications"}, config)
    try:
        assert first["applied"] == ["latency(latency=50) downstream on bookings->facilities"]
        assert second["applied"] == ["notifications->postgres down"]
        assert second["pending"] == first["applied"] + second["applied"]
        with ToxiproxyClient(recorded_stack.toxiproxy_url) as client:
            proxies = client.proxies()
        assert [t["type"] for t in proxies["bookings->facilities"]["toxics"]] == ["latency"]
        assert proxies["notifications->postgres"]["enabled"] is False
    finally:
        healer = subprocess.run(
            [sys.executable, "-c", HEAL, config[STATE_FILE_KEY]],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert healer.returncode == 0, healer.stderr
    # Newest first, as the fault API undoes.
    assert json.loads(healer.stdout)["healed"] == second["applied"] + first["applied"]
    _assert_no_fault_left(recorded_stack)


def test_an_unknown_edge_is_refused_and_nothing_is_left_pending(recorded_stack: Any) -> None:
    config = {STATE_FILE_KEY: str(_state_file(recorded_stack))}
    with pytest.raises(FaultError, match="unknown edge 'bookings->nowhere'"):
        actions.inject({"kind": "down", "edges": ["bookings->nowhere"]}, config)
    assert FaultJournal(journal_path(recorded_stack)).pending() == []


@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        ({"kind": "volcano"}, "kind"),
        ({"kind": "http", "edge": "gateway->bookings"}, "exactly one of status or latency_ms"),
        ({"kind": "process", "service": "bookings", "action": "melt"}, "action"),
    ],
)
def test_bad_fault_data_is_one_line_before_any_stack_is_looked_for(
    fault: dict[str, Any], problem: str, tmp_path: Path
) -> None:
    config = {STATE_FILE_KEY: str(tmp_path / "none.json")}  # no stack there
    with pytest.raises(FaultError, match=problem) as raised:
        actions.inject(fault, config)
    assert "\n" not in str(raised.value)


def test_a_bad_threshold_fails_before_any_traffic(tmp_path: Path) -> None:
    config = {STATE_FILE_KEY: str(tmp_path / "none.json")}  # no stack: no traffic possible
    with pytest.raises(ThresholdError, match="unknown metric"):
        probes.load_burst("http_req_nonsense: rate<0.1", configuration=config)
    with pytest.raises(ThresholdError, match="judged as a whole"):
        probes.load_burst("http_req_failed: rate<0.1 over 10s", configuration=config)


def test_recover_names_an_experiments_faults_and_heals_them_with_force(
    recorded_stack: Any, tmp_path: Path
) -> None:
    state_file = str(_state_file(recorded_stack))
    injected = actions.inject(
        {"kind": "http", "edge": "gateway->payments", "status": 503},
        {STATE_FILE_KEY: state_file},
    )

    def recover(*flags: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "faultline", "recover", "--state-file", state_file, *flags],
            env={**os.environ, "FAULTLINE_HOME": str(tmp_path)},  # no game day journals here
            capture_output=True,
            text=True,
            timeout=60,
        )

    try:
        told = recover()
        assert told.returncode == 0, told.stdout + told.stderr
        assert "1 fault(s) still applied" in told.stdout and "--force" in told.stdout
        with ToxiproxyClient(recorded_stack.toxiproxy_url) as client:
            assert client.proxies()["gateway->payments"]["toxics"], "left alone without --force"
        forced = recover("--force")
        assert forced.returncode == 0, forced.stdout + forced.stderr
        assert f"chaos toolkit: healed {injected['applied'][0]}" in forced.stdout
    finally:
        actions.heal({STATE_FILE_KEY: state_file})
    _assert_no_fault_left(recorded_stack)
    assert "nothing to recover" in recover().stdout
