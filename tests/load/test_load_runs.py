"""Load profiles against the real stack, through Locust in a child process (`pytest -m load`).

Every run is audited after it: nothing lost, duplicated or stuck."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from load.metrics import aggregate
from load.profiles import Profile, Stage

pytestmark = pytest.mark.load

SEED = int(os.environ.get("FAULTLINE_SEED", "1"))
REPORTS = ("summary.json", "junit.xml", "history.csv", "locust.html")


def faultline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "faultline", *args],
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_smoke_holds_its_thresholds_writes_every_report_and_leaves_a_clean_audit(
    faultline_stack: Any, tmp_path: Path
) -> None:
    reports = tmp_path / "smoke"
    done = faultline(
        "load",
        "smoke",
        "--state-file",
        str(faultline_stack.state_file),
        "--report-dir",
        str(reports),
        "--seed",
        str(SEED),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for name in REPORTS:
        assert (reports / name).stat().st_size > 0, name
    summary = json.loads((reports / "summary.json").read_text())
    assert summary["audit"]["passed"] is True
    assert all(t["ok"] for t in summary["thresholds"])
    # Every behaviour of the smoke mix ran, and its requests were checked.
    assert set(summary["iterations"]) <= set(summary["profile"]["mix"])
    assert summary["totals"]["count"] > 0
    assert {c["check"] for c in summary["checks"]} >= {"booking accepted", "booking outcome"}
    junit = (reports / "junit.xml").read_text()
    assert junit.count("<testcase") == len(summary["thresholds"]) + 1
    assert "<failure" not in junit


def test_a_threshold_that_cannot_hold_exits_99_and_abort_on_fail_stops_the_run_early(
    load_profile: Any,
) -> None:
    impossible = "http_req_duration: p(95)<1 abortOnFail"
    result = load_profile("smoke", duration="40s", thresholds=[impossible], seed=SEED)
    assert result.exit_code == 99
    failed = [v for v in result.verdicts if not v.ok]
    assert [v.threshold.source for v in failed] == [impossible]
    assert result.summary["aborted_by"] == impossible
    # Aborted at a live judgement, long before the profile's 40 s.
    assert result.summary["elapsed_s"] < 40 / 2
    assert result.summary["audit"]["passed"] is True


def test_two_worker_processes_give_merged_figures_that_add_up(load_profile: Any) -> None:
    result = load_profile("smoke", duration="6s", processes=2, seed=SEED)
    assert result.exit_code == 0, result.summary
    merged = int(aggregate(result.seconds, "http_reqs").count)
    per_worker = result.summary["workers_requests"]
    # Both workers sent load, and what the master merged is what each sent and what
    # Locust's own statistics counted.
    assert set(per_worker) == {"0", "1"}
    assert all(n > 0 for n in per_worker.values())
    assert merged == sum(per_worker.values()) == result.summary["locust"]["requests"]
    assert set(result.summary["generator"]["workers"]) == {"0", "1"}


def test_the_open_model_starts_iterations_on_schedule_and_counts_those_it_could_not(
    load_profile: Any,
) -> None:
    # One user cannot run 200 bookings a second (5 ms for a saga through the gateway, its
    # proxies and three services): the schedule goes on regardless, and each
    # iteration that found the user busy is dropped and counted.
    rate, seconds = 200.0, 4.0
    squeezed = Profile(
        "one-user-pool",
        "an arrival rate no single user can keep up with",
        "open",
        (Stage(seconds, rate),),
        ("dropped_iterations: count==0",),
        start=rate,
        max_in_flight=1,
        mix={"book": 1},
    )
    result = load_profile(squeezed, seed=SEED)
    assert result.exit_code == 99
    started = aggregate(result.seconds, "iterations").count
    dropped = aggregate(result.seconds, "dropped_iterations").count
    assert started > 0 and dropped > 0
    # Each is filed under the second it was due in: every whole second of the schedule holds
    # the rate, started or dropped, however slow the bookings were.
    scheduled = [
        aggregate([s], "iterations").count + aggregate([s], "dropped_iterations").count
        for s in result.seconds
    ]
    inner = [n for n in scheduled if n][1:-1]
    assert inner, scheduled
    assert all(0.9 * rate <= n <= 1.1 * rate for n in inner), scheduled
    assert result.summary["audit"]["passed"] is True


def test_a_bad_threshold_is_one_line_and_exit_2() -> None:
    done = faultline("load", "smoke", "--host", "http://127.0.0.1:9", "-t", "http_req_duration<5")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "http_req_duration<5" in lines[0], done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_with_the_stack_down_it_is_one_line_and_exit_2(unused_tcp_port: int) -> None:
    done = faultline("load", "smoke", "--host", f"http://127.0.0.1:{unused_tcp_port}")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no suite answers" in lines[0], done.stderr
