"""Game days against the real suite: a short version of every shipped scenario, the one with
breakers off failing by name, and rollback under real signals (SIGINT, SIGTERM, SIGKILL then
`faultline recover`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chaos.faults import FaultJournal
from harness.polling import until
from harness.toxiproxy import ToxiproxyClient
from scenarios.loader import load
from scenarios.runner import EXIT_FAILED, EXIT_INTERRUPTED, GameDay, Options

pytestmark = pytest.mark.e2e

SCENARIOS = Path("scenarios")
# Each shipped scenario's clock shrunk to about this long; `make soak-gamedays` sets
# FAULTLINE_GAMEDAY_FULL=1 and runs them at their real length.
FULL = os.environ.get("FAULTLINE_GAMEDAY_FULL") == "1"
SHORT_S = 9.0


def short(name: str, stack: Any, tmp_path: Path, seed: int) -> GameDay:
    scenario = load(SCENARIOS / f"{name}.yaml", topology=stack.topology)
    options = Options(
        seed=seed,
        time_scale=1.0 if FULL else min(1.0, SHORT_S / scenario.duration),
        report_dir=tmp_path / "report",
        dashboard=False,
        source=f"scenarios/{name}.yaml",
        # The built-in workload: its requests start on a fixed schedule from the first
        # second, which phases of a few seconds need (the Locust profile's users log in and
        # ramp first; the load layer's own tests cover it).
        builtin_workload=True,
    )
    return GameDay(scenario, stack, options)


def proxies_clean(stack: Any) -> list[str]:
    """What is left on the proxy server: toxics, disabled proxies (empty when clean)."""
    with ToxiproxyClient(stack.toxiproxy_url) as client:
        listed = client.proxies()
    left = [f"{n} disabled" for n, p in listed.items() if not p.get("enabled", True)]
    left += [f"{t['name']} on {n}" for n, p in listed.items() for t in p.get("toxics") or []]
    return left


@pytest.mark.parametrize(
    "name",
    [
        "payments-down",
        "payments-slow",
        "bookings-db-latency",
        "broker-down",
        "bookings-killed",
        "gateway-bookings-cut",
        "notifications-db-away",
    ],
)
def test_shipped_scenario_passes_in_short(
    name: str, faultline_stack: Any, tmp_path: Path, seed_offset: int
) -> None:
    run = short(name, faultline_stack, tmp_path, seed=100 + seed_offset)
    code = run.run()
    failed = [f"{e['name']}: {e['detail']}" for e in run.final["expectations"] if not e["ok"]]
    assert code == 0, (run.final["outcome"], run.final["abort"], failed)
    assert run.final["steady_states"]["after"]["steady_state_met"]
    for fault in run.final["faults"]:
        assert fault["status"] == "healed"
        assert fault["recovery_s"] is not None
    assert proxies_clean(faultline_stack) == []
    written = json.loads((tmp_path / "report" / "journal.json").read_text())
    assert written["outcome"] == "passed"
    assert written["metrics"]["seconds"], "per-second metrics recorded"
    assert (tmp_path / "report" / "report.html").exists()


@pytest.fixture
def seed_offset() -> int:
    return int(os.environ.get("FAULTLINE_SEED", "1")) % 1000


def test_breakers_off_fails_naming_the_breaker(
    faultline_stack_factory: Any, tmp_path: Path
) -> None:
    with faultline_stack_factory.single_use(env={"SVC_BREAKERS": "false"}) as stack:
        _breakers_off_fails(stack, tmp_path)


def _breakers_off_fails(stack: Any, tmp_path: Path) -> None:
    scenario = load(SCENARIOS / "breakers-off.yaml", topology=stack.topology)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "faultline",
            "gameday",
            "scenarios/breakers-off.yaml",
            "--state-file",
            str(stack.state_file),
            "--time-scale",
            f"{SHORT_S / scenario.duration:.3f}",
            "--no-dashboard",
            "--builtin-workload",
            "--seed",
            "5",
            "--report-dir",
            str(tmp_path / "report"),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == EXIT_FAILED, result.stdout + result.stderr
    assert "expectation failed: breaker bookings->payments opens within 10 s" in result.stdout
    journal = json.loads((tmp_path / "report" / "journal.json").read_text())
    failed = {e["kind"] for e in journal["expectations"] if not e["ok"]}
    assert "breaker_opens" in failed
    assert proxies_clean(stack) == []


INTERRUPTED = """\
title: two faults at once, to be interrupted
duration: 60s
steady_state:
  probes:
    - ready: all
    - breakers_closed: all
load: {rate: 3}
timeline:
  - {name: slow, at: 2s, for: 50s,
     fault: {kind: toxic, edge: bookings->payments, type: latency, attributes: {latency: 300}}}
  - {name: cut, at: 2s, for: 50s, fault: {kind: down, edges: [gateway->notifications]}}
expectations:
  - {phase: after, audit_clean: true}
