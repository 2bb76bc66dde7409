"""Prometheus metrics of the booking saga."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

SAGA_OUTCOMES = Counter(
    "faultline_saga_outcomes_total",
    "Sagas that reached a terminal status (a customer's cancellation counts as cancelled)",
    ["outcome"],
)
COMPENSATIONS = Counter(
    "faultline_compensations_total",
    "Compensations that succeeded, by step (release, refund)",
    ["step"],
)
SAGA_DURATION = Histogram(
    "faultline_saga_duration_seconds",
    "From booking request to terminal status",
    ["outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
