"""A short burst of real traffic through the gateway, judged by k6-style thresholds.

Not a load test (that is `faultline load`): a few workers, a few seconds, enough to tell
during an experiment whether users are being served. Each worker is a closed loop; latency is
the time each request took, and a request failed when no answer came or the answer was not one
the operation expects (a 503 refusal counts as failed too: the user was not served).

Samples carry k6's metric names, tagged `name:METHOD PATH`, so thresholds read as in a load
profile: `http_req_failed{name:POST /api/bookings}: rate<0.05`, `http_req_duration: p(95)<800`.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from harness.stack import Stack
from harness.suite_client import Answer, SuiteClient
from load.metrics import Recorder
from load.thresholds import Threshold, ThresholdError, evaluate, parse

Traffic = Literal["book", "browse"]
NAMES = {"book": "POST /api/bookings", "browse": "GET /api/facilities"}
REQUEST_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Judged:
    source: str
    value: float | None
    samples: int
    ok: bool


def thresholds_of(expressions: str | Sequence[str]) -> list[Threshold]:
    """Parse threshold expressions; a sliding window (`over ...`) makes no sense in a burst
    of a few seconds, so it is refused rather than silently ignored."""
    items = [expressions] if isinstance(expressions, str) else list(expressions)
    if not items:
        raise ThresholdError("no threshold given")
    parsed = [parse(text) for text in items]
    for threshold in parsed:
        if threshold.window_s is not None or threshold.abort_on_fail:
            raise ThresholdError(
                f"{threshold.source!r}: a burst is judged as a whole; drop 'over' and 'abortOnFail'"
            )
    return parsed


def _operation(client: SuiteClient, traffic: Traffic) -> Callable[[], Answer[Any]]:
    if traffic == "browse":
        return client.try_facilities
    # Bookings need a user and a facility of their own: a fresh facility per burst, and the
    # client's slot allocator draws a random region, so no booking conflicts by accident.
    user = client.create_user(name="Chaos Toolkit burst")
    facility = client.create_facility("Chaos Toolkit hall", 50)
    return lambda: client.try_book(user.id, facility.id, timeout=REQUEST_TIMEOUT_S)


@dataclass
class Burst:
    recorder: Recorder
    requests: int = 0
    # Bookings by the status their POST answered with (pending, confirmed, cancelled, ...).
    outcomes: Counter[str] = field(default_factory=Counter)


def run_burst(stack: Stack, traffic: Traffic, *, duration_s: float, workers: int) -> Burst:
    """Send `traffic` from `workers` closed loops for `duration_s`."""
    if traffic not in NAMES:
        raise ValueError(f"traffic is one of {', '.join(NAMES)}, not {traffic!r}")
    name = NAMES[traffic]
    burst = Burst(Recorder())
    recorder = burst.recorder
    lock = threading.Lock()
    with SuiteClient.public(stack.gateway_url, timeout=REQUEST_TIMEOUT_S) as client:
        client.login()
        operation = _operation(client, traffic)
        deadline = time.monotonic() + duration_s

        def loop() -> None:
            while time.monotonic() < deadline:
                started = time.monotonic()
                answer = operation()
                recorder.trend("http_req_duration", answer.seconds * 1000, at=started, name=name)
                recorder.rate("http_req_failed", not answer.ok, at=started, name=name)
                recorder.count("http_reqs", 1, at=started, name=name)
                status = getattr(answer.value, "status", None)
                with lock:
                    burst.requests += 1
                    if status is not None:
                        burst.outcomes[str(status)] += 1

        threads = [threading.Thread(target=loop, daemon=True) for _ in range(max(1, workers))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return burst


def judge(thresholds: Sequence[Threshold], recorder: Recorder) -> list[Judged]:
    """Each threshold over the whole burst; one with no samples fails (a misspelt tag would
    otherwise pass)."""
    seconds = recorder.seconds()
    judged = []
    for threshold in thresholds:
        evaluation = evaluate(threshold, seconds, min_samples=1)
        judged.append(
            Judged(threshold.source, evaluation.value, evaluation.samples, evaluation.ok is True)
        )
    return judged
