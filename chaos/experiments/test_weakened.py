"""Each experiment matters: with its mechanism switched off, it reports which property broke.

The switches come from the services' settings, not from a list kept here: a new `SVC_*`
boolean switch that no weakened experiment turns off is a failing test named after it.
"""

from __future__ import annotations

from typing import Any

import pytest

from chaos.experiments.catalog import EXPERIMENTS, Experiment, weakened
from system_under_test.common.settings import ServiceSettings

pytestmark = pytest.mark.chaos

SETTINGS = ServiceSettings.model_fields
# The resilience switches: every boolean setting the services share, except those marked as
# observability (tracing), which no mechanism depends on.
SWITCHES = [
    name
    for name, field in SETTINGS.items()
    if field.annotation is bool
    and not (
        isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get("observability")
    )
]
WEAKENED = weakened()


def _weakened_by(switch: str, experiments: list[Experiment]) -> list[Experiment]:
    return [
        e
        for e in experiments
        if e.weakening is not None and e.weakening.is_switch and e.weakening.switch == switch
    ]


def _cases() -> list[Any]:
    """One case per switch and experiment turning it off (a switch that none turns off is a
    case of its own, which fails), then the weakenings that set a value instead."""
    cases = []
    for switch in SWITCHES:
        catching = _weakened_by(switch, WEAKENED)
        if not catching:
            cases.append(pytest.param(switch, None, id=f"{switch}-off"))
        for experiment in catching:
            suffix = f"-{experiment.name}" if len(catching) > 1 else ""
            cases.append(pytest.param(switch, experiment, id=f"{switch}-off{suffix}"))
    for experiment in WEAKENED:
        weakening = experiment.weakening
        assert weakening is not None
        if weakening.switch not in SWITCHES or not weakening.is_switch:
            case_id = f"{experiment.name}-{weakening.switch}={weakening.value}"
            cases.append(pytest.param(weakening.switch, experiment, id=case_id))
    return cases


def test_every_weakening_names_a_setting_of_the_services() -> None:
    # Services ignore unknown `SVC_` variables: a misspelt switch would weaken nothing.
    unknown = {
        e.name: e.weakening.variable
        for e in EXPERIMENTS
        if e.weakening is not None and e.weakening.switch not in SETTINGS
    }
    assert not unknown, f"weakened settings ServiceSettings does not have: {unknown}"
    not_switches = {
        e.name: e.weakening.variable
        for e in EXPERIMENTS
        if e.weakening is not None and e.weakening.is_switch and e.weakening.switch not in SWITCHES
    }
    assert not not_switches, f"switched off, but not boolean settings: {not_switches}"


@pytest.mark.parametrize(("switch", "experiment"), _cases())
def test_experiment_fails_when_its_mechanism_is_switched_off(
    request: pytest.FixtureRequest, chaos_seed: int, switch: str, experiment: Experiment | None
) -> None:
    if experiment is None:
        soak_only = [e.name for e in _weakened_by(switch, EXPERIMENTS)]
        pytest.fail(
            f"no experiment of this run turns the switch {switch!r} off "
            f"(SVC_{switch.upper()}=false)"
            + (f"; only soak runs do: {', '.join(soak_only)}" if soak_only else "")
            + ": give the experiment that shows it matters a Weakening in "
            "chaos/experiments/catalog.py",
            pytrace=False,
        )
    weakening = experiment.weakening
    assert weakening is not None
    # Requested here, not as an argument: a switch without an experiment starts no stack.
    weakened_stack = request.getfixturevalue("weakened_stack")
    with weakening.applied(weakened_stack):
        result = experiment(weakened_stack, seed=chaos_seed)

    assert not result.passed, (
        f"still passes with {weakening.variable}={weakening.value}:\n{result.report()}"
    )
    assert weakening.breaks in {p.name for p in result.broken}, result.report()
    held = {p.name for p in result.properties if p.held}
    assert set(weakening.holds) <= held, result.report()
    explanation = result.explanation
    assert f"broken: {weakening.breaks}:" in explanation
    assert "Traceback" not in explanation
