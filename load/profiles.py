"""Load profiles as data: who the users are, how many (or how fast they arrive), for how long,
and the thresholds that decide the run.

Two models, as in k6:
- closed (`users`): a number of simulated users, each running iterations one after another
  with a think time between them; the load falls when the system slows down.
- open (`rate`): iterations start on a schedule (per second, ramping linearly between stages)
  whatever the response time; `max_in_flight` bounds how many run at once, and an iteration
  that finds no free slot at its start time is counted in `dropped_iterations`.

`stages` are k6's: each names a target (users, or iterations/s) reached linearly by the end of
the stage, from the previous stage's target (the first starts from `start`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from harness.errors import UserError

from .thresholds import ThresholdError, parse, parse_duration

Model = Literal["closed", "open"]

# What the suite's users do (load.behaviours); a profile's `mix` weighs them.
BEHAVIOURS = ("browse_and_book", "book", "book_and_cancel", "read_details", "create_facility")
FAMILY_MIX: Mapping[str, int] = {
    "browse_and_book": 6,
    "book_and_cancel": 2,
    "read_details": 3,
    "create_facility": 1,
}
BOOKING = "POST /api/bookings"
MIN_POOL = 8  # the smallest pool of users an open model gets from an override


@dataclass(frozen=True)
class Stage:
    duration_s: float
    target: float  # users (closed) or iterations per second (open)


@dataclass(frozen=True)
class Overrides:
    """What a user changes of a profile: the peak of its users or rate (the stages keep their
    shape), its length (stages scaled to it), and thresholds (see `Profile.with_thresholds`)."""

    users: int | None = None
    rate: float | None = None
    duration_s: float | None = None
    thresholds: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    model: Model
    stages: tuple[Stage, ...]
    thresholds: tuple[str, ...]
    start: float = 0.0  # users or rate before the first stage
    max_in_flight: int = 32  # open model: iterations at once (k6's maxVUs)
    think_s: tuple[float, float] = (0.5, 1.5)  # closed model: pause between iterations
    mix: Mapping[str, int] = field(default_factory=lambda: dict(FAMILY_MIX))
    # > 0: bookings share this many slots on one facility, so they conflict on purpose.
    contention_slots: int = 0
    # A stepped profile: what must hold over each step for its rate to count as sustained.
    step_slo: tuple[str, ...] = ()

    @property
    def duration_s(self) -> float:
        return sum(s.duration_s for s in self.stages)

    @property
    def peak(self) -> float:
        return max([self.start, *(s.target for s in self.stages)])

    @property
    def unit(self) -> str:
        return "users" if self.model == "closed" else "iterations/s"

    def target_at(self, elapsed_s: float) -> float:
        """Users or rate at `elapsed_s` into the run (linear within a stage, as k6 ramps)."""
        before, begun = self.start, 0.0
        for stage in self.stages:
            if elapsed_s < begun + stage.duration_s:
                share = (elapsed_s - begun) / stage.duration_s if stage.duration_s else 1.0
                return before + (stage.target - before) * share
            before, begun = stage.target, begun + stage.duration_s
        return before

    def with_thresholds(self, extra: Sequence[str]) -> Profile:
        """`extra` replaces the profile's threshold on the same metric, tags and aggregator
        (`http_req_duration: p(95)<300` replaces `http_req_duration: p(95)<800`); others add."""
        if not extra:
            return self
        parsed = [_parse(text) for text in extra]
        kept = [
            text
            for text in self.thresholds
            if not any(_same_figure(_parse(text), new) for new in parsed)
        ]
        return replace(self, thresholds=(*kept, *(t.source for t in parsed)))

    def overridden(self, overrides: Overrides | None) -> Profile:
        if overrides is None:
            return self
        o = overrides
        if o.users is not None and o.rate is not None:
            raise UserError("give either users or a rate, not both")
        profile = self
        if o.users is not None:
            if o.users < 1:
                raise UserError(f"users must be at least 1, not {o.users}")
            profile = profile._scaled_to("closed", o.users)
        if o.rate is not None:
            if o.rate <= 0:
                raise UserError(f"a rate must be above 0/s, not {o.rate:g}")
            profile = profile._scaled_to("open", o.rate)
        if o.duration_s is not None:
            if o.duration_s <= 0:
                raise UserError(f"a duration must be longer than 0s, not {o.duration_s:g}s")
            factor = o.duration_s / profile.duration_s
            stages = tuple(replace(s, duration_s=s.duration_s * factor) for s in profile.stages)
            profile = replace(profile, stages=stages)
        return profile.with_thresholds(o.thresholds)

    def _scaled_to(self, model: Model, peak: float) -> Profile:
        if model != self.model:
            # Another model at a constant level, for as long, with the same users' mix.
            level = round(peak) if model == "closed" else peak
            flat = (Stage(self.duration_s, level),)
            pool = max(MIN_POOL, round(2 * level)) if model == "open" else self.max_in_flight
            return replace(self, model=model, stages=flat, start=level, max_in_flight=pool)
        factor = peak / self.peak if self.peak else 1.0

        def scale(x: float) -> float:
            return round(x * factor) if model == "closed" else x * factor

        stages = tuple(replace(s, target=scale(s.target)) for s in self.stages)
        # The pool of users follows the rate (each logs in first: no larger than needed).
        pool = max(MIN_POOL, round(self.max_in_flight * factor))
        return replace(self, stages=stages, start=scale(self.start), max_in_flight=pool)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "model": self.model,
            "stages": [[s.duration_s, s.target] for s in self.stages],
            "start": self.start,
            "max_in_flight": self.max_in_flight,
            "think_s": list(self.think_s),
            "mix": dict(self.mix),
            "contention_slots": self.contention_slots,
            "thresholds": list(self.thresholds),
            "step_slo": list(self.step_slo),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Profile:
        return cls(
            name=data["name"],
            description=data["description"],
            model=data["model"],
            stages=tuple(Stage(float(d), float(t)) for d, t in data["stages"]),
            thresholds=tuple(data["thresholds"]),
            start=float(data["start"]),
            max_in_flight=int(data["max_in_flight"]),
            think_s=(float(data["think_s"][0]), float(data["think_s"][1])),
            mix=dict(data["mix"]),
            contention_slots=int(data["contention_slots"]),
            step_slo=tuple(data.get("step_slo", ())),
        )


def _parse(text: str) -> Any:
    try:
        return parse(text)
    except ThresholdError as exc:
        raise UserError(str(exc)) from None


def _same_figure(a: Any, b: Any) -> bool:
    return (a.metric, a.tags, a.aggregator, a.percentile, a.window_s) == (
        b.metric,
        b.tags,
        b.aggregator,
        b.percentile,
        b.window_s,
    )


def _steps(first: float, step: float, count: int, each_s: float) -> tuple[Stage, ...]:
    """A staircase: each rate held for `each_s` after a one-second climb."""
    stages: list[Stage] = []
    for i in range(count):
        rate = first + i * step
        stages += [Stage(1.0, rate), Stage(each_s - 1.0, rate)]
    return tuple(stages)


COMMON = (
    "http_req_failed: rate<0.01",
    "checks: rate>0.99",
)

PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            "smoke",
            "a few users for about 15 s: every behaviour once or more (in `make test`)",
            "closed",
            (Stage(2, 4), Stage(13, 4)),
            (
                f"http_req_duration{{name:{BOOKING}}}: p(95)<2000",
                "http_req_duration: p(95)<2000",
                *COMMON,
            ),
            think_s=(0.2, 0.6),
        ),
        Profile(
            "baseline",
            "steady traffic at an arrival rate the suite is sized for",
            "open",
            (Stage(10, 8), Stage(50, 8)),
            (
                f"http_req_duration{{name:{BOOKING}}}: p(95)<800",
                "http_req_duration: p(95)<500",
                "dropped_iterations: count==0",
                *COMMON,
            ),
            max_in_flight=16,
        ),
        Profile(
            "spike",
            "steady, then five times the rate for 15 s, then steady again",
            "open",
            (Stage(10, 4), Stage(3, 20), Stage(15, 20), Stage(3, 4), Stage(15, 4)),
            (
                f"http_req_duration{{name:{BOOKING}}}: p(95)<2000",
                "http_req_failed: rate<0.05",
                "checks: rate>0.95",
                # After the spike the suite must recover: the last window is judged too.
                "http_req_duration: p(95)<1000 over 10s",
            ),
            max_in_flight=40,
        ),
        Profile(
            "soak",
            "steady users for ten minutes: leaks, pools and queues that fill slowly",
            "closed",
            (Stage(30, 12), Stage(570, 12)),
            (
                f"http_req_duration{{name:{BOOKING}}}: p(95)<800 over 60s",
                "http_req_failed: rate<0.01 over 60s",
                "checks: rate>0.99",
            ),
        ),
        Profile(
            "contention",
            "many users booking the same few slots of one facility: conflicts on purpose",
            "closed",
            (Stage(3, 30), Stage(27, 30)),
            (
                f"http_req_duration{{name:{BOOKING}}}: p(95)<2000",
                "http_req_failed: rate<0.01",
                "checks: rate>0.99",
            ),
            think_s=(0.0, 0.2),
            mix={"book": 1},
            contention_slots=3,
        ),
        Profile(
            "breakpoint",
            "bookings at a rate stepped up every 10 s until the SLO breaks; the last rate "
            "that held is the suite's capacity",
            "open",
            _steps(2, 2, 20, 10),
            (
                # Stops the run once the SLO has clearly broken.
                f"http_req_duration{{name:{BOOKING}}}: p(95)<1000 over 10s abortOnFail "
                "delayAbortEval=10s",
            ),
            max_in_flight=64,
            mix={"book": 1},
            step_slo=(
                f"http_req_duration{{name:{BOOKING}}}: p(95)<1000",
                "http_req_failed: rate==0",
                "checks: rate==1",
                "dropped_iterations: count==0",
            ),
        ),
    )
}


def list_profiles() -> list[Profile]:
    return list(PROFILES.values())


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise UserError(f"no load profile named {name!r} (known: {', '.join(PROFILES)})") from None


def duration_arg(text: str) -> float:
    """`30s`, `2m`, `90` as seconds; a usage error otherwise."""
    try:
        return parse_duration(text)
    except ThresholdError as exc:
        raise UserError(str(exc)) from None
