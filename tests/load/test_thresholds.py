"""The threshold engine: k6's grammar, windows, abortOnFail, and judging over seconds."""

from __future__ import annotations

import pytest

from load.metrics import Recorder, Second
from load.thresholds import Judge, ThresholdError, evaluate, parse, parse_duration

pytestmark = pytest.mark.unit

BOOKING = "POST /api/bookings"


class Clock:
    """A clock the test moves by hand, so seconds are filed deterministically."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run_of(per_second: list[list[float]], *, failed_every: int = 0) -> list[Second]:
    """Seconds holding these booking durations (ms); every `failed_every`-th request failed."""
    clock = Clock()
    rec = Recorder(clock)
    n = 0
    for t, durations in enumerate(per_second):
        for ms in durations:
            n += 1
            at = clock.now + t
            rec.trend("http_req_duration", ms, at=at, name=BOOKING, method="POST")
            rec.trend("http_req_duration", ms / 10, at=at, name="GET /api/facilities")
            rec.rate("http_req_failed", bool(failed_every and n % failed_every == 0), at=at)
            rec.count("http_reqs", at=at, name=BOOKING)
    return rec.seconds()


def test_the_k6_forms_parse() -> None:
    t = parse(f"http_req_duration{{name:{BOOKING}}}: p(95)<800")
    assert (t.metric, t.tags, t.aggregator, t.percentile, t.op, t.target) == (
        "http_req_duration",
        (("name", BOOKING),),
        "p",
        95.0,
        "<",
        800.0,
    )
    assert parse("http_req_failed: rate<0.01").aggregator == "rate"
    assert parse("checks:rate>0.99").op == ">"
    assert parse("dropped_iterations: count==0").target == 0
    assert parse("http_req_duration: p(99.9)<=1500").percentile == 99.9
    assert parse("http_req_duration: med<100").condition == "med<100"


def test_windows_and_abort_options_parse() -> None:
    t = parse("http_req_duration: p(95)<800 over 10s abortOnFail delayAbortEval=5s")
    assert (t.window_s, t.abort_on_fail, t.delay_abort_eval_s) == (10.0, True, 5.0)
    # k6's object form: the options come as keywords and win over the text.
    t = parse("http_req_failed: rate<0.5", abort_on_fail=True, delay_abort_eval="2m")
    assert (t.abort_on_fail, t.delay_abort_eval_s) == (True, 120.0)
    assert parse_duration("500ms") == 0.5


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("http_req_duration p(95)<800", "expected METRIC"),
        ("http_req_durations: p(95)<800", "unknown metric 'http_req_durations'"),
        ("http_req_duration: p95<800", "expected a condition"),
        ("http_req_failed: p(95)<1", "http_req_failed is a rate"),
        ("dropped_iterations: avg<1", "dropped_iterations is a counter"),
        ("http_req_duration: p(95)<800 soon", "unexpected 'soon'"),
        ("http_req_duration: p(95)<800 over ten", "bad duration 'ten'"),
        ("http_req_duration{name}: p(95)<800", "is not NAME:VALUE"),
        ("http_req_duration: p(101)<800", "percentile lies in 0..100"),
    ],
)
def test_a_bad_expression_names_itself_and_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ThresholdError) as info:
        parse(text)
    assert says in str(info.value)
    assert repr(text.strip()) in str(info.value) or "bad duration" in says


def test_percentiles_are_true_percentiles_of_every_sample_not_averages_of_seconds() -> None:
    # Second 0: 99 fast requests; second 1: one slow one. The average of per-second p(95)s
    # would be (10 + 900) / 2 = 455; the true p(95) of the 100 samples is 10.
    seconds = run_of([[10.0] * 99, [900.0]])
    e = evaluate(parse("http_req_duration: p(95)<100"), seconds)
    assert e.value == pytest.approx(10.0)
    assert e.ok is True
    assert evaluate(parse("http_req_duration: max<100"), seconds).ok is False


def test_tags_narrow_to_a_sub_metric() -> None:
    seconds = run_of([[100.0, 200.0, 300.0]])
    all_requests = evaluate(parse("http_req_duration: min<50"), seconds)
    bookings_only = evaluate(parse(f"http_req_duration{{name:{BOOKING}}}: min<50"), seconds)
    assert (all_requests.ok, bookings_only.ok) == (True, False)
    assert bookings_only.value == 100.0
    assert evaluate(parse("http_reqs: count==3"), seconds).ok is True
    assert evaluate(parse("http_reqs: rate==3"), seconds).ok is True  # 3 in 1 second


def test_a_misspelt_tag_fails_rather_than_passing_on_no_samples() -> None:
    seconds = run_of([[10.0] * 20])
    judge = Judge([parse("http_req_duration{name:POST /api/booking}: p(95)<800")])
    judge.finish(seconds, elapsed_s=1.0)
    assert not judge.passed
    assert judge.verdicts[0].describe() == "no samples"


def test_a_counter_with_no_samples_counts_zero() -> None:
    judge = Judge([parse("dropped_iterations: count==0")])
    judge.finish(run_of([[10.0]]), elapsed_s=1.0)
    assert judge.passed


def test_a_window_catches_a_bad_stretch_that_the_whole_run_hides() -> None:
    # 30 s fast, 5 s slow, 30 s fast: whole-run p(95) stays low, the 5 s window does not.
    seconds = run_of([[20.0] * 20] * 30 + [[2000.0] * 20] * 5 + [[20.0] * 20] * 30)
    whole = Judge([parse("http_req_duration: p(95)<800")])
    windowed = Judge([parse("http_req_duration: p(95)<800 over 5s")])
    for n in range(2, len(seconds) + 1, 2):  # judged every 2 s, as a run does
        whole.tick(seconds[:n], elapsed_s=n)
        windowed.tick(seconds[:n], elapsed_s=n)
    whole.finish(seconds, len(seconds))
    windowed.finish(seconds, len(seconds))
    assert whole.passed
    assert not windowed.passed
    failure = windowed.verdicts[0].failure
    assert failure is not None and failure.value == pytest.approx(2000.0)
    assert 30 < failure.at_s <= 40


def test_a_window_is_not_judged_before_it_holds_enough() -> None:
    # The first second is slow (cold start), then it is fast: a 10 s window must not fail
    # on second 1, before the run has lasted 10 s.
    seconds = run_of([[3000.0] * 2] + [[20.0] * 50] * 20)
    judge = Judge([parse("http_req_duration: p(95)<800 over 10s")], min_samples=10)
    for n in range(1, 10):
        judge.tick(seconds[:n], elapsed_s=n)
        assert judge.verdicts[0].failure is None
        assert judge.verdicts[0].windows_judged == 0
    for n in range(10, len(seconds) + 1):
        judge.tick(seconds[:n], elapsed_s=n)
    judge.finish(seconds, len(seconds))
    assert judge.passed
    assert judge.verdicts[0].windows_judged > 0


def test_a_window_that_never_fills_is_a_failure_not_a_pass() -> None:
    seconds = run_of([[20.0] * 3] * 4)
    judge = Judge([parse("http_req_duration: p(95)<800 over 10s")])
    judge.finish(seconds, elapsed_s=4)
    assert not judge.passed


def test_abort_on_fail_asks_to_stop_only_after_its_delay() -> None:
    seconds = run_of([[5000.0] * 20] * 20)
    judge = Judge([parse("http_req_duration: p(95)<800 abortOnFail delayAbortEval=6s")])
    assert judge.tick(seconds[:2], elapsed_s=2) is None
    assert judge.tick(seconds[:4], elapsed_s=4) is None
    abort = judge.tick(seconds[:6], elapsed_s=6)
    assert abort is not None and abort.threshold.abort_on_fail
    assert not judge.passed


def test_without_abort_on_fail_a_live_failure_is_judged_at_the_end_as_k6_does() -> None:
    # Slow at first, then fast for long enough that the whole run's p(95) is fine.
    seconds = run_of([[5000.0] * 2] + [[20.0] * 50] * 10)
    judge = Judge([parse("http_req_duration: p(95)<800")], min_samples=1)
    assert judge.tick(seconds[:1], elapsed_s=1) is None
    assert judge.verdicts[0].latest is not None and judge.verdicts[0].latest.ok is False
    judge.finish(seconds, elapsed_s=11)
    assert judge.passed


def test_error_rate_threshold() -> None:
    seconds = run_of([[10.0] * 50] * 2, failed_every=10)  # 10% failed
    assert evaluate(parse("http_req_failed: rate<0.05"), seconds).ok is False
    assert evaluate(parse("http_req_failed: rate<0.2"), seconds).value == pytest.approx(0.1)


def test_seconds_from_several_workers_merge_into_one_run() -> None:
    clock = Clock()
    a, b = Recorder(clock, started=clock.now), Recorder(clock, started=clock.now)
    for ms in (10.0, 20.0):
        a.trend("http_req_duration", ms, name=BOOKING)
    b.trend("http_req_duration", 30.0, name=BOOKING)
    b.rate("checks", False, check="status is 201")
    a.gauge("vus", 4, worker="a")
    b.gauge("vus", 6, worker="b")
    master = Recorder(clock, started=clock.now)
    for worker in (a, b):
        for second in worker.take(until=1):
            master.merge(Second.from_json(second.to_json()))
    merged = master.seconds()
    assert evaluate(parse("http_req_duration: count==3"), merged).ok is True
    assert evaluate(parse("http_req_duration: max==30"), merged).ok is True
    assert evaluate(parse("checks: rate<0.5"), merged).ok is True
    assert evaluate(parse("vus: value==10"), merged).ok is True
    assert a.seconds() == []  # taken seconds leave the worker
