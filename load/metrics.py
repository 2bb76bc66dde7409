"""What a load run observed, second by second, in a form that merges and travels.

Every sample is filed under the whole second of the run it belongs to (for an open model,
the second its iteration was *meant* to start) and under its metric and tags. A second keeps
raw trend samples rather than percentiles, so any span of seconds (the whole run, a sliding
window, a game day's fault window) gives true percentiles, never averages of percentiles.
Seconds from several worker processes merge by addition.

Metric names and kinds follow k6, so its users read them without a glossary.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    TREND = "trend"  # durations: avg, min, max, med, p(N)
    RATE = "rate"  # share of samples that were "hits": rate
    COUNTER = "counter"  # how many: count, rate (per second)
    GAUGE = "gauge"  # a level: value (the last), min, max


METRICS: dict[str, Kind] = {
    "http_req_duration": Kind.TREND,  # ms, from the intended start of the request
    "iteration_duration": Kind.TREND,  # ms
    "http_req_failed": Kind.RATE,  # transport error or unexpected status
    "checks": Kind.RATE,  # response checks that passed
    "http_reqs": Kind.COUNTER,
    "iterations": Kind.COUNTER,
    "dropped_iterations": Kind.COUNTER,  # open model: could not start on time
    "vus": Kind.GAUGE,  # users (closed model) or iterations in flight (open model)
    "generator_cpu": Kind.GAUGE,  # percent of one core used by the load generator
    "loop_lag_ms": Kind.GAUGE,  # how late the generator's scheduler woke up
}

Tags = tuple[tuple[str, str], ...]
Key = tuple[str, Tags]


def tags_of(tags: Mapping[str, Any] | None) -> Tags:
    """Tags in a canonical order, values as text."""
    return tuple(sorted((str(k), str(v)) for k, v in (tags or {}).items()))


def kind_of(metric: str) -> Kind:
    try:
        return METRICS[metric]
    except KeyError:
        known = ", ".join(sorted(METRICS))
        raise KeyError(f"unknown metric {metric!r} (known: {known})") from None


def _key_text(key: Key) -> str:
    name, tags = key
    return name + ("{" + ",".join(f"{k}:{v}" for k, v in tags) + "}" if tags else "")


def _key_parse(text: str) -> Key:
    name, _, rest = text.partition("{")
    if not rest:
        return name, ()
    pairs = (pair.split(":", 1) for pair in rest.rstrip("}").split(","))
    return name, tuple((k, v) for k, v in pairs)


@dataclass
class Second:
    """Everything observed in one whole second `t` of a run (0 = the run's first second)."""

    t: int
    trends: dict[Key, list[float]] = field(default_factory=dict)
    rates: dict[Key, list[int]] = field(default_factory=dict)  # [hits, total]
    counters: dict[Key, float] = field(default_factory=dict)
    gauges: dict[Key, float] = field(default_factory=dict)

    def merge(self, other: Second) -> None:
        """Add another process's view of the same second. A gauge is a level, so the same
        key keeps the higher one; per-process gauges carry a `worker` tag and so add up."""
        for key, values in other.trends.items():
            self.trends.setdefault(key, []).extend(values)
        for key, (hits, total) in other.rates.items():
            mine = self.rates.setdefault(key, [0, 0])
            mine[0] += hits
            mine[1] += total
        for key, count in other.counters.items():
            self.counters[key] = self.counters.get(key, 0) + count
        for key, level in other.gauges.items():
            self.gauges[key] = max(level, self.gauges.get(key, level))

    def to_json(self) -> dict[str, Any]:
        return {
            "t": self.t,
            "trends": {_key_text(k): v for k, v in self.trends.items()},
            "rates": {_key_text(k): v for k, v in self.rates.items()},
            "counters": {_key_text(k): v for k, v in self.counters.items()},
            "gauges": {_key_text(k): v for k, v in self.gauges.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Second:
        return cls(
            t=int(data["t"]),
            trends={_key_parse(k): [float(x) for x in v] for k, v in data["trends"].items()},
            rates={_key_parse(k): [int(v[0]), int(v[1])] for k, v in data["rates"].items()},
            counters={_key_parse(k): float(v) for k, v in data["counters"].items()},
            gauges={_key_parse(k): float(v) for k, v in data["gauges"].items()},
        )


def _matches(key: Key, metric: str, wanted: Tags) -> bool:
    name, tags = key
    return name == metric and set(wanted) <= set(tags)


@dataclass
class Aggregate:
    """One metric (narrowed by tags) over a span of seconds."""

    kind: Kind
    seconds: int
    values: list[float] = field(default_factory=list)  # trends: every sample, sorted
    hits: int = 0
    total: int = 0
    count: float = 0.0
    last: float | None = None
    low: float | None = None
    high: float | None = None

    @property
    def samples(self) -> int:
        """How many observations stand behind the figure."""
        if self.kind is Kind.TREND:
            return len(self.values)
        if self.kind is Kind.RATE:
            return self.total
        if self.kind is Kind.COUNTER:
            return self.seconds
        return 0 if self.last is None else 1

    def percentile(self, p: float) -> float | None:
        """The p-th percentile by linear interpolation between closest ranks."""
        if not self.values:
            return None
        rank = (len(self.values) - 1) * p / 100.0
        lo, hi = math.floor(rank), math.ceil(rank)
        return self.values[lo] + (self.values[hi] - self.values[lo]) * (rank - lo)

    def figure(self, aggregator: str, p: float | None = None) -> float | None:
        """`avg`, `min`, `max`, `med`, `p` (with `p`), `rate`, `count` or `value`."""
        if self.kind is Kind.TREND:
            if not self.values:
                return None
            if aggregator == "avg":
                return sum(self.values) / len(self.values)
            if aggregator == "min":
                return self.values[0]
            if aggregator == "max":
                return self.values[-1]
            if aggregator == "med":
                return self.percentile(50)
            if aggregator == "p" and p is not None:
                return self.percentile(p)
            if aggregator == "count":
                return float(len(self.values))
        elif self.kind is Kind.RATE:
            if aggregator == "rate":
                return self.hits / self.total if self.total else None
            if aggregator == "count":
                return float(self.hits)
        elif self.kind is Kind.COUNTER:
            if aggregator == "count":
                return self.count
            if aggregator == "rate":
                return self.count / self.seconds if self.seconds else None
        else:
            return {"value": self.last, "min": self.low, "max": self.high}.get(aggregator)
        raise ValueError(f"{aggregator} does not apply to a {self.kind} metric")


def aggregate(seconds: Iterable[Second], metric: str, tags: Tags = ()) -> Aggregate:
    """`metric`, narrowed to samples carrying every tag in `tags`, over `seconds`."""
    kind = kind_of(metric)
    agg = Aggregate(kind, 0)
    for second in sorted(seconds, key=lambda s: s.t):
        agg.seconds += 1
        if kind is Kind.TREND:
            for key, values in second.trends.items():
                if _matches(key, metric, tags):
                    agg.values.extend(values)
        elif kind is Kind.RATE:
            for key, (hits, total) in second.rates.items():
                if _matches(key, metric, tags):
                    agg.hits += hits
                    agg.total += total
        elif kind is Kind.COUNTER:
            agg.count += sum(v for k, v in second.counters.items() if _matches(k, metric, tags))
        else:
            levels = [v for k, v in second.gauges.items() if _matches(k, metric, tags)]
            if levels:
                level = sum(levels)  # one level per process or per tag value: they add up
                agg.last = level
                agg.low = level if agg.low is None else min(agg.low, level)
                agg.high = level if agg.high is None else max(agg.high, level)
    agg.values.sort()
    return agg


class Recorder:
    """Files samples under the second of the run they belong to; safe across threads.

    `at` is a `clock()` reading (by default `time.monotonic`) of when the sample belongs:
    an open model passes the moment an iteration was due, so a late start is not hidden.
    """

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, started: float | None = None
    ) -> None:
        # Worker processes share the master's `started` on the `time.time` clock, so that
        # their seconds line up when merged.
        self.clock = clock
        self.started = clock() if started is None else started
        self._seconds: dict[int, Second] = {}
        self._lock = threading.Lock()

    def elapsed(self) -> float:
        return self.clock() - self.started

    def _second(self, at: float | None) -> Second:
        t = max(0, int((self.clock() if at is None else at) - self.started))
        second = self._seconds.get(t)
        if second is None:
            second = self._seconds[t] = Second(t)
        return second

    def trend(self, metric: str, value: float, at: float | None = None, **tags: Any) -> None:
        with self._lock:
            self._second(at).trends.setdefault((metric, tags_of(tags)), []).append(value)

    def rate(self, metric: str, hit: bool, at: float | None = None, **tags: Any) -> None:
        with self._lock:
            pair = self._second(at).rates.setdefault((metric, tags_of(tags)), [0, 0])
            pair[0] += int(hit)
            pair[1] += 1

    def count(self, metric: str, n: float = 1, at: float | None = None, **tags: Any) -> None:
        with self._lock:
            counters = self._second(at).counters
            key = (metric, tags_of(tags))
            counters[key] = counters.get(key, 0) + n

    def gauge(self, metric: str, value: float, at: float | None = None, **tags: Any) -> None:
        with self._lock:
            self._second(at).gauges[(metric, tags_of(tags))] = value

    def merge(self, second: Second) -> None:
        """Add a second observed elsewhere (a worker process) to this run's."""
        with self._lock:
            mine = self._seconds.get(second.t)
            if mine is None:
                self._seconds[second.t] = Second.from_json(second.to_json())
            else:
                mine.merge(second)

    def seconds(self, since: int = 0, until: int | None = None) -> list[Second]:
        """Copies of the seconds in [since, until), oldest first."""
        with self._lock:
            chosen = [
                s
                for t, s in sorted(self._seconds.items())
                if t >= since and (until is None or t < until)
            ]
            return [Second.from_json(s.to_json()) for s in chosen]

    def take(self, until: int) -> Iterator[Second]:
        """Remove and return the seconds before `until` (a worker shipping what is done)."""
        with self._lock:
            done = sorted(t for t in self._seconds if t < until)
            taken = [self._seconds.pop(t) for t in done]
        yield from taken
