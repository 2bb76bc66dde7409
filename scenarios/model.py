"""The game-day scenario file: what a person writes, as pydantic models.

    title: Payments down under load
    duration: 90s
    steady_state:
      probes:
        - ready: all
        - breakers_closed: all
        - threshold: "http_req_failed: rate<0.01 over 10s"
    load: {profile: baseline, rate: 20}
    timeline:
      - {name: payments-down, at: 20s, for: 40s, fault: {kind: down, edges: [bookings->payments]}}
    expectations:
      - {phase: payments-down, breaker_opens: bookings->payments, within: 10s}
      - {phase: after, recovers_within: 30s, of: payments-down}
      - {phase: after, audit_clean: true}
    safeguards:
      - {name: error rate, threshold: "http_req_failed: rate<0.5 over 20s"}

Durations are `500ms`, `20s`, `2m` or a bare number of seconds. Faults are the fault API's specs
(`chaos.faults.spec`), addressed by topology name. Phases are `before` (until the first fault),
each timeline entry by name (its window), `after` (from the last fault's end) and `run` (all of
it). `scenarios/scenario.schema.json` is generated from these models (`python -m
scenarios.schema`) so that editors validate the files.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    Tag,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from chaos.faults.spec import FaultSpec
from load.thresholds import ThresholdError, parse, parse_duration

RESERVED_PHASES = ("before", "after", "run")


def _seconds(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text like 500ms, 20s, 2m")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    try:
        return parse_duration(str(value))
    except ThresholdError as exc:
        raise ValueError(str(exc)) from None


def _threshold(value: Any) -> str:
    text = str(value).strip()
    try:
        parse(text)
    except ThresholdError as exc:
        raise ValueError(str(exc)) from None
    return text


# Seconds as a float in Python, written back as `Ns`; the schema accepts text or a number.
Duration = Annotated[
    float,
    BeforeValidator(_seconds),
    PlainSerializer(lambda s: f"{s:g}s", return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|m|h)?\s*$"},
            ],
            "description": "seconds, or text such as 500ms, 20s, 2m",
        }
    ),
]
# A threshold in the load layer's grammar (k6's, plus `over WINDOW`), checked when read.
ThresholdText = Annotated[
    str,
    BeforeValidator(_threshold),
    WithJsonSchema(
        {
            "type": "string",
            "description": "METRIC[{TAG:VALUE}]: CONDITION [over DURATION], "
            "e.g. 'http_req_failed{name:POST /api/bookings}: rate<0.05'",
        }
    ),
]
Services = Literal["all"] | list[str]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# -- steady state -------------------------------------------------------------------------------


class ReadyProbe(_Model):
    """Every named service (or all) answers `/ready` 200."""

    name: str | None = None
    ready: Services = "all"


class BreakersClosedProbe(_Model):
    """No circuit breaker open (all, or those named `caller->downstream`)."""

    name: str | None = None
    breakers_closed: Services = "all"


class QueuesDrainedProbe(_Model):
    """No event waiting in a queue, a delay queue, an outbox or a consumer's hands."""

    name: str | None = None
    queues_drained: Literal[True] = True
    max_waiting: int = Field(0, ge=0, description="events allowed to wait once load stopped")


class AuditCleanProbe(_Model):
    """The audit finds nothing lost, duplicated or stuck (checked before and after only)."""

    name: str | None = None
    audit_clean: Literal[True] = True


class ThresholdProbe(_Model):
    """A threshold over the load's latest seconds (its `over` window; 10 s if none)."""

    name: str | None = None
    threshold: ThresholdText


def _which(keys: tuple[str, ...]) -> Any:
    def pick(value: Any) -> str | None:
        if isinstance(value, BaseModel):
            value = value.model_dump(by_alias=True)
        if not isinstance(value, dict):
            return None
        found = [k for k in keys if k in value]
        return found[0] if len(found) == 1 else None

    return pick


PROBE_KEYS = ("ready", "breakers_closed", "queues_drained", "audit_clean", "threshold")
Probe = Annotated[
    Annotated[ReadyProbe, Tag("ready")]
    | Annotated[BreakersClosedProbe, Tag("breakers_closed")]
    | Annotated[QueuesDrainedProbe, Tag("queues_drained")]
    | Annotated[AuditCleanProbe, Tag("audit_clean")]
    | Annotated[ThresholdProbe, Tag("threshold")],
    Discriminator(
        _which(PROBE_KEYS),
        custom_error_type="probe_kind",
        custom_error_message="a probe has exactly one of: " + ", ".join(PROBE_KEYS),
    ),
]


