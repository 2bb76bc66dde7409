"""`NAME=VALUE` settings given on a command line (`faultline up --env`, `pytest
--faultline-env`)."""

from __future__ import annotations

from collections.abc import Iterable

from harness.errors import UserError


def parse_assignments(items: Iterable[str] | None, option: str) -> dict[str, str]:
    """{NAME: VALUE} from `NAME=VALUE` items; anything else is a UserError naming `option`."""
    parsed: dict[str, str] = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UserError(f"{option} expects NAME=VALUE, got {item!r}")
        parsed[name.strip()] = value
    return parsed
