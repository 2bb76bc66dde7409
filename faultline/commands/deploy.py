"""`faultline kubernetes`: the Kubernetes manifests, generated and checked like `compose`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from faultline.console import err, out
from faultline.options import TopologyOption
from harness.errors import UserError

app = typer.Typer()


@app.command()
def kubernetes(
    topology: TopologyOption = None,
    output_dir: Annotated[
        Path, typer.Option("--output-dir", file_okay=False, help="Where the kustomize tree goes.")
    ] = Path("deploy") / "kubernetes",
    check: Annotated[
        bool, typer.Option("--check", help="Only report whether the files are up to date.")
    ] = False,
    secrets: Annotated[
        bool,
        typer.Option(
            "--secrets",
            help="Print the services' Secrets for the servers named by FAULTLINE_POSTGRES_URL "
            "and FAULTLINE_RABBITMQ_URL (and SVC_JWT_SECRET, random when unset), for "
            "`kubectl apply -f -`.",
        ),
    ] = False,
) -> None:
    """Generate the Kubernetes manifests (kustomize base, demo and external overlays)."""
    from harness import kubernetes as k8s
    from harness.topology import load_topology

    topo = load_topology(topology)
    if secrets:
        print(k8s.dump(k8s.secrets_from_environment(topo, dict(os.environ))), end="")
        return
    if check:
        stale = k8s.stale(topo, output_dir)
        if stale:
            err.print(
                f"faultline: out of date in {output_dir}: {', '.join(stale)}; "
                "run `faultline kubernetes`",
                markup=False,
            )
            raise typer.Exit(1)
        out.print(f"the manifests in {output_dir} match the topology")
        return
    if output_dir.exists() and not output_dir.is_dir():
        raise UserError(f"{output_dir} exists and is not a directory")
    written = k8s.write(topo, output_dir)
    out.print(f"wrote {len(written)} files under {output_dir}")
