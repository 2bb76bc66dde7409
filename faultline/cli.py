"""The `faultline` command line: one Typer app made of the areas in `faultline.commands`."""

from __future__ import annotations

import sys

import typer

from faultline.commands import chaos, contracts, deploy, stack, toxiproxy
from faultline.console import err
from harness.errors import UserError

app = typer.Typer(
    name="faultline",
    help="Chaos- and contract-testing harness for the reference booking suite.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Each area's commands, in the order `faultline --help` lists them.
COMMANDS = (
    stack.app,
    chaos.app,
    contracts.app,
    deploy.app,
    toxiproxy.app,
)
for commands in COMMANDS:
    app.add_typer(commands)


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
