"""The optional parts of faultline (pip extras) and a readable refusal when one is missing.

The core (services, stack, Toxiproxy, chaos, audit, pytest plugin) installs with
`pip install faultline`; the heavy test-layer libraries come with an extra. Layers that need
one import it lazily, so the rest works without it.
"""

from __future__ import annotations

import importlib.util

from harness.errors import UserError

# extra -> the modules it brings
EXTRAS: dict[str, tuple[str, ...]] = {
    "contracts": ("pact", "schemathesis"),
    "load": ("locust",),
    "containers": ("testcontainers", "docker"),
    "chaostoolkit": ("chaoslib", "chaostoolkit"),
}


class MissingExtra(UserError):
    """A command needs an extra that is not installed."""


def missing(extra: str) -> list[str]:
    """The modules of `extra` that cannot be imported here."""
    return [m for m in EXTRAS[extra] if importlib.util.find_spec(m) is None]


def require(extra: str, what: str) -> None:
    """Refuse with one line when `extra` is not installed; `what` names who needs it,
    e.g. "faultline load"."""
    if missing(extra):
        raise MissingExtra(f"{what} needs the {extra} extra: pip install 'faultline[{extra}]'")
