"""The capacity a stepped profile found: the highest step whose rate the suite sustained.

A step is a stage that holds its rate (its target equals the one before it). Each step's
seconds, its first and last whole seconds left out as ramps, are judged against the profile's
`step_slo`; the capacity is the rate of the last step that held before the first one that did
not. Steps the run never reached (it stops once its abort threshold fails) are not judged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .metrics import Second
from .profiles import Profile
from .thresholds import evaluate, parse


def steps(profile: Profile) -> list[tuple[float, float, float]]:
    """(rate, begins_s, ends_s) of each stage that holds its rate."""
    found = []
    before, begun = profile.start, 0.0
    for stage in profile.stages:
        if stage.target == before and stage.duration_s >= 2:
            found.append((stage.target, begun, begun + stage.duration_s))
        before, begun = stage.target, begun + stage.duration_s
    return found


def capacity(profile: Profile, seconds: Sequence[Second]) -> dict[str, Any]:
    slo = [parse(text) for text in profile.step_slo]
    judged: list[dict[str, Any]] = []
    sustained: float | None = None
    broken = False
    for rate, begins, ends in steps(profile):
        first, last = math.ceil(begins) + 1, math.floor(ends) - 1
        span = [s for s in seconds if first <= s.t < last]
        if not span:
            break
        figures = [evaluate(t, span, min_samples=1) for t in slo]
        held = all(e.ok for e in figures)
        judged.append(
            {
                "rate": rate,
                "held": held,
                "figures": {e.threshold.source: e.value for e in figures},
            }
        )
        if held and not broken:
            sustained = rate
        broken = broken or not held
    return {"sustained_rate": sustained, "broken": broken, "steps": judged}
