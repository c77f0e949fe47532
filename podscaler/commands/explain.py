"""``podscaler explain``: recent scaling decisions of a ScaledObject, for people.

Two sources, because they answer different questions:

* the operator's ``/debug/decisions`` endpoint on its metrics port (``--endpoint``): the last
  decisions it kept in memory, with every trigger's value and activity, the HPA calculation
  and the rule that bound each result — the full story of the last minutes — preceded by the
  last day's history, one line per decision held (from when to when, how many polls, the
  rule and binding limit, each trigger's value range);
* the object's status (a kubeconfig is enough): ``status.lastDecision``, the latest decision
  in short form, and the conditions with their transition times — the story so far when the
  operator's port is not reachable.

Every ordinary mistake (nothing listening at the endpoint, a port that is not the operator's,
an object that does not exist, no kubeconfig) ends in a :class:`~podscaler.commands.
failures.CommandFailure` whose one line says what is wrong and what to do; nothing waits longer than
:data:`TIMEOUT_SECONDS`.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, Final

import aiohttp
import click
from yarl import URL

from podscaler.commands.connection import (
    CLUSTER,
    describe_api_error,
    describe_cause,
    open_kube,
)
from podscaler.commands.explain_nodes import explain_node, explain_pod
from podscaler.commands.failures import CommandFailure
from podscaler.commands.options import options
from podscaler.controllers.scaledobject import render_history, render_records
from podscaler.kube.clients import ConnectOptions
from podscaler.kube.errors import KubeError

__all__ = [
    "TIMEOUT_SECONDS",
    "endpoint_url",
    "explain",
    "explain_from_endpoint",
    "explain_from_status",
    "explain_proportional_scaler",
    "explain_vertical_scaler",
    "parse_target",
]

#: The longest explain waits for an answer, from the operator or the API server.
TIMEOUT_SECONDS: Final = 10.0

#: A namespace or object name as Kubernetes accepts it (DNS-1123 subdomain, loosely).
_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")

_METRICS_PORT_HINT = (
    "podscaler run serves /debug/decisions on its --metrics-port (default 8080; the health "
    "port does not)"
)


#: The kinds ``explain`` takes as ``KIND/NAMESPACE/NAME``, by the names kubectl knows them.
_KINDS: Final = {
    "proportionalscaler": ("proportionalscaler", "proportionalscalers", "ps"),
    "verticalscaler": ("verticalscaler", "verticalscalers", "vsc"),
    "pod": ("pod", "pods", "po"),
}
#: Cluster-scoped kinds, taken as ``KIND/NAME``.
_CLUSTER_KINDS: Final = {"node": ("node", "nodes", "no")}


def parse_target(target: str) -> tuple[str, str, str]:
    """``(kind, namespace, name)`` of ``NAMESPACE/NAME`` or ``NAME`` (a ScaledObject, namespace
    ``default``) or ``KIND/NAMESPACE/NAME`` (``proportionalscaler/kube-system/dns``); a
    :class:`ValueError` says why anything else is not an object's name. ``NAMESPACE/NAME``
    stays a ScaledObject even in a namespace named like a kind."""
    kind = "scaledobject"
    first, slash, rest = target.partition("/")
    for name, aliases in _CLUSTER_KINDS.items():
        if first.lower() in aliases and slash:
            if not rest or "/" in rest or not _NAME.fullmatch(rest) or len(rest) > 253:
                raise ValueError(f"{rest!r} is not a valid {name} name; expected {name}/NAME")
            return name, "", rest
    for name, aliases in _KINDS.items():
        if first.lower() in aliases and "/" in rest:
            kind, target = name, rest
    namespace, slash, name = target.partition("/")
    if not slash:
        namespace, name = "default", target
    for part, what in ((namespace, "namespace"), (name, "name")):
        if not part:
            raise ValueError(
                f"{target!r} has an empty {what}; expected NAMESPACE/NAME, NAME, "
                "proportionalscaler/NAMESPACE/NAME, pod/NAMESPACE/NAME or node/NAME"
            )
        if "/" in part or not _NAME.fullmatch(part) or len(part) > 253:
            raise ValueError(
                f"{part!r} is not a valid {what} (lower-case letters, digits, '-' and '.'); "
                "expected NAMESPACE/NAME, NAME, proportionalscaler/NAMESPACE/NAME, "
                "pod/NAMESPACE/NAME or node/NAME"
            )
    return kind, namespace, name


def endpoint_url(endpoint: str) -> URL:
    """The operator's metrics address as a URL; ``host:port`` means ``http://host:port``."""
    text = endpoint.strip()
    if "://" not in text:
        text = "http://" + text
    try:
        url = URL(text)
    except ValueError as exc:
        raise ValueError(f"{endpoint!r} is not a URL ({exc})") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(
            f"{endpoint!r} is not an http(s) address; expected e.g. http://127.0.0.1:8080"
        )
    try:
        url.port  # noqa: B018 - a port that is not a number raises here
    except ValueError as exc:
        raise ValueError(f"{endpoint!r} has an invalid port") from exc
    return url


