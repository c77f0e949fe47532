"""The ``podscaler`` command line: the one place that wires the layers together.

Each subcommand imports what it needs lazily, so ``podscaler validate`` in a CI pipeline does not
pay for aiohttp or the Kubernetes client, and a broken optional layer cannot break the others.
Every option can also be set through a ``PODSCALER_*`` environment variable (click's
``auto_envvar_prefix``), the way operators are configured in a Deployment.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import click

from podscaler import __version__
from podscaler.proportional_options import proportional_options, proportional_run_options


class _Commands(click.Group):
    """The command group.

    * An ordinary failure a command reports as :class:`~podscaler.failures.CommandFailure`
      ends as one line on stderr and its exit code, never as a traceback.
    * Every option of every command shows its environment variable in ``--help``
      (``PODSCALER_<COMMAND>_<OPTION>``: click's ``auto_envvar_prefix`` names it after the
      option's parameter, so each parameter is named like its flag).
    """

    group_class = type  # nested groups (``cluster``) behave the same

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        for param in cmd.params:
            if isinstance(param, click.Option) and param.expose_value:
                param.show_envvar = True
        super().add_command(cmd, name)

    def invoke(self, ctx: click.Context) -> Any:
        from podscaler.failures import CommandFailure

        try:
            return super().invoke(ctx)
        except CommandFailure as exc:
            failure = click.ClickException(exc.message)
            failure.exit_code = exc.exit_code
            raise failure from None


@click.group(
    cls=_Commands,
    # Wide enough that the longest PODSCALER_RUN_* name is not broken across lines.
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120},
)
@click.version_option(__version__, prog_name="podscaler")
def main() -> None:
    """podscaler: workload, event-driven, vertical, proportional and node autoscaling in one
    operator, with an embedded cluster to try it on."""


@main.command()
def version() -> None:
    """Print the version."""
    click.echo(f"podscaler {__version__}")


@main.command()
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
    validates every ScaledObject, ScaledJob, TriggerAuthentication and
    ClusterTriggerAuthentication in it, and ignores other kinds. Exit status: 0 when nothing is
    wrong, 1 when any document is invalid, 2 when a file cannot be read.
    """
    from podscaler.api.manifests import validate_documents

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
    for source, text in sources:
        for finding in validate_documents(text, source):
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


@main.group()
def cluster() -> None:
    """The embedded Kubernetes-compatible API server."""


@cluster.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=6443, show_default=True, help="Port (0 picks a free one).")
@click.option("--tls/--no-tls", default=False, show_default=True, help="Serve HTTPS.")
@click.option(
    "--kubeconfig",
    type=click.Path(path_type=Path),
    default=Path("podscaler.kubeconfig"),
    show_default=True,
    help="Where to write a kubeconfig for the server.",
)
@click.option(
    "--world",
    is_flag=False,
    flag_value="default",
    default=None,
    help="Run the simulated world behind the server (scheduler, kubelet, controllers, nodes); "
    "optionally a scenario file or built-in name to set it up.",
)
def cluster_serve(host: str, port: int, tls: bool, kubeconfig: Path, world: str | None) -> None:
    """Serve an in-memory Kubernetes API (with podscaler's CRDs) until interrupted."""
    from podscaler.failures import CommandFailure, check_listenable, check_writable
    from podscaler.sim.apiserver import ApiServer, serve_forever

    check_listenable(host, port, "--port or --host")
    kubeconfig_path = check_writable(kubeconfig, "--kubeconfig")
    if world is not None:
        from podscaler.demo import serve_world

        with contextlib.suppress(KeyboardInterrupt):
            sys.exit(serve_world(host, port, tls, kubeconfig_path, world))

    def ready(server: ApiServer) -> None:
        click.echo(f"API server at {server.url}")
        click.echo(f"kubeconfig written to {kubeconfig_path}")
        click.echo(f"try: kubectl --kubeconfig {kubeconfig_path} get namespaces")

    with contextlib.suppress(KeyboardInterrupt):
        try:
            asyncio.run(serve_forever(host, port, tls, kubeconfig_path, ready))
        except OSError as exc:  # lost a race for the port, or the kubeconfig's directory
            raise CommandFailure(f"podscaler cluster serve: {exc}") from exc


@main.command()
@click.option("--serve", is_flag=True, help="Keep the cluster up afterwards for kubectl.")
@click.option(
    "--kubeconfig",
    type=click.Path(path_type=Path),
    default=Path("podscaler-demo.kubeconfig"),
    show_default=True,
    help="Where --serve writes a kubeconfig for the cluster.",
)
@click.option(
    "--scenario",
    default="web-diurnal",
    show_default=True,
    help="A built-in scenario name or a scenario file.",
)
@click.option(
    "--report",
    type=click.Path(path_type=Path),
    default=Path("podscaler-demo.html"),
    show_default=True,
    help="Where to write the HTML report.",
)
def demo(serve: bool, kubeconfig: Path, scenario: str, report: Path) -> None:
    """Run a day of autoscaling on the embedded cluster in accelerated time: the API server,
    the simulated world and the operator in one process. Prints a summary and writes a
    report; --serve keeps the cluster up afterwards for kubectl."""
    from podscaler.demo import run_demo

    sys.exit(
        run_demo(
            serve=serve,
            kubeconfig_path=kubeconfig,
            scenario_name=scenario,
            report_path=report,
        )
    )