class SteadyState(_Model):
    """What "fine" means; checked before the run (not met: nothing is injected) and after it,
    and each `every` seconds during it when given. Recovery time is measured against it."""

    probes: list[Probe] = Field(min_length=1)
    every: Duration | None = Field(None, description="also check during the run this often")


# -- load ----------------------------------------------------------------------------------------


class LoadSpec(_Model):
    """A profile of the load layer with overrides; runs for the scenario's `duration`."""

    profile: str = "baseline"
    users: int | None = Field(None, ge=1, description="closed model: concurrent users")
    rate: float | None = Field(None, gt=0, description="open model: iterations per second")
    thresholds: list[ThresholdText] = Field(
        default_factory=list, description="the profile's thresholds over the whole run"
    )
    processes: int = Field(0, ge=0)


# -- timeline ------------------------------------------------------------------------------------


class TimelineEntry(_Model):
    """One fault, applied `at` seconds into the run and healed `for` seconds later."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    at: Duration
    for_: Duration = Field(alias="for", gt=0)
    fault: FaultSpec
    description: str | None = None

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, name: str) -> str:
        if name in RESERVED_PHASES:
            raise ValueError(f"{name!r} is a phase of every run; name the fault otherwise")
        return name

    @property
    def end(self) -> float:
        return self.at + self.for_


# -- expectations --------------------------------------------------------------------------------


class _Expectation(_Model):
    name: str | None = None
    phase: str = Field(description="before, after, run, or a timeline entry's name")


class ThresholdExpectation(_Expectation):
    """A threshold over the phase's seconds."""

    threshold: ThresholdText


class BreakerOpensExpectation(_Expectation):
    """The breaker `caller->downstream` opens within `within` of the phase's fault applied."""

    breaker_opens: str = Field(pattern=r"^[a-z0-9_]+->[a-z0-9_]+$")
    within: Duration = Field(gt=0)


class RecoversWithinExpectation(_Expectation):
    """Steady state is met again within `recovers_within` of fault `of` healed (default: the
    last fault): the time it took is the fault's recovery time."""

    recovers_within: Duration = Field(gt=0)
    of: str | None = None


class AuditCleanExpectation(_Expectation):
    """Nothing lost, duplicated or stuck (judged once the suite is quiet after the run)."""

    audit_clean: Literal[True] = True


EXPECTATION_KEYS = ("threshold", "breaker_opens", "recovers_within", "audit_clean")
Expectation = Annotated[
    Annotated[ThresholdExpectation, Tag("threshold")]
    | Annotated[BreakerOpensExpectation, Tag("breaker_opens")]
    | Annotated[RecoversWithinExpectation, Tag("recovers_within")]
    | Annotated[AuditCleanExpectation, Tag("audit_clean")],
    Discriminator(
        _which(EXPECTATION_KEYS),
        custom_error_type="expectation_kind",
        custom_error_message="an expectation has exactly one of: " + ", ".join(EXPECTATION_KEYS),
    ),
]


# -- safeguards and rollbacks --------------------------------------------------------------------


class Safeguard(_Model):
    """An abort condition checked every second: when the threshold fails (over its window,
    after `grace`), the run is aborted and rolled back (exit 97)."""

    name: str
    threshold: ThresholdText
    grace: Duration = Field(0.0, description="not judged before this much of the run")


class RestartRollback(_Model):
    """Start a service again (only if it is not running) and wait until it is ready."""

    restart: str


class ResetProxiesRollback(_Model):
    """Remove every toxic and enable every proxy of the stack."""

    reset_proxies: Literal[True] = True


class WaitReadyRollback(_Model):
    """Wait up to this long for every service to be ready."""

    wait_ready: Duration


ROLLBACK_KEYS = ("restart", "reset_proxies", "wait_ready")
Rollback = Annotated[
    Annotated[RestartRollback, Tag("restart")]
    | Annotated[ResetProxiesRollback, Tag("reset_proxies")]
    | Annotated[WaitReadyRollback, Tag("wait_ready")],
    Discriminator(
        _which(ROLLBACK_KEYS),
        custom_error_type="rollback_kind",
        custom_error_message="a rollback has exactly one of: " + ", ".join(ROLLBACK_KEYS),
    ),
]


