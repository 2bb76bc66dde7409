"""Read a scenario file: YAML to `Scenario`, every problem as one `FILE:LINE: what is wrong`.

pydantic reports where in the data a problem is (`timeline.0.fault.edges`); the YAML parser's
node tree knows the line of every key and item, so the two are joined here. A fault naming an
edge or a service the topology does not have is caught here too, before anything is touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from harness.errors import UserError
from harness.yaml_lines import Loc, dotted, line_of
from scenarios.model import (
    EXPECTATION_KEYS,
    PROBE_KEYS,
    ROLLBACK_KEYS,
    LocatedError,
    Scenario,
)

# The model's field names that differ from the file's keys.
_ALIASES = {"for_": "for"}
_TAGS = {
    *PROBE_KEYS,
    *EXPECTATION_KEYS,
    *ROLLBACK_KEYS,
    *("toxic", "http", "down", "database", "broker", "process"),
}
_TAG_MARK = "\0"


class ScenarioError(UserError):
    """A scenario file that cannot be run as written (exit code 2, nothing touched)."""


def _line_of(node: yaml.Node | None, loc: Loc) -> int:
    return line_of(node, loc, _ALIASES) or 1


def _where(loc: Loc) -> str:
    return dotted(loc, _ALIASES)


def _clean_loc(loc: Loc) -> Loc:
    """Drop what tagged unions add to a location (the chosen kind's tag, right after a list
    index or `fault`, and `function-...[...]` wrappers): those are not keys of the file."""
    keep: list[str | int] = []
    for part in loc:
        if isinstance(part, str) and "[" in part:
            continue
        after_choice = bool(keep) and (isinstance(keep[-1], int) or keep[-1] == "fault")
        if after_choice and part in _TAGS:
            keep.append(_TAG_MARK)  # keeps the next part from being taken for a tag
            continue
        keep.append(part)
    return tuple(p for p in keep if p is not _TAG_MARK)


def _first_problem(exc: ValidationError) -> tuple[Loc, str]:
    error = exc.errors(include_url=False)[0]
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, LocatedError):
        return cause.loc, cause.message
    loc = _clean_loc(tuple(error["loc"]))
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        field = loc[-1] if loc else "?"
        message = f"{_where(loc[:-1]) or 'the file'} needs {field!r}"
        return loc[:-1], message
    if error["type"] == "extra_forbidden":
        return loc, f"unknown key {loc[-1]!r}" + (f" in {_where(loc[:-1])}" if loc[:-1] else "")
    if loc:
        message = f"{_where(loc)}: {message}"
    return loc, message


def load(path: Path, *, topology: Any = None) -> Scenario:
    """The scenario in `path`; `ScenarioError` (`FILE:LINE: what is wrong`) when it is not one.

    With `topology` (a `harness.topology.Topology`), the edges and services that faults and
    breakers name are checked against it as well.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(f"{path}:{line}: not valid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}:1: a scenario is a mapping (title, duration, ...)")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        loc, message = _first_problem(exc)
        raise ScenarioError(f"{path}:{_line_of(node, loc)}: {message}") from None
    if topology is not None:
        for loc, message in _topology_problems(scenario, topology):
            raise ScenarioError(f"{path}:{_line_of(node, loc)}: {message}")
    return scenario


def _topology_problems(scenario: Scenario, topology: Any) -> list[tuple[Loc, str]]:
    edges = {e.proxy_name for e in topology.edges}
    services = set(topology.services)
    problems: list[tuple[Loc, str]] = []

    def edge(loc: Loc, name: str) -> None:
        if name not in edges:
            problems.append((loc, f"unknown edge {name!r} (edges: {', '.join(sorted(edges))})"))

    def service(loc: Loc, name: str) -> None:
        if name not in services:
            known = ", ".join(sorted(services))
            problems.append((loc, f"unknown service {name!r} (services: {known})"))

    for i, entry in enumerate(scenario.timeline):
        fault = entry.fault
        loc: Loc = ("timeline", i, "fault")
        if hasattr(fault, "edge"):
            edge((*loc, "edge"), fault.edge)
        for j, name in enumerate(getattr(fault, "edges", [])):
            edge((*loc, "edges", j), name)
        if hasattr(fault, "service"):
            service((*loc, "service"), fault.service)
    http_edges = {e.proxy_name for e in topology.edges if e.kind == "http"}
    for i, exp in enumerate(scenario.expectations):
        name = getattr(exp, "breaker_opens", None)
        if name is not None and name not in http_edges:
            known = ", ".join(sorted(http_edges))
            problems.append(
                (("expectations", i, "breaker_opens"), f"no breaker {name!r} (HTTP edges: {known})")
            )
    for i, probe in enumerate(scenario.steady_state.probes):
        for field in ("ready",):
            value = getattr(probe, field, None)
            if isinstance(value, list):
                for j, name in enumerate(value):
                    service(("steady_state", "probes", i, field, j), name)
        value = getattr(probe, "breakers_closed", None)
        if isinstance(value, list):
            for j, name in enumerate(value):
                if name not in http_edges:
                    problems.append(
                        (
                            ("steady_state", "probes", i, "breakers_closed", j),
                            f"no breaker {name!r}",
                        )
                    )
    for i, rollback in enumerate(scenario.rollbacks):
        if hasattr(rollback, "restart"):
            service(("rollbacks", i, "restart"), rollback.restart)
    return problems
