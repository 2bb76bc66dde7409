"""The `faultline` command line: one Typer app made of the areas in `faultline.commands`."""

from __future__ import annotations

import importlib
import sys

import typer

from faultline.console import err
from harness.errors import UserError

app = typer.Typer(
    name="faultline",
    help="Chaos- and contract-testing harness for the reference booking suite.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# The modules of faultline.commands, in the order `faultline --help` lists their commands:
# a new area is a module there and its name here.
COMMANDS = (
    "stack",
    "chaos",
    "contracts",
    "deploy",
    "toxiproxy",
    "load",
    "gameday",
)
for area in COMMANDS:
    app.add_typer(importlib.import_module(f"faultline.commands.{area}").app)


def main() -> None:
    try:
        code = app(standalone_mode=False)
    except UserError as exc:
        err.print(f"faultline: {exc}", markup=False)
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("faultline: aborted")
        sys.exit(130)
    except Exception as exc:
        # Usage errors carry a message and an exit code; typer vendors its own click, so
        # match them by shape rather than by the `click` package's classes.
        if hasattr(exc, "format_message") and isinstance(getattr(exc, "exit_code", None), int):
            message = exc.format_message()
            if message:  # a bare `faultline` has already printed its help
                err.print(f"faultline: {message}", markup=False)
            sys.exit(exc.exit_code)
        raise
    # Without standalone mode click returns a command's `typer.Exit` code instead of exiting.
    if isinstance(code, int):
        sys.exit(code)


if __name__ == "__main__":
    main()