# -- the scenario --------------------------------------------------------------------------------


class Scenario(_Model):
    """A game day: steady state, load, a timeline of faults, expectations per phase,
    safeguards and extra rollbacks."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        json_schema_extra={"$id": "https://faultline.dev/scenario.schema.json"},
    )

    title: str = Field(min_length=1)
    description: str = ""
    duration: Duration = Field(gt=0, description="how long the load runs, faults included")
    env: dict[str, str] = Field(
        default_factory=dict,
        description="service environment the suite must run with, e.g. SVC_BREAKERS: 'false' "
        "(the suite a game day starts gets it; a running one is checked for it)",
    )
    steady_state: SteadyState
    load: LoadSpec | None = None
    timeline: list[TimelineEntry] = Field(default_factory=list)
    expectations: list[Expectation] = Field(default_factory=list)
    safeguards: list[Safeguard] = Field(default_factory=list)
    rollbacks: list[Rollback] = Field(default_factory=list)
    recovery_timeout: Duration = Field(
        60.0, gt=0, description="longest wait for steady state after the run"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        names = [entry.name for entry in self.timeline]
        seen: set[str] = set()
        for i, name in enumerate(names):
            if name in seen:
                raise _located(("timeline", i, "name"), f"two timeline entries are named {name!r}")
            seen.add(name)
        for i, entry in enumerate(self.timeline):
            if entry.end > self.duration:
                raise _located(
                    ("timeline", i, "for"),
                    f"{entry.name} ends at {entry.end:g}s, after the run's {self.duration:g}s",
                )
        phases = {*RESERVED_PHASES, *names}
        for i, exp in enumerate(self.expectations):
            if exp.phase not in phases:
                raise _located(
                    ("expectations", i, "phase"),
                    f"unknown phase {exp.phase!r} (phases: {', '.join(sorted(phases))})",
                )
            if isinstance(exp, BreakerOpensExpectation) and exp.phase not in names:
                raise _located(
                    ("expectations", i, "phase"),
                    "breaker_opens is judged from a fault's start: its phase names a "
                    "timeline entry",
                )
            if isinstance(exp, RecoversWithinExpectation):
                if not names:
                    raise _located(("expectations", i), "recovers_within needs a fault")
                if exp.of is not None and exp.of not in names:
                    raise _located(
                        ("expectations", i, "of"),
                        f"unknown fault {exp.of!r} (timeline: {', '.join(names)})",
                    )
        return self

    # -- derived -----------------------------------------------------------------------------

    def phases(self) -> list[tuple[str, float, float]]:
        """(name, start_s, end_s) of before, each fault's window, after."""
        if not self.timeline:
            return [("before", 0.0, self.duration)]
        first = min(e.at for e in self.timeline)
        last = max(e.end for e in self.timeline)
        spans = [("before", 0.0, first)]
        spans += [(e.name, e.at, e.end) for e in sorted(self.timeline, key=lambda e: e.at)]
        spans.append(("after", last, self.duration))
        return spans

    def span(self, phase: str) -> tuple[float, float]:
        if phase == "run":
            return 0.0, self.duration
        for name, start, end in self.phases():
            if name == phase:
                return start, end
        raise KeyError(phase)

    def entry(self, name: str) -> TimelineEntry:
        return next(e for e in self.timeline if e.name == name)

    def scaled(self, factor: float) -> Scenario:
        """The same scenario with its clock shrunk by `factor` (short runs in tests): the
        duration and timeline scale; expectation and safeguard times stay real, since a
        breaker or a recovery takes as long as it takes."""
        if factor == 1.0:
            return self
        timeline = [
            e.model_copy(update={"at": e.at * factor, "for_": e.for_ * factor})
            for e in self.timeline
        ]
        return self.model_copy(update={"duration": self.duration * factor, "timeline": timeline})


class LocatedError(ValueError):
    """A consistency error that knows which part of the file it is about."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


def _located(loc: tuple[str | int, ...], message: str) -> LocatedError:
    return LocatedError(loc, message)
