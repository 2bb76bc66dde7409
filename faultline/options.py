"""Options several commands share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

TopologyOption = Annotated[
    Path | None,
    typer.Option(
        "--topology",
        help="Topology file (default: $FAULTLINE_TOPOLOGY or the booking suite's).",
        dir_okay=False,
    ),
]

EnvOption = Annotated[
    list[str] | None,
    typer.Option(
        "--env",
        "-e",
        metavar="NAME=VALUE",
        help="Extra environment for every service, e.g. SVC_BREAKERS=false (repeatable).",
    ),
]

ReportDirOption = Annotated[
    Path,
    typer.Option("--report-dir", help="Where the JUnit XML reports are written.", file_okay=False),
]
