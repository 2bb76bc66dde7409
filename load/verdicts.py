"""Threshold verdicts as JSON, so they travel from the Locust master to its caller."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .thresholds import Evaluation, Verdict, parse


def _evaluation(e: Evaluation | None) -> dict[str, Any] | None:
    if e is None:
        return None
    return {"value": e.value, "samples": e.samples, "ok": e.ok, "at_s": e.at_s}


def dump(v: Verdict) -> dict[str, Any]:
    return {
        "threshold": v.threshold.source,
        "ok": v.ok,
        "value": v.value,
        "shown": v.describe(),
        "latest": _evaluation(v.latest),
        "failure": _evaluation(v.failure),
        "windows_judged": v.windows_judged,
    }


def load(data: Mapping[str, Any]) -> Verdict:
    threshold = parse(data["threshold"])

    def evaluation(raw: Mapping[str, Any] | None) -> Evaluation | None:
        if raw is None:
            return None
        return Evaluation(threshold, raw["value"], int(raw["samples"]), raw["ok"], raw["at_s"])

    return Verdict(
        threshold,
        latest=evaluation(data.get("latest")),
        failure=evaluation(data.get("failure")),
        windows_judged=int(data.get("windows_judged", 0)),
    )
