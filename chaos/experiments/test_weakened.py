"""Each experiment matters: with its mechanism switched off, it reports which property broke."""

from __future__ import annotations

from typing import Any

import pytest

from chaos.experiments.catalog import EXPERIMENTS, Experiment, weakened

pytestmark = pytest.mark.chaos

WEAKENED = weakened()


def test_every_switch_of_the_suite_has_an_experiment_that_catches_it() -> None:
    switches = {e.weakening.switch for e in EXPERIMENTS if e.weakening and e.weakening.is_switch}
    assert switches == {
        "breakers",
        "retries",
        "timeouts",
        "outbox",
        "consumer_dedupe",
        "consumer_delay_queues",
        "compensation",
    }


def _id(experiment: Experiment) -> str:
    weakening = experiment.weakening
    assert weakening is not None
    if not weakening.is_switch:
        return f"{experiment.name}-{weakening.switch}={weakening.value}"
    shared = sum(1 for e in WEAKENED if e.weakening and e.weakening.switch == weakening.switch)
    return f"{weakening.switch}-off" + (f"-{experiment.name}" if shared > 1 else "")


@pytest.mark.parametrize("experiment", WEAKENED, ids=_id)
def test_experiment_fails_when_its_mechanism_is_switched_off(
    weakened_stack: Any, chaos_seed: int, experiment: Experiment
) -> None:
    weakening = experiment.weakening
    assert weakening is not None
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
