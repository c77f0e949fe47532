"""How a command reaches a cluster, and what it says when it cannot.

``podscaler explain`` and ``podscaler run`` find their API server the way kubectl does (see
:func:`podscaler.kube.clients.connect`). The mistakes people make on the way are ordinary: no
kubeconfig where one is looked for, a kubeconfig without a current context, a server that is
not up, an object that does not exist. Each of them must read as one line saying what is
wrong and what to do, never as a traceback from inside the Kubernetes client. This module
turns those failures into :class:`~podscaler.commands.failures.CommandFailure`.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import Final

import aiohttp
from kubernetes_asyncio.config import ConfigException

from podscaler.commands.failures import CommandFailure
from podscaler.commands.options import OptionGroup
from podscaler.kube.clients import (
    DEFAULT_REQUEST_TIMEOUT_SECONDS,
    SERVICE_ACCOUNT_DIR,
    ConnectOptions,
    Kube,
    connect,
)
from podscaler.kube.errors import (
    ApiError,
    Forbidden,
    KubeError,
    NotFound,
    TransportError,
    Unauthorized,
)

__all__ = [
    "CLUSTER",
    "check_configuration",
    "describe_api_error",
    "describe_cause",
    "describe_config_error",
    "open_kube",
]

#: ``--kubeconfig``, ``--context``, ``--server``: one group for every command that talks to a
#: cluster.
CLUSTER: Final = OptionGroup(ConnectOptions)

#: How the user can point a command at a cluster, for the hints.
_WAYS_IN = "pass --kubeconfig FILE or --server URL, or set KUBECONFIG"


def describe_cause(exc: BaseException) -> str:
    """The root of a transport failure in a few words (``connection refused``), not the
    ``repr`` of aiohttp's connection key."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, aiohttp.ClientConnectorCertificateError):
            return f"its TLS certificate is not trusted ({current.certificate_error})"
        if isinstance(current, aiohttp.ClientConnectorError):
            os_error = current.os_error
            if isinstance(os_error, ConnectionRefusedError):
                return "connection refused"
            return os_error.strerror or str(os_error) or type(os_error).__name__
        if isinstance(current, aiohttp.ServerDisconnectedError):
            return "the server closed the connection"
        if isinstance(current, ssl.SSLError):
            return f"TLS failed ({current.reason or current})"
        if isinstance(current, TimeoutError):
            return "no answer in time"
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
        current = current.__cause__ or current.__context__
    return str(exc) or type(exc).__name__


def _kubeconfig_in_use(kubeconfig: str | None) -> Path | None:
    """The kubeconfig :func:`connect` will read, or ``None`` for in-cluster configuration."""
    if kubeconfig:
        return Path(kubeconfig)
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return None
    first = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    return Path(first) if first else Path.home() / ".kube" / "config"


def check_configuration(kubeconfig: str | None) -> Path | None:
    """The kubeconfig a command will read (``None``: in-cluster), checked to exist; a
    :class:`CommandFailure` says what is missing and how to point the command elsewhere."""
    path = _kubeconfig_in_use(kubeconfig)
    if path is None:
        token = SERVICE_ACCOUNT_DIR / "token"
        if not token.is_file():
            raise CommandFailure(
                "KUBERNETES_SERVICE_HOST is set but the service account token "
                f"{token} is missing (is automountServiceAccountToken off?); " + _WAYS_IN
            )
        return None
    if path.is_file():
        return path
    what = "is a directory" if path.is_dir() else "does not exist"
    if kubeconfig:
        raise CommandFailure(f"--kubeconfig {path} {what}; give a kubeconfig file", exit_code=2)
    if os.environ.get("KUBECONFIG"):
        origin = f"$KUBECONFIG names {path}, which {what}"
    else:
        origin = f"KUBECONFIG is not set and {path} {what}"
    raise CommandFailure(f"no kubeconfig: {origin}; {_WAYS_IN}")


def describe_config_error(path: Path | None, context: str | None, exc: ConfigException) -> str:
    """One line for a kubeconfig the Kubernetes client refused (no current context, no such
    context, a malformed file)."""
    text = str(exc)
    where = f"kubeconfig {path}" if path is not None else "the kubeconfig"
    if "Expected key current-context" in text:
        return (
            f"{where} has no current context: pass --context NAME "
            f"(kubectl --kubeconfig {path} config get-contexts lists them) or run "
            "kubectl config use-context NAME"
        )
    if context and f"Expected object with name {context} in " in text and "contexts" in text:
        return (
            f"{where} has no context named {context!r} "
            f"(kubectl --kubeconfig {path} config get-contexts lists them)"
        )
    return f"{where} cannot be used: {text.removeprefix('Invalid kube-config file. ')}"


async def open_kube(
    access: ConnectOptions, *, request_timeout_seconds: float | None = None
) -> Kube:
    """:func:`connect`, with every configuration mistake as a :class:`CommandFailure`."""
    kubeconfig, server, context = access.kubeconfig, access.server, access.context
    path: Path | None = None
    if server is None:
        path = check_configuration(kubeconfig)
    timeout = request_timeout_seconds or DEFAULT_REQUEST_TIMEOUT_SECONDS
    try:
        return await connect(
            kubeconfig=str(path) if path is not None else None,
            context=context,
            server=server,
            request_timeout_seconds=timeout,
        )
    except ConfigException as exc:
        raise CommandFailure(describe_config_error(path, context, exc)) from exc
    except (KubeError, OSError) as exc:
        raise CommandFailure(f"cannot configure the Kubernetes client: {exc}") from exc


def describe_api_error(
    exc: KubeError, host: str, *, subject: str, listing: str, kind_plural: str = "scaledobjects"
) -> str:
    """One line for a failed request about *subject* (``ScaledObject shop/web``) to *host*;
    *listing* is the command that lists what exists (``kubectl get scaledobjects -n shop``)."""
    if isinstance(exc, TransportError):
        return (
            f"cannot reach the API server at {host}: {describe_cause(exc)}; is the cluster up, "
            "and is that its address?"
        )
    if isinstance(exc, NotFound):
        details = exc.body.get("details") if isinstance(exc.body, dict) else None
        if isinstance(details, dict) and details.get("name"):
            return f"{subject} not found ({listing} lists what exists)"
        return (
            f"the API server at {host} does not serve {kind_plural}: podscaler's CRDs are not "
            "installed (kubectl apply -f manifests/crds/)"
        )
    if isinstance(exc, Unauthorized):
        return (
            f"the API server at {host} did not accept the credentials (401: {exc.message}); "
            "log in again or check the kubeconfig's user"
        )
    if isinstance(exc, Forbidden):
        return f"not allowed to read {subject} (403: {exc.message})"
    if isinstance(exc, ApiError):
        return f"reading {subject} failed: {exc}"
    return f"reading {subject} failed: {exc}"