@main.command()
@click.argument("scenario_file", metavar="SCENARIO.yaml")
@click.option(
    "--speed",
    type=float,
    default=None,
    help="Simulated seconds per real second (default: as fast as possible).",
)
@click.option("--report", type=click.Path(path_type=Path), help="Write an HTML report.")
@click.option("--seed", type=int, default=None, help="Override the scenario's seed.")
@click.option(
    "--no-operator",
    is_flag=True,
    help="Run the world alone, even when the scenario asks for the operator.",
)
def simulate(
    scenario_file: str,
    speed: float | None,
    report: Path | None,
    seed: int | None,
    no_operator: bool,
) -> None:
    """Replay a scenario (a file, or a built-in name) on the embedded cluster.

    Deterministic for a seed. Exit status: 0 when every assertion holds, 1 when one fails,
    2 when the scenario cannot be read, 3 when it needs a feature this build lacks (skipped).
    """
    from podscaler.demo import simulate_command

    sys.exit(
        simulate_command(
            scenario_file,
            speed=speed,
            report_path=report,
            seed=seed,
            operator=not no_operator,
        )
    )


@main.command("run")
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False),
    help="kubeconfig file (default: in-cluster, then $KUBECONFIG, then ~/.kube/config).",
)
@click.option("--context", help="The kubeconfig context to use (default: its current context).")
@click.option("--server", help="API server URL, instead of a kubeconfig (tests, port-forwards).")
@click.option("--namespace", default=None, help="Watch only this namespace (default: all).")
@click.option(
    "--metrics-port", default=8080, show_default=True, help="Port of /metrics and /debug/decisions."
)
@click.option(
    "--health-port", default=8081, show_default=True, help="Port of /healthz and /readyz."
)
@click.option(
    "--bind-address", default="0.0.0.0", show_default=True, help="Address the ports listen on."
)
@click.option(
    "--leader-elect/--no-leader-elect",
    default=False,
    show_default=True,
    help="Run the controller only while holding a Lease (active/standby).",
)
@click.option(
    "--operator-namespace",
    default="podscaler",
    show_default=True,
    help="Namespace of the Lease and of ClusterTriggerAuthentication Secrets.",
)
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
@click.option("--dry-run", is_flag=True, help="Decide and explain, never write a target's /scale.")
@click.option(
    "--metrics-api-port",
    default=0,
    show_default=True,
    help="Port of the external.metrics.k8s.io API over TLS (the manifests use 6443; 0: off).",
)
@click.option(
    "--metrics-api-bind-address",
    default="0.0.0.0",
    show_default=True,
    help="Address the metrics API listens on.",
)
@click.option(
    "--metrics-api-tls-cert-file",
    type=click.Path(path_type=Path),
    help="Serving certificate (PEM), reloaded when replaced; needs --metrics-api-tls-key-file.",
)
@click.option(
    "--metrics-api-tls-key-file", type=click.Path(path_type=Path), help="Its private key (PEM)."
)
@click.option(
    "--metrics-api-cert-dir",
    type=click.Path(path_type=Path),
    help="Directory with tls.crt/tls.key (a mounted Secret); without certificates podscaler "
    "issues its own and publishes its CA in the APIService.",
)
@click.option(
    "--metrics-api-service",
    default="podscaler-metrics-apiserver",
    show_default=True,
    help="The Service the APIService routes to (certificate names, ownership check).",
)
@click.option(
    "--metrics-api-service-namespace",
    default="podscaler",
    show_default=True,
    help="Namespace of that Service.",
)
@click.option(
    "--metrics-api-authentication-config",
    type=click.Path(path_type=Path),
    help="A file with the data of kube-system/extension-apiserver-authentication, for clusters "
    "without that ConfigMap (default: read the ConfigMap, every minute).",
)
@click.option(
    "--metrics-api-authorization/--no-metrics-api-authorization",
    default=True,
    show_default=True,
    help="Authorize metric reads with SubjectAccessReview (off: development only).",
)
@click.option(
    "--metrics-api-publish-ca-bundle/--no-metrics-api-publish-ca-bundle",
    default=True,
    show_default=True,
    help="Patch the self-issued CA into the APIService's caBundle.",
)
@click.option(
    "--trigger-timeout", default=5.0, show_default=True, help="Seconds a trigger may take per poll."
)
@click.option(
    "--auth-refresh-interval",
    default=60.0,
    show_default=True,
    help="Seconds between re-reads of the Secrets/ConfigMaps triggers use (0: never).",
)
@proportional_options
def run_command(
    kubeconfig: str | None,
    context: str | None,
    server: str | None,
    namespace: str | None,
    metrics_port: int,
    health_port: int,
    bind_address: str,
    leader_elect: bool,
    operator_namespace: str,
    log_format: str,
    log_level: str,
    dry_run: bool,
    metrics_api_port: int,
    metrics_api_bind_address: str,
    metrics_api_tls_cert_file: Path | None,
    metrics_api_tls_key_file: Path | None,
    metrics_api_cert_dir: Path | None,
    metrics_api_service: str,
    metrics_api_service_namespace: str,
    metrics_api_authentication_config: Path | None,
    metrics_api_authorization: bool,
    metrics_api_publish_ca_bundle: bool,
    trigger_timeout: float,
    auth_refresh_interval: float,
    **proportional: Any,
) -> None:
    """Run the operator.

    Every option is also PODSCALER_RUN_<OPTION> (e.g. PODSCALER_RUN_DRY_RUN=true).
    """
    from podscaler.observability.logging import configure_logging
    from podscaler.operator import RunOptions, run_operator

    configure_logging(log_format, log_level)
    options = RunOptions(
        kubeconfig=kubeconfig,
        context=context,
        server=server,
        namespace=namespace,
        metrics_port=metrics_port,
        health_port=health_port,
        bind_address=bind_address,
        leader_elect=leader_elect,
        dry_run=dry_run,
        operator_namespace=operator_namespace,
        trigger_timeout_seconds=trigger_timeout,
        auth_refresh_seconds=auth_refresh_interval,
        **proportional_run_options(namespace, **proportional),
    )
    if metrics_api_port:
        from podscaler.metricsapi.server import MetricsApiOptions

        if (metrics_api_tls_cert_file is None) != (metrics_api_tls_key_file is None):
            raise click.UsageError(
                "--metrics-api-tls-cert-file and --metrics-api-tls-key-file go together"
            )
        metrics_api = MetricsApiOptions(
            port=metrics_api_port,
            host=metrics_api_bind_address,
            cert_file=metrics_api_tls_cert_file,
            key_file=metrics_api_tls_key_file,
            cert_dir=metrics_api_cert_dir,
            service=metrics_api_service,
            namespace=metrics_api_service_namespace,
            authentication_config_file=metrics_api_authentication_config,
            authorization=metrics_api_authorization,
            publish_ca_bundle=metrics_api_publish_ca_bundle,
        )
        options = dataclasses.replace(options, metrics_api=metrics_api)
    asyncio.run(run_operator(options))