async def explain_from_endpoint(endpoint: URL, namespace: str, name: str, output: str) -> str:
    url = endpoint.with_path(endpoint.path.rstrip("/") + "/debug/decisions")
    where = str(endpoint)
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)) as session,
            session.get(url, params={"namespace": namespace, "name": name}) as response,
        ):
            if response.status != 200:
                raise CommandFailure(
                    f"{where} answered {response.status} {response.reason} for /debug/decisions, "
                    f"so it is not the operator's metrics port: {_METRICS_PORT_HINT}"
                )
            document = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        if isinstance(exc, aiohttp.ClientResponseError):
            raise CommandFailure(
                f"{where} did not answer /debug/decisions as podscaler does ({exc.message}): "
                f"{_METRICS_PORT_HINT}"
            ) from exc
        if isinstance(exc, TimeoutError):
            cause = f"no answer within {TIMEOUT_SECONDS:g} s"
        else:
            cause = describe_cause(exc)
        raise CommandFailure(
            f"cannot reach the operator at {where}: {cause}; is podscaler run running there? "
            f"{_METRICS_PORT_HINT}"
        ) from exc
    except ValueError as exc:  # not JSON
        raise CommandFailure(
            f"{where} did not answer /debug/decisions with JSON, so it is not the operator's "
            f"metrics port: {_METRICS_PORT_HINT}"
        ) from exc
    objects = document.get("objects") if isinstance(document, dict) else None
    if not isinstance(objects, list):
        raise CommandFailure(
            f"{where} did not answer /debug/decisions as podscaler does: {_METRICS_PORT_HINT}"
        )
    if not objects:
        raise CommandFailure(
            f"the operator at {where} has no decisions for ScaledObject {namespace}/{name}: "
            f"it does not exist or is not watched by this operator (kubectl get scaledobjects "
            f"-n {namespace} lists them), or the operator is a standby replica"
        )
    if output == "json":
        return json.dumps(objects, indent=2, sort_keys=True)
    found = objects[0]
    parts = [f"ScaledObject {namespace}/{name}"]
    history = found.get("history") or []
    if history:
        parts.append(f"History ({len(history)} decisions held, oldest first):")
        parts.append(render_history(history))
        parts.append("Recent polls in full:")
    parts.append(render_records(found.get("decisions") or []))
    return "\n".join(parts)


async def _read(access: ConnectOptions, path: str, subject: str, namespace: str) -> dict[str, Any]:
    """The object at *path*; every failure a :class:`CommandFailure` about *subject*."""
    async with await open_kube(access, request_timeout_seconds=TIMEOUT_SECONDS) as kube:
        try:
            return await kube.request("GET", path)
        except KubeError as exc:
            plural = subject.split()[0].lower() + "s"
            raise CommandFailure(
                describe_api_error(
                    exc,
                    kube.host,
                    subject=subject,
                    listing=f"kubectl get {plural} -n {namespace}",
                    kind_plural=plural,
                )
            ) from exc


async def explain_proportional_scaler(
    access: ConnectOptions, namespace: str, name: str, output: str
) -> str:
    """What a ProportionalScaler counted and what decided, from its status."""
    from podscaler.controllers.proportional import PROPORTIONAL_SCALERS
    from podscaler.controllers.proportional.explain import render_explanation

    subject = f"ProportionalScaler {namespace}/{name}"
    obj = await _read(access, PROPORTIONAL_SCALERS.path(namespace, name), subject, namespace)
    if output == "json":
        return json.dumps(obj.get("status") or {}, indent=2, sort_keys=True)
    return render_explanation(obj)


