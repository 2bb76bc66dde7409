"""Verify one provider against every pact that names it, with its own state handlers.

A failure raises `VerificationFailed` whose message lists each failing interaction and what
did not match (path, expected, actual), followed by the verifier's report.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pact import Verifier

from contracts.broker import BrokerConfig
from contracts.pactfiles import HTTP, MESSAGE, PACT_DIR, load_pacts

log = logging.getLogger(__name__)

StateFn = Callable[[dict[str, Any]], None]
RESULTS_ENV = "FAULTLINE_CONTRACTS_RESULTS"


class VerificationFailed(AssertionError):
    """The provider does not honour what a consumer expects."""


@dataclass
class ProviderStates:
    """State handlers: `setup` before and `teardown` after each interaction.

    A state no handler knows fails the interaction, so a consumer cannot name a state the
    provider silently ignores. A state without its own teardown is torn down by `reset`
    (typically: empty the provider's tables), so each interaction starts from nothing.
    """

    reset: Callable[[], None] | None = None
    setups: dict[str, StateFn] = field(default_factory=dict)
    teardowns: dict[str, StateFn] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)

    def state(self, name: str, teardown: StateFn | None = None) -> Callable[[StateFn], StateFn]:
        def register(setup: StateFn) -> StateFn:
            self.setups[name] = setup
            if teardown is not None:
                self.teardowns[name] = teardown
            return setup

        return register

    def __call__(self, state: str, action: str, parameters: dict[str, Any] | None) -> None:
        if not state:  # the verifier's generic per-interaction hook
            return
        if state not in self.setups:
            raise KeyError(f"unknown provider state {state!r}; known: {sorted(self.setups)}")
        self.calls.append((action, state))
        if action == "setup":
            self.setups[state](dict(parameters or {}))
        elif state in self.teardowns:
            self.teardowns[state](dict(parameters or {}))
        elif self.reset is not None:
            self.reset()


@dataclass
class Verification:
    provider: str
    interactions: int
    results: dict[str, Any]


def _describe(results: dict[str, Any]) -> list[str]:
    lines = []
    for error in results.get("errors", []):
        lines.append(f"- {error.get('interaction')}")
        mismatch = error.get("mismatch") or {}
        for m in mismatch.get("mismatches", []) or []:
            where = m.get("path") or m.get("type")
            lines.append(f"    {where}: {m.get('mismatch')}")
            if "expected" in m or "actual" in m:
                lines.append(f"      expected {m.get('expected')!s}, got {m.get('actual')!s}")
        if mismatch.get("message"):
            lines.append(f"    {mismatch['message']}")
    return lines


def record(provider: str, results: dict[str, Any]) -> None:
    """With `FAULTLINE_CONTRACTS_RESULTS` set, keep the outcome of each interaction there
    (`faultline contracts` prints them per consumer-provider pair)."""
    directory = os.environ.get(RESULTS_ENV)
    if not directory:
        return
    rows = [
        {
            "consumer": r.get("consumer"),
            "provider": r.get("provider", provider),
            "description": r.get("description"),
            "ok": r.get("result") == "OK",
        }
        for r in results.get("interactionResults", [])
    ]
    path = Path(directory) / f"{provider}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows, indent=1), encoding="utf-8")


def verify_provider(
    provider: str,
    *,
    url: str | None,
    states: ProviderStates,
    messages: Mapping[str, Callable[..., Any]] | None = None,
    pact_dir=PACT_DIR,
    broker: BrokerConfig | None = None,
    keep_results: bool = True,
) -> Verification:
    """Replay every interaction consumers expect of `provider` against it."""
    # Only what this run can replay: HTTP interactions need `url`, messages need `messages`.
    pacts = [
        p
        for p in load_pacts(pact_dir).values()
        if p.provider == provider
        and ((url is not None and p.of_type(HTTP)) or (messages and p.of_type(MESSAGE)))
    ]
    if not pacts and broker is None:
        raise VerificationFailed(f"no pact in {pact_dir} names {provider!r} as provider")
    verifier = Verifier(provider, host="127.0.0.1")
    if url is not None:
        verifier.add_transport(url=url)
    if messages:
        verifier.message_handler(dict(messages))
    verifier.state_handler(states, teardown=True)
    verifier.set_coloured_output(enabled=False)
    if broker is None:
        for pact in pacts:
            verifier.add_source(pact.path)
    else:
        (
            verifier.broker_source(broker.url, selector=True)
            .consumer_version(main_branch=True)
            .consumer_version(deployed_or_released=True)
            .consumer_version(matching_branch=True)
            .include_pending()
            .provider_branch(broker.branch)
            .build()
        )
        verifier.set_publish_options(version=broker.version, branch=broker.branch)
    try:
        verifier.verify()
    except RuntimeError:
        results = verifier.results
        if keep_results:
            record(provider, results)
        report = verifier.output(strip_ansi=True)
        lines = [f"provider {provider!r} breaks what its consumers expect:", *_describe(results)]
        raise VerificationFailed("\n".join([*lines, "", "verifier report:", report])) from None
    results = verifier.results
    if keep_results:
        record(provider, results)
    count = len(results.get("interactionResults", []))
    if broker is None:
        expected = sum(len(p.interactions) for p in pacts)
        if count != expected:
            raise VerificationFailed(
                f"{provider}: verified {count} interactions, the pacts hold {expected}"
            )
    return Verification(provider=provider, interactions=count, results=results)
