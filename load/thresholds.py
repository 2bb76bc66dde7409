"""SLO thresholds in k6's grammar, judged live and at the end of a run.

    http_req_duration{name:POST /api/bookings}: p(95)<800
    http_req_failed: rate<0.01
    checks: rate>0.99
    dropped_iterations: count==0
    http_req_duration: p(95)<800 over 10s abortOnFail delayAbortEval=5s

`METRIC[{TAG:VALUE,...}]: AGGREGATOR OP NUMBER`, then optionally:
- `over DURATION`: a sliding window (k6 has none). The threshold must hold over every
  window of that length in the run; a window is judged only once the run has lasted that long
  and the window holds `min_samples` observations, so a run's first seconds cannot fail it.
- `abortOnFail`: stop the run as soon as the threshold fails live;
  `delayAbortEval=DURATION`: not before the run has lasted that long (k6's option).

Without a window a threshold is judged over the whole run, as in k6: live for `abortOnFail`,
and at the end for the verdict. A threshold with no samples at all fails (a misspelt tag
would otherwise pass silently), except a counter, whose count is then 0.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .metrics import METRICS, Kind, Second, Tags, aggregate, kind_of

AGGREGATORS: dict[Kind, tuple[str, ...]] = {
    Kind.TREND: ("avg", "min", "max", "med", "p(N)", "count"),
    Kind.RATE: ("rate", "count"),
    Kind.COUNTER: ("count", "rate"),
    Kind.GAUGE: ("value", "min", "max"),
}
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "===": operator.eq,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
DEFAULT_MIN_SAMPLES = 10

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_METRIC = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\{([^}]*)\})?\s*:\s*(.*)$")
_CONDITION = re.compile(
    r"^(?P<agg>avg|min|max|med|rate|count|value|p\(\s*(?P<p>\d+(?:\.\d+)?)\s*\))\s*"
    r"(?P<op><=|>=|===|==|!=|<|>)\s*(?P<target>-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*(?P<rest>.*)$"
)


class ThresholdError(ValueError):
    """A threshold expression that cannot be understood: a usage error."""


def parse_duration(text: str) -> float:
    """`10s`, `500ms`, `2m`, `1h` or a bare number of seconds, as seconds."""
    match = _DURATION.match(str(text))
    if not match:
        raise ThresholdError(f"bad duration {text!r}: expected e.g. 500ms, 10s, 2m")
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass(frozen=True)
class Threshold:
    source: str
    metric: str
    tags: Tags
    aggregator: str  # avg, min, max, med, p, rate, count, value
    percentile: float | None
    op: str
    target: float
    window_s: float | None = None
    abort_on_fail: bool = False
    delay_abort_eval_s: float = 0.0

    @property
    def condition(self) -> str:
        agg = f"p({self.percentile:g})" if self.aggregator == "p" else self.aggregator
        return f"{agg}{self.op}{self.target:g}"

    def holds(self, value: float) -> bool:
        return OPERATORS[self.op](value, self.target)


def _tags(text: str | None, source: str) -> Tags:
    if not text or not text.strip():
        return ()
    pairs = []
    for item in text.split(","):
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise ThresholdError(
                f"bad threshold {source!r}: tag {item.strip()!r} is not NAME:VALUE"
            )
        pairs.append((name.strip(), value.strip()))
    return tuple(sorted(pairs))


def _options(rest: str, source: str) -> tuple[float | None, bool, float]:
    window, abort, delay = None, False, 0.0
    words = rest.split()
    i = 0
    while i < len(words):
        word = words[i]
        if word == "over" and i + 1 < len(words):
            window = parse_duration(words[i + 1])
            if window <= 0:
                raise ThresholdError(f"bad threshold {source!r}: a window must be longer than 0")
            i += 2
            continue
        if word == "abortOnFail":
            abort = True
        elif word.startswith("delayAbortEval="):
            delay = parse_duration(word.partition("=")[2])
        else:
            raise ThresholdError(
                f"bad threshold {source!r}: unexpected {word!r} (after the condition come only "
                "'over DURATION', 'abortOnFail', 'delayAbortEval=DURATION')"
            )
        i += 1
    return window, abort, delay


def parse(
    text: str, *, abort_on_fail: bool | None = None, delay_abort_eval: str | float | None = None
) -> Threshold:
    """One threshold expression; keyword options override what the text says (k6's object
    form, `{threshold, abortOnFail, delayAbortEval}`, arrives this way)."""
    source = str(text).strip()
    head = _METRIC.match(source)
    if not head:
        raise ThresholdError(
            f"bad threshold {source!r}: expected METRIC[{{TAG:VALUE}}]: CONDITION, "
            "e.g. 'http_req_duration: p(95)<800'"
        )
    metric, tag_text, condition = head.groups()
    if metric not in METRICS:
        raise ThresholdError(
            f"bad threshold {source!r}: unknown metric {metric!r} "
            f"(known: {', '.join(sorted(METRICS))})"
        )
    cond = _CONDITION.match(condition.strip())
    if not cond:
        raise ThresholdError(
            f"bad threshold {source!r}: expected a condition like p(95)<800, rate<0.01, "
            "count==0 after the colon"
        )
    kind = kind_of(metric)
    agg = "p" if cond.group("p") else cond.group("agg")
    allowed = AGGREGATORS[kind]
    if (agg == "p" and "p(N)" not in allowed) or (agg != "p" and agg not in allowed):
        raise ThresholdError(
            f"bad threshold {source!r}: {metric} is a {kind}, whose aggregators are "
            f"{', '.join(allowed)}"
        )
    percentile = float(cond.group("p")) if cond.group("p") else None
    if percentile is not None and not 0 <= percentile <= 100:
        raise ThresholdError(f"bad threshold {source!r}: a percentile lies in 0..100")
    window, abort, delay = _options(cond.group("rest"), source)
    if abort_on_fail is not None:
        abort = abort_on_fail
    if delay_abort_eval is not None:
        delay = parse_duration(str(delay_abort_eval))
    return Threshold(
        source=source,
        metric=metric,
        tags=_tags(tag_text, source),
        aggregator=agg,
        percentile=percentile,
        op=cond.group("op"),
        target=float(cond.group("target")),
        window_s=window,
        abort_on_fail=abort,
        delay_abort_eval_s=delay,
    )


@dataclass(frozen=True)
class Evaluation:
    """A threshold judged over some seconds: `ok` is None when there was too little to judge."""

    threshold: Threshold
    value: float | None
    samples: int
    ok: bool | None
    at_s: float  # run time of the judgement

    def describe(self) -> str:
        shown = "no samples" if self.value is None else f"{self.value:.4g}"
        return f"{self.threshold.source}: {shown}"


def evaluate(
    threshold: Threshold,
    seconds: Sequence[Second],
    *,
    at_s: float = 0.0,
    min_samples: int = 1,
) -> Evaluation:
    """`threshold`'s condition over exactly `seconds` (no windowing here)."""
    agg = aggregate(seconds, threshold.metric, threshold.tags)
    value = agg.figure(threshold.aggregator, threshold.percentile)
    if value is None and agg.kind is Kind.COUNTER:
        value = 0.0
    if value is None or agg.samples < min_samples:
        return Evaluation(threshold, value, agg.samples, None, at_s)
    return Evaluation(threshold, value, agg.samples, threshold.holds(value), at_s)


