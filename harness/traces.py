"""The suite's traces as the services wrote them: `<run dir>/traces/<service>.jsonl`.

`load_spans` reads every span of a run; `booking_trace` and `trace_spans` pick one trace;
`waterfall` lays a trace out as rows (service, span, start and duration relative to the trace's
first span, depth in the span tree, status); `pick_traces` chooses the failed and the slowest
gateway requests of each fault window, ready for a game-day journal.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

TRACES_DIR = "traces"
GATEWAY = "gateway"
BOOKING_ATTRIBUTE = "faultline.booking_id"
# Ids in a path, shown as `{id}` so that rows read like routes.
_ID = re.compile(r"/(?:[0-9a-fA-F]{8}-[0-9a-fA-F-]{27}|\d+)(?=/|$|:|\?)")
_URL_KEYS = ("url.full", "http.url")


class Note(BaseModel):
    """A failure recorded on a span where no span exists (a call the breaker refused)."""

    name: str
    time_ns: int


class Span(BaseModel):
    """One finished span, as `system_under_test.common.tracing.span_record` writes it."""

    trace_id: str
    span_id: str
    parent_id: str | None = None
    name: str
    kind: str
    service: str
    start_ns: int
    end_ns: int
    status: Literal["UNSET", "OK", "ERROR"] = "UNSET"
    attributes: dict[str, Any] = {}
    notes: list[Note] = []

    @property
    def start_s(self) -> float:
        return self.start_ns / 1e9

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6

    @property
    def http_status(self) -> int | None:
        for key in ("http.response.status_code", "http.status_code"):
            value = self.attributes.get(key)
            if isinstance(value, int):
                return value
        return None

    @property
    def label(self) -> str:
        """The span's name; an HTTP call's is only its method, so its path is added."""
        url = next((self.attributes[k] for k in _URL_KEYS if k in self.attributes), None)
        if self.kind == "CLIENT" and isinstance(url, str) and "://" in url:
            path = "/" + url.split("://", 1)[1].partition("/")[2].partition("?")[0]
            return f"{self.name} {routed(path)}"
        return self.name

    @property
    def failed(self) -> bool:
        """An error span, or an answer of 5xx (a client's 4xx is the caller's mistake)."""
        status = self.http_status
        return self.status == "ERROR" or (status is not None and status >= 500)


class WaterfallRow(BaseModel):
    service: str
    name: str
    start_ms: float
    duration_ms: float
    depth: int
    status: Literal["ok", "error"]


def routed(text: str) -> str:
    return _ID.sub("/{id}", text)


def load_spans(run_dir: str | Path) -> list[Span]:
    """Every span the run's services wrote; a line cut short by a killed service is skipped."""
    spans: list[Span] = []
    for path in sorted((Path(run_dir) / TRACES_DIR).glob("*.jsonl")):
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                try:
                    spans.append(Span.model_validate(json.loads(line)))
                except (ValueError, ValidationError):
                    continue
    return spans


def trace_spans(spans: Iterable[Span], trace_id: str) -> list[Span]:
    """The spans of one trace, by start time."""
    return sorted((s for s in spans if s.trace_id == trace_id), key=lambda s: s.start_ns)


def booking_trace(spans: Sequence[Span], booking_id: str) -> list[Span]:
    """The trace of the request that placed `booking_id` (bookings tags its server span with
    the id); empty when no span names it."""
    for span in spans:
        if span.attributes.get(BOOKING_ATTRIBUTE) == booking_id:
            return trace_spans(spans, span.trace_id)
    return []


def traced_bookings(spans: Iterable[Span]) -> set[str]:
    """The ids of the bookings that some span names."""
    return {
        str(s.attributes[BOOKING_ATTRIBUTE]) for s in spans if BOOKING_ATTRIBUTE in s.attributes
    }


def unanswered(spans: Sequence[Span]) -> list[Span]:
    """The HTTP calls among `spans` that got an answer but whose server span is not among them:
    each service writes its spans in batches of its own, so a trace read a moment after the
    request may lack the callee's half."""
    served = {s.parent_id for s in spans if s.kind == "SERVER"}
    return [
        s
        for s in spans
        if s.kind == "CLIENT" and s.http_status is not None and s.span_id not in served
    ]


