"""A service's Prometheus `/metrics`, scraped by URL (sync or async) and read by name and
labels: counters, gauges, circuit-breaker states."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx
from prometheus_client.parser import text_string_to_metric_families

BREAKER_METRIC = "faultline_breaker_state"
BREAKER_STATES = {0: "closed", 1: "half-open", 2: "open"}
SCRAPE_TIMEOUT_S = 5.0

Key = tuple[str, frozenset[tuple[str, str]]]


@dataclass(frozen=True)
class Samples:
    """Every sample of one scrape, by sample name and labels; `error` says why a scrape
    failed (then there are none)."""

    values: Mapping[Key, float] = field(default_factory=dict)
    error: str | None = None

    @classmethod
    def parse(cls, text: str) -> Samples:
        if not isinstance(text, str):
            raise ValueError("Prometheus text expected")
        values: dict[Key, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                values[(sample.name, frozenset(sample.labels.items()))] = sample.value
        return cls(values)

    @property
    def ok(self) -> bool:
        return self.error is None

    def has(self, name: str) -> bool:
        return any(sample == name for sample, _ in self.values)

    def value(self, name: str, **labels: str) -> float:
        """Sum of the samples called `name` whose labels include `labels` (0 when none)."""
        wanted = set(labels.items())
        return sum(v for (n, got), v in self.values.items() if n == name and wanted <= got)

    def breaker_states(self) -> dict[str, str]:
        """Downstream -> breaker state (closed, half-open, open)."""
        states = {}
        for (name, labels), value in self.values.items():
            if name == BREAKER_METRIC:
                downstream = dict(labels).get("downstream", "?")
                states[downstream] = BREAKER_STATES.get(int(value), f"unknown({value})")
        return states

    def breaker_state(self, downstream: str) -> str:
        """The state of the breaker in front of `downstream` ("unknown" if unscraped)."""
        if not self.ok:
            return "unknown"
        return BREAKER_STATES.get(int(self.value(BREAKER_METRIC, downstream=downstream)), "unknown")


def metrics_url(url: str) -> str:
    """A service's base URL (or its /metrics URL) -> its /metrics URL."""
    url = url.rstrip("/")
    return url if url.endswith("/metrics") else f"{url}/metrics"


def _samples(outcome: httpx.Response | httpx.HTTPError) -> Samples:
    if isinstance(outcome, httpx.HTTPError):
        return Samples(error=f"/metrics unreachable ({type(outcome).__name__})")
    if outcome.status_code != 200:
        return Samples(error=f"/metrics answered {outcome.status_code}")
    try:
        return Samples.parse(outcome.text)
    except ValueError as exc:
        return Samples(error=f"/metrics unreadable ({exc})")


def scrape(
    url: str, *, http: httpx.Client | None = None, timeout: float = SCRAPE_TIMEOUT_S
) -> Samples:
    """One scrape; never raises (a failed one has no samples and says why)."""
    try:
        if http is None:
            outcome: httpx.Response | httpx.HTTPError = httpx.get(metrics_url(url), timeout=timeout)
        else:
            outcome = http.get(metrics_url(url), timeout=timeout)
    except httpx.HTTPError as exc:
        outcome = exc
    return _samples(outcome)


async def scrape_async(
    url: str,
    *,
    http: httpx.AsyncClient | None = None,
    timeout: float = SCRAPE_TIMEOUT_S,  # noqa: ASYNC109 (httpx's own per-request timeout)
) -> Samples:
    try:
        if http is None:
            async with httpx.AsyncClient() as own:
                outcome: httpx.Response | httpx.HTTPError = await own.get(
                    metrics_url(url), timeout=timeout
                )
        else:
            outcome = await http.get(metrics_url(url), timeout=timeout)
    except httpx.HTTPError as exc:
        outcome = exc
    return _samples(outcome)


def metric(url: str, name: str, **labels: str) -> float:
    """One scrape, one value (0 when the scrape failed or no sample matched)."""
    return scrape(url).value(name, **labels)


def breaker_state(url: str, downstream: str) -> str:
    """The state of `url`'s breaker in front of `downstream` ("unknown" when unreadable)."""
    return scrape(url).breaker_state(downstream)
