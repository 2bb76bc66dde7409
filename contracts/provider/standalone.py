"""A provider served for the `pact verifier` command line, as a Pact user verifies one: the
real service on a port of its own, and next to it the provider-states endpoint the verifier
calls (`--state-change-url`) before and after each interaction.

`python -m contracts.provider <name>` serves one until Ctrl-C and prints the command line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from contracts.broker import pact_cli
from contracts.pactfiles import HTTP, PACT_DIR, load_pacts
from contracts.provider.apps import served
from contracts.provider.bookings import BookingsProvider, Downstreams
from contracts.provider.facilities import facilities_states
from contracts.provider.notifications import notifications_states
from contracts.provider.payments import payments_states
from contracts.provider.users import users_states
from contracts.provider.verify import ProviderStates
from contracts.sandbox import Sandbox
from contracts.serving import serve

STATES_PATH = "/_pact/provider-states"
PROVIDERS = ("users", "facilities", "payments", "bookings", "notifications")


@dataclass
class ServedProvider:
    name: str
    url: str
    states_url: str


def states_app(states: ProviderStates) -> FastAPI:
    """The endpoint the verifier posts `{"state", "params", "action"}` to."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.post(STATES_PATH)
    def change_state(body: dict[str, Any]) -> JSONResponse:
        state, action = body.get("state") or "", body.get("action") or "setup"
        try:
            states(state, action, body.get("params") or {})
        except Exception as exc:  # the verifier shows it against the interaction
            return JSONResponse({"error": f"{action} {state!r}: {exc}"}, status_code=500)
        return JSONResponse({})

    return app


@contextmanager
def provider_for_cli(name: str, sandbox: Sandbox, wrap: Any = None) -> Iterator[ServedProvider]:
    """Serve provider `name` (and what it calls) for real, with its provider states.
    `wrap` wraps the provider's ASGI app (a middleware simulating a provider change)."""
    if name not in PROVIDERS:
        raise ValueError(f"unknown provider {name!r}; one of {', '.join(PROVIDERS)}")
    with ExitStack() as stack:
        if name == "bookings":
            facilities, facilities_app = stack.enter_context(served("facilities", sandbox))
            payments, payments_app = stack.enter_context(served("payments", sandbox))
            running, app = stack.enter_context(
                served(
                    "bookings",
                    sandbox,
                    facilities_url=facilities.url,
                    payments_url=payments.url,
                    saga_budget_s=30.0,
                )
            )
            downstreams = Downstreams(
                facilities=facilities_states(facilities, facilities_app),
                payments=payments_states(payments, payments_app),
            )
            states = BookingsProvider(running, app, downstreams).states()
        else:
            from contracts.provider.apps import build

            app = build(name, sandbox)
            running = stack.enter_context(serve(wrap(app) if wrap else app))
            states = {
                "users": users_states,
                "facilities": facilities_states,
                "payments": payments_states,
                "notifications": notifications_states,
            }[name](running, app)
        if getattr(app.state, "broker", None) is not None:  # its outbox publishes events
            running.run(app.state.broker.wait_ready(15), timeout=20)
        endpoint = stack.enter_context(serve(states_app(states)))
        yield ServedProvider(name, running.url, f"{endpoint.url}{STATES_PATH}")


def http_pact_files(provider: str, pact_dir: Path = PACT_DIR) -> list[Path]:
    """The pact files whose HTTP interactions `provider` must honour."""
    return sorted(
        p.path for p in load_pacts(pact_dir).values() if p.provider == provider and p.of_type(HTTP)
    )


def verifier_argv(
    provider: ServedProvider, files: list[Path], json_report: Path | None = None
) -> list[str]:
    """`pact verifier` (pact-python-cli) for those files against that provider."""
    host, port = provider.url.removeprefix("http://").rsplit(":", 1)
    argv = [pact_cli() or "pact", "verifier", "--provider-name", provider.name]
    argv += ["--hostname", host, "--port", port]
    argv += ["--state-change-url", provider.states_url, "--state-change-teardown"]
    for path in files:
        argv += ["--file", str(path)]
    if json_report is not None:
        argv += ["--json", str(json_report)]
    return [*argv, "--no-colour"]


def report_outcomes(path: Path) -> dict[str, str]:
    """Interaction description -> result, from the verifier's `--json` report."""
    report = json.loads(path.read_text(encoding="utf-8"))
    return {r["description"]: r["result"] for r in report.get("interactionResults", [])}
