"""Whether the load generator itself was too busy for its figures to be trusted.

Each generator process files, per second, its CPU (percent of one core: a Locust process runs
on one) and its scheduler's lag (how late a 100 ms sleep woke up). A process counts as
saturated when, in at least `SATURATED_SHARE` of the run's seconds (and at least
`SATURATED_MIN_S` of them), its CPU was at or above `CPU_LIMIT` or its lag at or above
`LAG_LIMIT_MS`. A run with a saturated process whose thresholds failed is inconclusive
(exit 98): the failure may be the generator's own. When every threshold held, a busy generator
changes nothing (latency is measured from the intended start, so it only ever adds).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .metrics import Second

CPU_LIMIT = 90.0
LAG_LIMIT_MS = 250.0
SATURATED_SHARE = 0.2
SATURATED_MIN_S = 2


def saturation(seconds: Sequence[Second]) -> dict[str, Any]:
    """Per generator process: its peak and mean CPU, its worst lag, how many seconds it was
    over a limit, and whether that makes it saturated."""
    per: dict[str, dict[str, list[float]]] = {}
    for second in seconds:
        for (metric, tags), value in second.gauges.items():
            if metric in ("generator_cpu", "loop_lag_ms"):
                worker = dict(tags).get("worker", "0")
                per.setdefault(worker, {}).setdefault(metric, []).append(value)
    workers: dict[str, Any] = {}
    for worker, series in sorted(per.items()):
        cpu, lag = series.get("generator_cpu", []), series.get("loop_lag_ms", [])
        over = sum(1 for c in cpu if c >= CPU_LIMIT) + sum(1 for g in lag if g >= LAG_LIMIT_MS)
        judged = max(len(cpu), len(lag), 1)
        workers[worker] = {
            "cpu_max": max(cpu, default=0.0),
            "cpu_mean": round(sum(cpu) / len(cpu), 1) if cpu else 0.0,
            "lag_max_ms": max(lag, default=0.0),
            "seconds_over": over,
            "saturated": over >= max(SATURATED_MIN_S, SATURATED_SHARE * judged),
        }
    return {
        "saturated": any(w["saturated"] for w in workers.values()),
        "limits": {"cpu_percent": CPU_LIMIT, "lag_ms": LAG_LIMIT_MS, "share": SATURATED_SHARE},
        "workers": workers,
    }
