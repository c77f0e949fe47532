"""``podscaler validate``: manifests of podscaler's kinds checked offline, for CI pipelines.

Triggers go through the scaler registry's offline check (:mod:`scalers.offline`), the same
parse-and-check the operator runs before building a scaler, so validate and the operator agree
on every trigger. Imports are lazy: ``--help`` stays fast, and nothing here connects anywhere.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import click

__all__ = ["validate"]


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--output",
    "-o",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json prints one object per finding, for CI pipelines.",
)
@click.option("--quiet", "-q", is_flag=True, help="Print errors and warnings only.")
def validate(files: tuple[Path, ...], output: str, quiet: bool) -> None:
    """Validate manifests of podscaler's kinds offline.

    Reads each FILE ("-" for standard input; a directory means its *.yaml and *.yml files),
    validates every ScaledObject, ScaledJob, TriggerAuthentication, ClusterTriggerAuthentication,
    ProportionalScaler and VerticalScaler in it (an upstream VerticalPodAutoscaler is checked as
    a VerticalScaler, with a note on porting it, and a cluster-proportional-autoscaler ConfigMap
    as the parameters a ProportionalScaler reads), and ignores other kinds. Exit status: 0 when
    nothing is wrong, 1 when any document is invalid, 2 when a file cannot be read.
    """
    from podscaler.api.manifests import pod_identities_of, validate_documents
    from podscaler.engine.cpa.params import config_map_problems
    from scalers.offline import trigger_checker

    checker = trigger_checker()

    sources: list[tuple[str, str]] = []
    unreadable = False
    for path in files:
        if str(path) == "-":
            sources.append(("<stdin>", sys.stdin.read()))
            continue
        candidates = (
            sorted([*path.glob("*.yaml"), *path.glob("*.yml")]) if path.is_dir() else [path]
        )
        if not candidates:
            click.echo(f"{path}: no *.yaml or *.yml files in this directory", err=True)
        for candidate in candidates:
            try:
                sources.append((str(candidate), candidate.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError) as exc:
                click.echo(f"{candidate}: cannot read: {exc}", err=True)
                unreadable = True
    errors = warnings = 0
    # A ScaledObject's TriggerAuthentication may be in another file of the same run.
    identities = pod_identities_of([text for _, text in sources])
    for source, text in sources:
        for finding in validate_documents(
            text,
            source,
            trigger_checker=checker,
            identities=identities,
            config_map_checker=config_map_problems,
        ):
            errors += finding.severity == "error"
            warnings += finding.severity == "warning"
            if quiet and finding.severity not in {"error", "warning"}:
                continue
            if output == "json":
                click.echo(json.dumps(dataclasses.asdict(finding), sort_keys=True))
            else:
                click.echo(str(finding))
    if output == "text":
        click.echo(
            f"{len(sources)} file(s) checked: {errors} error(s), {warnings} warning(s)", err=True
        )
    if unreadable:
        sys.exit(2)
    if errors:
        sys.exit(1)
