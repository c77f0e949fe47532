"""``podscaler recommend``: right-size requests from Prometheus history (KRR's job, the
VerticalScaler's numbers). The command line; the work is in :mod:`.recommending`, loaded (with
the Prometheus client) only when the command runs."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import click

from podscaler.clock import WallClock
from podscaler.commands.failures import CommandFailure

__all__ = ["parse_duration_seconds", "parse_instant", "recommend"]


def parse_duration_seconds(text: str) -> float:
    """A positive duration: seconds, or ``8d``, ``1h30m``, ``90s`` (the scenario files' parser)."""
    from podscaler.sim.world.load import LoadError
    from podscaler.sim.world.load import parse_duration_seconds as parse

    try:
        seconds = parse(text, "duration")
    except LoadError as error:
        raise click.BadParameter(f"{text!r} is not a duration such as 8d, 12h or 1m30s") from error
    if seconds <= 0:
        raise click.BadParameter(f"{text!r} must be longer than zero")
    return seconds


def parse_instant(text: str) -> float:
    """RFC 3339 (``2026-03-02T12:00:00Z``) or Unix seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError as error:
        raise click.BadParameter(f"{text!r} is neither RFC 3339 nor Unix seconds") from error


@click.command()
@click.option(
    "--prometheus-url",
    required=True,
    help="Prometheus (or Thanos/Mimir) base URL holding cAdvisor and kube-state-metrics series.",
)
@click.option(
    "--namespace",
    "-n",
    multiple=True,
    help="Namespace to report on (repeatable); default: all.",
)
@click.option(
    "--selector",
    "-l",
    default=None,
    help="Only pods with these labels (from kube-state-metrics' kube_pod_labels), e.g. app=web.",
)
@click.option("--history", default="8d", show_default=True, help="How far back to read usage.")
@click.option(
    "--end",
    default=None,
    help="End of the history (RFC 3339 or Unix seconds); default: now.",
)
@click.option(
    "--resolution",
    default="1m",
    show_default=True,
    help="Sample spacing; 1m gives the VerticalScaler's own per-minute samples.",
)
@click.option(
    "--rate-window",
    default="5m",
    show_default=True,
    help="Window of rate() over container_cpu_usage_seconds_total.",
)
@click.option(
    "--strategy",
    type=click.Choice(["vpa", "simple"]),
    default="vpa",
    show_default=True,
    help="vpa: the VerticalScaler's estimator; simple: KRR's (CPU p95, memory peak + 15%).",
)
@click.option(
    "--output",
    "-o",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
@click.option(
    "--cpu-price",
    type=float,
    default=0.031611,
    show_default=True,
    help="Price of one core for an hour (default: Kubecost's default custom pricing).",
)
@click.option(
    "--memory-price",
    type=float,
    default=0.004237,
    show_default=True,
    help="Price of one GiB for an hour.",
)
@click.option(
    "--bearer-token-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="File holding a bearer token for Prometheus (never printed).",
)
@click.option("--username", default=None, help="Basic-auth user for Prometheus.")
@click.option(
    "--password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="File holding the basic-auth password (never printed).",
)
@click.option("--ca-file", default=None, help="CA bundle to verify Prometheus' certificate.")
@click.option("--insecure-skip-tls-verify", is_flag=True, help="Do not verify TLS (tests only).")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 32),
    default=2,
    show_default=True,
    help="Range queries in flight at once.",
)
@click.option(
    "--round-cpu-millicores",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Round CPU recommendations up to a multiple of this (VPA's --round-cpu-millicores).",
)
@click.option(
    "--round-memory-bytes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Round memory recommendations up to a multiple of this (VPA's --round-memory-bytes).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress on standard error.")
def recommend(
    prometheus_url: str,
    namespace: tuple[str, ...],
    selector: str | None,
    history: str,
    end: str | None,
    resolution: str,
    rate_window: str,
    strategy: str,
    output: str,
    cpu_price: float,
    memory_price: float,
    bearer_token_file: Path | None,
    username: str | None,
    password_file: Path | None,
    ca_file: str | None,
    insecure_skip_tls_verify: bool,
    concurrency: int,
    round_cpu_millicores: int,
    round_memory_bytes: int,
    quiet: bool,
) -> None:
    """Right-size requests from Prometheus history, without touching the cluster.

    Reads CPU and memory usage of every container (cAdvisor's series, grouped into workloads
    with kube-state-metrics), runs the VerticalScaler's estimator (or KRR's simple strategy)
    and prints current requests and limits, the recommendation, the change and its monthly
    cost. Exit status 1 when Prometheus cannot be read.
    """
    from podscaler.api.selectors import SelectorError, parse_label_selector
    from podscaler.commands.recommending import Prices, format_report, run_recommend
    from podscaler.controllers.vertical.history import HistoryError, PrometheusSettings
    from podscaler.engine.vpa import RecommenderSettings

    lookback = parse_duration_seconds(history)
    step = int(parse_duration_seconds(resolution))
    if step < 1:
        raise click.BadParameter("must be at least 1s", param_hint="--resolution")
    parse_duration_seconds(rate_window)
    # The one wall-clock read: where "now" is for a one-shot report.
    until = parse_instant(end) if end else float(int(WallClock().now().timestamp()) // step * step)
    try:
        parsed_selector = parse_label_selector(selector) if selector else None
    except SelectorError as error:
        raise click.BadParameter(str(error), param_hint="--selector") from error
    settings = PrometheusSettings(
        url=prometheus_url,
        bearer_token=bearer_token_file.read_text().strip() if bearer_token_file else None,
        username=username,
        password=password_file.read_text().strip() if password_file else None,
        verify_tls=not insecure_skip_tls_verify,
        ca_file=ca_file,
    )

    def progress(message: str) -> None:
        if not quiet:
            click.echo(f"podscaler recommend: {message}", err=True)

    try:
        report = asyncio.run(
            run_recommend(
                settings,
                namespaces=list(namespace),
                start=until - lookback,
                end=until,
                step_seconds=step,
                rate_window=rate_window,
                strategy="simple" if strategy == "simple" else "vpa",
                prices=Prices(cpu_price, memory_price),
                selector=parsed_selector,
                concurrency=concurrency,
                progress=progress,
                settings=RecommenderSettings(
                    round_cpu_millicores=round_cpu_millicores,
                    round_memory_bytes=round_memory_bytes,
                ),
            )
        )
    except HistoryError as error:
        raise CommandFailure(f"podscaler recommend: {error}") from error
    progress(
        f"{report.queries} queries, {report.samples:,} samples: {report.fetch_seconds:.2f} s "
        f"fetching ({report.prometheus_seconds:.2f} s waiting for Prometheus, summed over "
        f"threads), {report.compute_seconds:.2f} s estimating"
        + (
            ""
            if report.kube_state_metrics
            else " (no kube-state-metrics: workloads guessed from pod names, requests unknown)"
        )
    )
    click.echo(
        format_report(report, "json" if output == "json" else "csv" if output == "csv" else "table")
    )
