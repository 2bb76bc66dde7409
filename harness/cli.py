"""The `faultline` command line: one Typer app; each layer registers its own commands."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from harness.errors import UserError

app = typer.Typer(
    name="faultline",
    help="Chaos- and contract-testing harness for the reference booking suite.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _register() -> None:
    # Imported here so that `faultline --help` stays fast and one broken layer
    # cannot hide the others' commands behind an import error at module load.
    from chaos.toxiproxy.cli import toxiproxy

    app.command("toxiproxy", help="Run the embedded Toxiproxy-compatible fault proxy.")(toxiproxy)


def main() -> None:
    _register()
    try:
        app(standalone_mode=False)
    except UserError as exc:
        err.print(f"faultline: {exc}")
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("faultline: aborted")
        sys.exit(130)
    except Exception as exc:  # click usage errors carry their own exit code
        import click

        if isinstance(exc, click.exceptions.ClickException):
            err.print(f"faultline: {exc.format_message()}")
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