async def explain_vertical_scaler(
    access: ConnectOptions, namespace: str, name: str, output: str
) -> str:
    """How each container's recommendation came about, rebuilt from the scaler's checkpoints."""
    from podscaler.clock import now
    from podscaler.controllers.vertical import VERTICAL_SCALERS
    from podscaler.controllers.vertical.checkpointing import CHECKPOINTS
    from podscaler.controllers.vertical.explain import (
        explanation_data,
        render_vertical_explanation,
    )

    subject = f"VerticalScaler {namespace}/{name}"
    obj = await _read(access, VERTICAL_SCALERS.path(namespace, name), subject, namespace)
    listed = await _read(access, CHECKPOINTS.path(namespace), subject, namespace)
    checkpoints = list(listed.get("items") or [])
    at = now().timestamp()
    if output == "json":
        return json.dumps(explanation_data(obj, checkpoints, at), indent=2, sort_keys=True)
    return render_vertical_explanation(obj, checkpoints, at)


async def explain_from_status(
    access: ConnectOptions, namespace: str, name: str, output: str
) -> str:
    path = f"/apis/autoscaling.podscaler.io/v1alpha1/namespaces/{namespace}/scaledobjects/{name}"
    obj = await _read(access, path, f"ScaledObject {namespace}/{name}", namespace)
    status = obj.get("status") or {}
    if output == "json":
        return json.dumps(status, indent=2, sort_keys=True)
    lines = [f"ScaledObject {namespace}/{name}"]
    decision = status.get("lastDecision") or {}
    if decision:
        line = f"latest decision: {decision.get('rule')}"
        if "replicas" in decision:
            line += f" -> {decision['replicas']} replicas"
        if decision.get("boundBy"):
            line += f" (bound by {decision['boundBy']})"
        if decision.get("dryRun"):
            line += " (dry run)"
        lines.append(line)
        lines.append(f"  why: {decision.get('summary', '')}")
    elif not status:
        lines.append("no status yet: the operator has not evaluated it (is podscaler run running?)")
    if status.get("lastActiveTime"):
        lines.append(f"last active: {status['lastActiveTime']}")
    for condition in status.get("conditions") or []:
        lines.append(
            f"{condition.get('type')}={condition.get('status')} {condition.get('reason') or ''}"
            f" since {condition.get('lastTransitionTime', '?')}: {condition.get('message') or ''}"
        )
    lines.append("(recent decisions in full: podscaler explain --endpoint http://<operator>:8080)")
    return "\n".join(lines)


def _target(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, str, str]:
    try:
        return parse_target(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def _endpoint(ctx: click.Context, param: click.Parameter, value: str | None) -> URL | None:
    if value is None:
        return None
    try:
        return endpoint_url(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


@click.command()
@click.argument(
    "target",
    metavar="[proportionalscaler/|verticalscaler/|pod/]NAMESPACE/NAME | node/NAME",
    callback=_target,
)
@options(CLUSTER)
@click.option(
    "--operator-namespace",
    default="podscaler",
    show_default=True,
    help="Where the node autoscaler writes its cluster-autoscaler-status ConfigMap "
    "(for node/ and pod/).",
)
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
    endpoint: URL | None,
    output: str,
    operator_namespace: str,
    **values: Any,
) -> None:
    """Explain a ScaledObject's recent scaling decisions (or, for
    proportionalscaler/NAMESPACE/NAME, what a ProportionalScaler counted and what decided;
    for verticalscaler/NAMESPACE/NAME, per container the percentile, margin, confidence,
    bounds and the policy that capped the recommendation;
    for node/NAME, why the node autoscaler keeps or removes a node; for pod/NAMESPACE/NAME,
    why a Pending pod did or did not get a new node).

    With --endpoint, the last day of decisions the operator kept in memory, one line per
    decision held, then the last polls in full (per trigger values and activity, the HPA
    calculation, the rule that bound each result). Without it, the latest decision in short
    form from the object's status, plus its conditions.

    Exit status: 0 explained, 1 the object, the operator or the cluster could not be reached
    or found (the message says which, and what to do), 2 a mistake in the arguments.
    """
    kind, namespace, name = target
    access = CLUSTER.build(values)
    if kind == "proportionalscaler":
        text = asyncio.run(explain_proportional_scaler(access, namespace, name, output))
    elif kind == "verticalscaler":
        text = asyncio.run(explain_vertical_scaler(access, namespace, name, output))
    elif kind == "node":
        text = asyncio.run(explain_node(access, name, operator_namespace, output))
    elif kind == "pod":
        text = asyncio.run(explain_pod(access, namespace, name, operator_namespace, output))
    elif endpoint is not None:
        text = asyncio.run(explain_from_endpoint(endpoint, namespace, name, output))
    else:
        text = asyncio.run(explain_from_status(access, namespace, name, output))
    click.echo(text)
