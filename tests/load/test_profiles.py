"""Profiles and overrides, the capacity of a stepped run, the generator's saturation, and the
reports, on seconds built by hand (no Locust, no stack)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from harness.errors import UserError
from load import exit_codes, report
from load import verdicts as verdict_json
from load.capacity import capacity
from load.generator import saturation
from load.metrics import Recorder, Second
from load.profiles import Overrides, Profile, Stage, get_profile, list_profiles
from load.thresholds import Judge, parse

pytestmark = pytest.mark.unit

BOOKING = "POST /api/bookings"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_every_profile_has_thresholds_that_parse_and_a_known_mix() -> None:
    names = {p.name for p in list_profiles()}
    assert names == {"smoke", "baseline", "spike", "soak", "contention", "breakpoint"}
    for profile in list_profiles():
        assert profile.thresholds
        for text in (*profile.thresholds, *profile.step_slo):
            parse(text)
        assert profile.duration_s > 0 and profile.peak > 0


def test_an_unknown_profile_is_a_usage_error_naming_the_known_ones() -> None:
    with pytest.raises(UserError, match="smoke"):
        get_profile("smok")


def test_stages_ramp_linearly_as_in_k6() -> None:
    profile = Profile("p", "", "open", (Stage(10, 10), Stage(10, 10), Stage(10, 0)), ())
    assert [profile.target_at(t) for t in (0, 5, 10, 15, 25, 30, 99)] == [
        0,
        5,
        10,
        10,
        5,
        0,
        0,
    ]


def test_users_and_rate_scale_the_peak_and_keep_the_shape() -> None:
    spike = get_profile("spike")
    doubled = spike.overridden(Overrides(rate=spike.peak * 2))
    assert doubled.model == "open"
    assert [s.target for s in doubled.stages] == [s.target * 2 for s in spike.stages]
    # A closed profile given a rate becomes a constant arrival rate, as long, same mix.
    smoke = get_profile("smoke")
    opened = smoke.overridden(Overrides(rate=3))
    assert (opened.model, opened.peak, opened.duration_s) == ("open", 3, smoke.duration_s)
    assert opened.mix == smoke.mix
    closed = spike.overridden(Overrides(users=7))
    assert (closed.model, closed.target_at(0), closed.target_at(40)) == ("closed", 7, 7)


def test_duration_scales_every_stage() -> None:
    spike = get_profile("spike")
    short = spike.overridden(Overrides(duration_s=23))
    assert short.duration_s == pytest.approx(23)
    ratio = [a.duration_s / b.duration_s for a, b in zip(short.stages, spike.stages, strict=True)]
    assert max(ratio) == pytest.approx(min(ratio))


def test_a_threshold_override_replaces_the_same_figure_and_adds_the_others() -> None:
    baseline = get_profile("baseline")
    mine = baseline.overridden(
        Overrides(thresholds=["http_req_duration: p(95)<300", "iterations: count>5"])
    )
    assert "http_req_duration: p(95)<300" in mine.thresholds
    assert "http_req_duration: p(95)<500" not in mine.thresholds
    # Another tag set is another figure: the booking route's threshold stays.
    assert f"http_req_duration{{name:{BOOKING}}}: p(95)<800" in mine.thresholds
    assert "iterations: count>5" in mine.thresholds
    assert len(mine.thresholds) == len(baseline.thresholds) + 1


@pytest.mark.parametrize(
    "overrides",
    [
        Overrides(users=3, rate=2.0),
        Overrides(users=0),
        Overrides(rate=0),
        Overrides(duration_s=0),
        Overrides(thresholds=["http_req_duration: p95<3"]),
    ],
)
def test_overrides_that_make_no_sense_are_usage_errors(overrides: Overrides) -> None:
    with pytest.raises(UserError):
        get_profile("smoke").overridden(overrides)


def test_a_profile_travels_as_json_unchanged() -> None:
    for profile in list_profiles():
        assert Profile.from_json(profile.to_json()) == profile


def _stepped(per_step_ms: dict[float, float], failed_at: float | None = None) -> list[Second]:
    """Seconds of the breakpoint profile where step `rate` took `per_step_ms[rate]` ms."""
    profile = get_profile("breakpoint")
    clock = Clock()
    rec = Recorder(clock, started=clock.now)
    for t in range(int(profile.duration_s)):
        rate = profile.target_at(t + 0.5)
        if rate > max(per_step_ms):
            break
        if rate not in per_step_ms:  # the climb between two steps
            continue
        clock.now = rec.started + t + 0.5
        for _ in range(int(rate)):
            rec.trend("http_req_duration", per_step_ms[rate], name=BOOKING)
            rec.rate("http_req_failed", rate == failed_at, name=BOOKING)
            rec.rate("checks", True, check="booking accepted")
    return rec.seconds()


def test_capacity_is_the_last_step_that_held_before_the_first_that_broke() -> None:
    profile = get_profile("breakpoint")
    seconds = _stepped({2: 100, 4: 200, 6: 400, 8: 1500, 10: 300})
    found = capacity(profile, seconds)
    assert found["sustained_rate"] == 6
    assert found["broken"] is True
    # A step after the first broken one does not count, even when it held.
    assert [s["held"] for s in found["steps"]] == [True, True, True, False, True]


def test_a_step_with_any_failed_request_did_not_hold() -> None:
    found = capacity(get_profile("breakpoint"), _stepped({2: 100, 4: 100, 6: 100}, failed_at=4))
    assert found["sustained_rate"] == 2


def test_a_run_that_never_broke_reports_its_highest_step_as_held() -> None:
    found = capacity(get_profile("breakpoint"), _stepped({2: 100, 4: 100}))
    assert (found["sustained_rate"], found["broken"]) == (4, False)


def _busy(cpu: list[float], lag: list[float] | None = None, worker: str = "0") -> list[Second]:
    clock = Clock()
    rec = Recorder(clock, started=clock.now)
    for t, c in enumerate(cpu):
        clock.now = rec.started + t
        rec.gauge("generator_cpu", c, worker=worker)
        rec.gauge("loop_lag_ms", (lag or [0.0] * len(cpu))[t], worker=worker)
    return rec.seconds()


def test_a_generator_busy_for_a_fifth_of_the_run_is_saturated_and_one_spike_is_not() -> None:
    assert saturation(_busy([20.0] * 9 + [99.0]))["saturated"] is False
    assert saturation(_busy([20.0] * 8 + [95.0, 96.0]))["saturated"] is True
    assert saturation(_busy([5.0] * 10, lag=[0.0] * 7 + [400.0] * 3))["saturated"] is True
    merged = _busy([20.0] * 10, worker="0") + _busy([99.0] * 10, worker="1")
    found = saturation(merged)
    assert found["saturated"] is True
    assert found["workers"]["1"]["saturated"] and not found["workers"]["0"]["saturated"]


def test_verdicts_travel_as_json_and_keep_their_judgement() -> None:
    clock = Clock()
    rec = Recorder(clock, started=clock.now)
    for t in range(12):
        clock.now = rec.started + t
        for ms in (100.0, 900.0 if t > 8 else 100.0):
            rec.trend("http_req_duration", ms, name=BOOKING)
    judge = Judge(
        [parse("http_req_duration: p(95)<500 over 3s"), parse("http_req_duration: max<5000")]
    )
    judge.tick(rec.seconds(), 12)
    for verdict in judge.finish(rec.seconds(), 12):
        again = verdict_json.load(verdict_json.dump(verdict))
        assert (again.ok, again.value, again.describe()) == (
            verdict.ok,
            verdict.value,
            verdict.describe(),
        )


def test_history_has_true_percentiles_of_each_second_and_junit_a_case_per_threshold(
    tmp_path: Path,
) -> None:
    clock = Clock()
    rec = Recorder(clock, started=clock.now)
    for t, samples in enumerate([[10.0, 20.0, 30.0, 40.0, 1000.0], [5.0] * 5]):
        clock.now = rec.started + t
        for ms in samples:
            rec.count("http_reqs", name=BOOKING)
            rec.trend("http_req_duration", ms, name=BOOKING)
            rec.rate("http_req_failed", ms > 500, name=BOOKING)
    seconds = rec.seconds()
    report.write_history(tmp_path / "history.csv", seconds)
    rows = list(csv.DictReader((tmp_path / "history.csv").open()))
    first = next(r for r in rows if r["t"] == "0" and r["name"] == BOOKING)
    assert (float(first["p50"]), float(first["max"]), first["failures"]) == (30.0, 1000.0, "1")
    assert [r["name"] for r in rows if r["t"] == "1"] == ["*", BOOKING]
    summary = {
        "profile": {"name": "smoke"},
        "started_at": "2026-01-01T00:00:00+00:00",
        "elapsed_s": 2,
        "thresholds": [
            {"threshold": "a", "ok": True, "shown": "1"},
            {"threshold": "b", "ok": False, "shown": "2"},
        ],
        "audit": {"passed": True, "summary": "audit passed"},
    }
    suite = report.junit(summary).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("3", "1")


def test_exit_codes_a_saturated_generator_makes_a_failure_inconclusive_and_a_loss_wins() -> None:
    assert exit_codes.of_thresholds(passed=True, saturated=True) == 0
    assert exit_codes.of_thresholds(passed=False, saturated=False) == 99
    assert exit_codes.of_thresholds(passed=False, saturated=True) == 98
    assert exit_codes.with_audit(99, audit_passed=False) == 1
    assert exit_codes.with_audit(0, audit_passed=False) == 1
    assert exit_codes.with_audit(99, audit_passed=None) == 99
    assert exit_codes.with_audit(2, audit_passed=False) == 2
