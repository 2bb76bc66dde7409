"""Each experiment matters: with its mechanism switched off, it reports which property broke."""

from __future__ import annotations

from typing import Any

import pytest

from chaos.experiments.catalog import EXPERIMENTS, Experiment

pytestmark = pytest.mark.chaos

WEAKENED = [e for e in EXPERIMENTS if e.weakening is not None]


def test_every_switch_of_the_suite_has_an_experiment_that_catches_it() -> None:
    switches = {e.weakening.switch for e in WEAKENED if e.weakening}
    assert switches == {
        "breakers",
        "retries",
        "timeouts",
        "outbox",
        "consumer_dedupe",
        "compensation",
    }


@pytest.mark.parametrize("experiment", WEAKENED, ids=lambda e: f"{e.weakening.switch}-off")
def test_experiment_fails_when_its_mechanism_is_switched_off(
    weakened_stack: Any, chaos_seed: int, experiment: Experiment
) -> None:
    weakening = experiment.weakening
    assert weakening is not None
    with weakening.applied(weakened_stack):
        result = experiment(weakened_stack, seed=chaos_seed)

    assert not result.passed, f"still passes with {weakening.variable}=false:\n{result.report()}"
    assert weakening.breaks in {p.name for p in result.broken}, result.report()
    explanation = result.explanation
    assert f"broken: {weakening.breaks}:" in explanation
    assert "Traceback" not in explanation