"""


def start_runner(tmp_path: Path, stack: Any) -> tuple[subprocess.Popen[str], Path]:
    scenario = tmp_path / "interrupted.yaml"
    scenario.write_text(INTERRUPTED)
    home = tmp_path / "home"
    env = {**os.environ, "FAULTLINE_HOME": str(home)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "faultline",
            "gameday",
            str(scenario),
            "--state-file",
            str(stack.state_file),
            "--no-dashboard",
            "--builtin-workload",
            "--seed",
            "9",
            "--report-dir",
            str(tmp_path / "report"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return proc, home


def wait_both_applied(home: Path, proc: subprocess.Popen[str], stack: Any) -> FaultJournal:
    """Until both faults are journaled *and* in force on the proxy server (the journal line is
    written before its fault is applied, so the journal alone is not the event)."""

    def applied() -> bool:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        journals = list((home / "gameday").glob("*.faults.jsonl"))
        return (
            bool(journals)
            and len(FaultJournal(journals[0]).pending()) == 2
            and (len(proxies_clean(stack)) == 2)
        )

    assert until(applied, within=120, interval=0.2), "the runner never applied both faults"
    return FaultJournal(next((home / "gameday").glob("*.faults.jsonl")))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_a_signal_mid_run_heals_and_steady_state_returns(
    sig: int, faultline_stack: Any, tmp_path: Path
) -> None:
    proc, home = start_runner(tmp_path, faultline_stack)
    journal = wait_both_applied(home, proc, faultline_stack)
    assert proxies_clean(faultline_stack), "the faults are in force before the signal"
    proc.send_signal(sig)
    output, _ = proc.communicate(timeout=180)
    assert proc.returncode == EXIT_INTERRUPTED, output
    assert proxies_clean(faultline_stack) == []
    assert journal.pending() == []
    report = json.loads((tmp_path / "report" / "journal.json").read_text())
    assert report["status"] == "interrupted"
    assert report["abort"]["signal"] == signal.Signals(sig).name
    assert report["steady_states"]["after"]["steady_state_met"], report["steady_states"]
    assert {f["status"] for f in report["faults"]} == {"healed"}


def test_recover_heals_after_the_runner_is_sigkilled(faultline_stack: Any, tmp_path: Path) -> None:
    proc, home = start_runner(tmp_path, faultline_stack)
    wait_both_applied(home, proc, faultline_stack)
    proc.kill()
    proc.wait(timeout=30)
    left = proxies_clean(faultline_stack)
    assert any("disabled" in x for x in left) and any(" on " in x for x in left), left
    env = {**os.environ, "FAULTLINE_HOME": str(home)}
    result = subprocess.run(
        [sys.executable, "-m", "faultline", "recover"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "healed" in result.stdout
    assert proxies_clean(faultline_stack) == []
    again = subprocess.run(
        [sys.executable, "-m", "faultline", "recover"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "nothing to recover" in again.stdout


LIVE = """\
title: live page during a real run
duration: 11s
steady_state:
  probes: [{ready: all}]
load: {rate: 3}
timeline:
  - {name: slow-payments, at: 3s, for: 5s,
     fault: {kind: toxic, edge: bookings->payments, type: latency, attributes: {latency: 200}}}
expectations:
  - {phase: slow-payments, threshold: "http_req_failed: rate<0.5"}
"""


def test_live_dashboard_updates_during_a_real_run(
    faultline_stack: Any, tmp_path: Path, open_page: Any
) -> None:
    scenario = tmp_path / "live.yaml"
    scenario.write_text(LIVE)
    env = {**os.environ, "FAULTLINE_HOME": str(tmp_path / "home")}
    argv = [sys.executable, "-m", "faultline", "gameday", str(scenario), "--seed", "4"]
    argv += ["--builtin-workload"]
    argv += ["--state-file", str(faultline_stack.state_file)]
    argv += ["--report-dir", str(tmp_path / "report")]
    proc = subprocess.Popen(
        argv, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    try:
        assert proc.stderr is not None
        url = None
        for line in proc.stderr:
            if line.startswith("dashboard: "):
                url = line.split(" ", 1)[1].strip()
                break
        assert url, "the runner printed no dashboard URL"
        base = url.rstrip("/")
        page = open_page(url, allow=lambda u: u.startswith(base)).page
        page.wait_for_selector("#app[data-live=live]", state="attached", timeout=30_000)
        # Before the fault the window is only planned; once applied it is drawn as active.
        page.wait_for_selector(
            "#chart-rps g.fault-window.active[data-fault='slow-payments']", timeout=60_000
        )
        page.wait_for_selector(
            "#chart-rps g.fault-window.healed[data-fault='slow-payments']", timeout=60_000
        )
        proc.stderr.read()
        assert proc.wait(timeout=120) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proxies_clean(faultline_stack) == []


def test_a_rollback_that_fails_is_exit_96_and_says_what(
    faultline_stack: Any, tmp_path: Path
) -> None:
    """The proxy a fault took down is deleted behind the runner's back: re-enabling it fails,
    and the run must say so (exit 96), not report a clean rollback."""
    proc, home = start_runner(tmp_path, faultline_stack)
    wait_both_applied(home, proc, faultline_stack)
    edge = "gateway->notifications"
    with ToxiproxyClient(faultline_stack.toxiproxy_url) as client:
        saved = client.proxies()[edge]
        client.delete_proxy(edge)
        try:
            proc.send_signal(signal.SIGINT)
            output, _ = proc.communicate(timeout=180)
        finally:
            client.populate(
                [{"name": edge, "listen": saved["listen"], "upstream": saved["upstream"]}]
            )
    assert proc.returncode == 96, output
    report = json.loads((tmp_path / "report" / "journal.json").read_text())
    assert report["outcome"] == "rollback_failed"
    assert [f["name"] for f in report["faults"] if f["status"] == "heal_failed"] == ["cut"]
    assert proxies_clean(faultline_stack) == []