@dataclass
class Verdict:
    """Where a threshold stands: the latest judgement and, if it failed, the first failure."""

    threshold: Threshold
    latest: Evaluation | None = None
    failure: Evaluation | None = None
    windows_judged: int = 0

    @property
    def ok(self) -> bool:
        if self.failure is not None:
            return False
        return self.latest is not None and self.latest.ok is True

    @property
    def value(self) -> float | None:
        shown = self.failure or self.latest
        return None if shown is None else shown.value

    def describe(self) -> str:
        t = self.threshold
        if self.failure is not None:
            where = (
                f" over {t.window_s:g}s ending at {self.failure.at_s:.0f}s" if t.window_s else ""
            )
            return f"{self.failure.value:.4g}{where}"
        if self.latest is None or self.latest.value is None:
            return "no samples"
        if self.latest.ok is None:
            return f"{self.latest.value:.4g} (too few samples to judge: {self.latest.samples})"
        return f"{self.latest.value:.4g}"


@dataclass
class Judge:
    """Judges a set of thresholds as a run goes (`tick`) and at its end (`finish`).

    `seconds` handed in are the run's complete seconds so far, oldest first.
    """

    thresholds: Sequence[Threshold]
    min_samples: int = DEFAULT_MIN_SAMPLES
    verdicts: list[Verdict] = field(init=False)
    abort: Verdict | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.verdicts = [Verdict(t) for t in self.thresholds]

    def tick(self, seconds: Sequence[Second], elapsed_s: float) -> Verdict | None:
        """Judge every threshold now; returns the verdict that asks to abort the run, if any."""
        for verdict in self.verdicts:
            evaluation = self._judge(verdict, seconds, elapsed_s, final=False)
            if evaluation is None:
                continue
            verdict.latest = evaluation
            if evaluation.ok is False and verdict.threshold.window_s is not None:
                verdict.failure = verdict.failure or evaluation
            t = verdict.threshold
            if (
                evaluation.ok is False
                and t.abort_on_fail
                and elapsed_s >= t.delay_abort_eval_s
                and self.abort is None
            ):
                verdict.failure = verdict.failure or evaluation
                self.abort = verdict
        return self.abort

    def finish(self, seconds: Sequence[Second], elapsed_s: float) -> list[Verdict]:
        """The end-of-run judgement of every threshold."""
        for verdict in self.verdicts:
            evaluation = self._judge(verdict, seconds, elapsed_s, final=True)
            if evaluation is None:
                continue
            verdict.latest = evaluation
            if evaluation.ok is False:
                verdict.failure = verdict.failure or evaluation
        return self.verdicts

    @property
    def passed(self) -> bool:
        return all(v.ok for v in self.verdicts)

    def _judge(
        self, verdict: Verdict, seconds: Sequence[Second], elapsed_s: float, *, final: bool
    ) -> Evaluation | None:
        t = verdict.threshold
        if t.window_s is None:
            # The whole run; counters and sparse metrics need no minimum at the end.
            needed = 1 if final else self.min_samples
            return evaluate(t, seconds, at_s=elapsed_s, min_samples=needed)
        span = max(1, round(t.window_s))
        if elapsed_s < t.window_s or not seconds:
            return None
        last = seconds[-1].t
        window = [s for s in seconds if s.t > last - span]
        evaluation = evaluate(t, window, at_s=elapsed_s, min_samples=self.min_samples)
        if evaluation.ok is not None:
            verdict.windows_judged += 1
        elif final and verdict.windows_judged == 0:
            # Never enough samples in any window: say so rather than pass.
            return Evaluation(t, evaluation.value, evaluation.samples, False, elapsed_s)
        return evaluation