def _target(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, str, str]:
    from podscaler.explaining import parse_target

    try:
        return parse_target(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def _endpoint(ctx: click.Context, param: click.Parameter, value: str | None) -> object:
    if value is None:
        return None
    from podscaler.explaining import endpoint_url

    try:
        return endpoint_url(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


@main.command()
@click.argument("target", metavar="NAMESPACE/NAME", callback=_target)
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False),
    help="Read status.lastDecision through this kubeconfig (default: $KUBECONFIG, then "
    "~/.kube/config).",
)
@click.option("--context", help="The kubeconfig context to use (default: its current context).")
@click.option("--server", help="API server URL, instead of a kubeconfig.")
@click.option(
    "--endpoint",
    callback=_endpoint,
    help="The operator's metrics address (http://host:8080); reads /debug/decisions.",
)
@click.option(
    "--output", "-o", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def explain(
    target: tuple[str, str, str],
    kubeconfig: str | None,
    context: str | None,
    server: str | None,
    endpoint: Any,
    output: str,
) -> None:
    """Explain a ScaledObject's recent scaling decisions (or, for
    proportionalscaler/NAMESPACE/NAME, what a ProportionalScaler counted and what decided).

    With --endpoint, the last decisions the operator kept in memory (per trigger values and
    activity, the HPA calculation, the rule that bound each result). Without it, the latest
    decision in short form from the object's status, plus its conditions.

    Exit status: 0 explained, 1 the object, the operator or the cluster could not be reached
    or found (the message says which, and what to do), 2 a mistake in the arguments.
    """
    from podscaler.explaining import explain_from_endpoint, explain_from_status

    kind, namespace, name = target
    if kind == "proportionalscaler":
        from podscaler.controllers.proportional.explain import explain_proportional_scaler

        click.echo(
            asyncio.run(explain_proportional_scaler(kubeconfig, server, namespace, name, output))
        )
        return
    if endpoint is not None:
        text = asyncio.run(explain_from_endpoint(endpoint, namespace, name, output))
    else:
        text = asyncio.run(
            explain_from_status(kubeconfig, server, namespace, name, output, context=context)
        )
    click.echo(text)


def run() -> None:
    """Entry point with the ``PODSCALER_`` environment prefix for every option."""
    main(auto_envvar_prefix="PODSCALER")