def children(spans: Iterable[Span]) -> Mapping[str | None, list[Span]]:
    """Each span's children by start time, under its parent's id; spans whose parent is not
    among `spans` (a root, or a parent never written) under None."""
    spans = list(spans)
    ids = {s.span_id for s in spans}
    tree: dict[str | None, list[Span]] = defaultdict(list)
    for span in spans:
        tree[span.parent_id if span.parent_id in ids else None].append(span)
    for kids in tree.values():
        kids.sort(key=lambda s: s.start_ns)
    return tree


def waterfall(spans: Sequence[Span]) -> list[WaterfallRow]:
    """A trace as rows, each span under its parent, in start order (depth first); a span's
    notes are rows of no duration under it."""
    if not spans:
        return []
    origin = min(s.start_ns for s in spans)
    tree = children(spans)
    rows: list[WaterfallRow] = []

    def at(ns: int) -> float:
        return round((ns - origin) / 1e6, 3)

    # (span or note, depth, service of the span a note is on)
    stack: list[tuple[Span | Note, int, str]] = [
        (span, 0, span.service) for span in reversed(tree.get(None, []))
    ]
    while stack:
        item, depth, service = stack.pop()
        if isinstance(item, Note):
            rows.append(
                WaterfallRow(
                    service=service,
                    name=routed(item.name),
                    start_ms=at(item.time_ns),
                    duration_ms=0.0,
                    depth=depth,
                    status="error",
                )
            )
            continue
        rows.append(
            WaterfallRow(
                service=item.service,
                name=item.label,
                start_ms=at(item.start_ns),
                duration_ms=round(item.duration_ms, 3),
                depth=depth,
                status="error" if item.failed else "ok",
            )
        )
        under: list[Span | Note] = [*tree.get(item.span_id, []), *item.notes]
        under.sort(key=lambda x: x.time_ns if isinstance(x, Note) else x.start_ns)
        stack.extend((kid, depth + 1, item.service) for kid in reversed(under))
    return rows


def gateway_requests(spans: Iterable[Span]) -> list[Span]:
    """The requests the suite answered: the gateway's server spans."""
    return [s for s in spans if s.service == GATEWAY and s.kind == "SERVER"]


def pick_traces(
    spans: Sequence[Span],
    windows: Sequence[tuple[str, float, float]],
    per_window: int = 2,
) -> list[dict[str, Any]]:
    """For each window `(name, start, end)` (epoch seconds), the gateway requests that began
    inside it: up to `per_window` failed ones, then up to `per_window` of the slowest others,
    each with its trace's waterfall, as JSON-ready entries for `journal["traces"]`.

    Failed: the answer was an error, or a call made for it failed (a step of the saga that
    met the fault, even when a retry or a compensation answered the request in the end);
    those whose answer failed come first, slowest first within each kind.
    """
    by_trace: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        by_trace[span.trace_id].append(span)
    requests = gateway_requests(spans)
    picked: list[dict[str, Any]] = []
    for name, start, end in windows:
        inside = [s for s in requests if start <= s.start_s <= end]

        def failing(request: Span) -> bool:
            trace = by_trace[request.trace_id]
            return any(s.failed or s.notes for s in trace)

        failed = sorted(
            (s for s in inside if failing(s)), key=lambda s: (not s.failed, -s.duration_ms)
        )[:per_window]
        slowest = sorted((s for s in inside if not failing(s)), key=lambda s: -s.duration_ms)[
            :per_window
        ]
        for why, chosen in (("failed", failed), ("slowest", slowest)):
            for request in chosen:
                rows = waterfall(by_trace[request.trace_id])
                picked.append(
                    {
                        "window": name,
                        "trace_id": request.trace_id,
                        "why": why,
                        "request": request.name,
                        "status": request.http_status,
                        "duration_ms": round(request.duration_ms, 3),
                        "rows": [row.model_dump() for row in rows],
                    }
                )
    return picked
