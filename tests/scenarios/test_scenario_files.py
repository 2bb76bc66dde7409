"""Scenario files: the shipped ones load and match the shipped JSON Schema; a bad one is one
line naming the file, the line and what is wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from harness.topology import load_topology
from scenarios.loader import ScenarioError, load
from scenarios.schema import SCHEMA_PATH, render

SCENARIOS = sorted(Path("scenarios").glob("*.yaml"))

GOOD = """\
title: t
duration: 30s
steady_state:
  probes:
    - ready: all
timeline:
  - name: cut
    at: 5s
    for: 10s
    fault: {kind: down, edges: [gateway->bookings]}
expectations:
  - {phase: after, audit_clean: true}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return path


def test_shipped_schema_is_the_models() -> None:
    assert SCHEMA_PATH.read_text() == render(), "run `python -m scenarios.schema`"


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenario_loads_and_validates_against_the_schema(path: Path) -> None:
    load(path, topology=load_topology())
    jsonschema.validate(yaml.safe_load(path.read_text()), json.loads(SCHEMA_PATH.read_text()))


def test_at_least_seven_scenarios_and_one_that_must_fail() -> None:
    names = {p.stem for p in SCENARIOS}
    assert len(names) >= 8
    assert "breakers-off" in names


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (
            GOOD.replace("edges: [gateway->bookings]", "edges: [gateway->nowhere]"),
            10,
            "unknown edge",
        ),
        (GOOD.replace("duration: 30s", "duration: soon"), 2, "bad duration"),
        (
            GOOD.replace("    for: 10s\n", "    for: 10s\n    colour: red\n"),
            10,
            "unknown key 'colour'",
        ),
        (GOOD.replace("phase: after", "phase: later"), 12, "unknown phase 'later'"),
        (GOOD.replace("at: 5s", "at: 25s"), 9, "after the run's 30s"),
        (
            GOOD.replace("    - ready: all", "    - ready: all\n      threshold: x"),
            5,
            "exactly one",
        ),
        (GOOD.replace("title: t\n", ""), 1, "needs 'title'"),
        (
            GOOD + "safeguards:\n  - {name: e, threshold: 'http_req_failed: ratio<1'}\n",
            14,
            "bad threshold",
        ),
        (GOOD.replace("duration: 30s", "duration: [30s"), 3, "not valid YAML"),
    ],
)
def test_bad_file_is_one_line_with_its_line(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as caught:
        load(path, topology=load_topology())
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:{line}: "), message
    assert words in message
    assert caught.value.exit_code == 2


def test_time_scale_shrinks_the_timeline_not_the_expectations(tmp_path: Path) -> None:
    scenario = load(write(tmp_path, GOOD)).scaled(0.5)
    assert scenario.duration == 15
    assert scenario.phases() == [("before", 0, 2.5), ("cut", 2.5, 7.5), ("after", 7.5, 15)]


def faultline(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FAULTLINE_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "faultline", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_bad_file_exits_2_with_one_line_and_touches_nothing(tmp_path: Path) -> None:
    bad = write(tmp_path, GOOD.replace("at: 5s", "at: never"))
    home = tmp_path / "home"
    result = faultline("gameday", str(bad), home=home)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"{bad}:8:" in result.stderr
    assert not home.exists()


def test_dry_run_prints_the_plan_and_touches_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = faultline("gameday", "scenarios/payments-down.yaml", "--dry-run", home=home)
    assert result.returncode == 0, result.stderr
    for words in ("payments-down", "bookings->payments", "opens within 10s", "dry run"):
        assert words in result.stdout
    assert not home.exists()


def test_unknown_campaign_layer_is_a_usage_error(tmp_path: Path) -> None:
    result = faultline("run", "--only", "nope", home=tmp_path / "home")
    assert result.returncode == 2
    assert "unknown layer 'nope'" in result.stderr
