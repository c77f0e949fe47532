"""How a command reaches a cluster, and what it says when it cannot.

``podscaler explain`` and ``podscaler run`` find their API server the way kubectl does (see
:func:`podscaler.kube.clients.connect`). The mistakes people make on the way are ordinary: no
kubeconfig where one is looked for, a kubeconfig without a current context, a server that is
not up, an object that does not exist. Each of them must read as one line saying what is
wrong and what to do, never as a traceback from inside the Kubernetes client. This module
turns those failures into :class:`~podscaler.failures.CommandFailure`.
"""

from __future__ import annotations

import errno
import os
import ssl
from pathlib import Path

import aiohttp
from kubernetes_asyncio.config import ConfigException

from podscaler.failures import CommandFailure
from podscaler.kube.clients import (
    DEFAULT_REQUEST_TIMEOUT_SECONDS,
    SERVICE_ACCOUNT_DIR,
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
    "describe_api_error",
    "describe_cause",
    "open_kube",
    "port_in_use",
]

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


def _check_configuration(kubeconfig: str | None) -> Path | None:
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


def _describe_config_error(path: Path | None, context: str | None, exc: ConfigException) -> str:
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
    *,
    kubeconfig: str | None,
    server: str | None,
    context: str | None = None,
    request_timeout_seconds: float | None = None,
) -> Kube:
    """:func:`connect`, with every configuration mistake as a :class:`CommandFailure`."""
    path: Path | None = None
    if server is None:
        path = _check_configuration(kubeconfig)
    timeout = request_timeout_seconds or DEFAULT_REQUEST_TIMEOUT_SECONDS
    try:
        return await connect(
            kubeconfig=str(path) if path is not None else None,
            context=context,
            server=server,
            request_timeout_seconds=timeout,
        )
    except ConfigException as exc:
        raise CommandFailure(_describe_config_error(path, context, exc)) from exc
    except (KubeError, OSError) as exc:
        raise CommandFailure(f"cannot configure the Kubernetes client: {exc}") from exc


def describe_api_error(exc: KubeError, host: str, *, subject: str, listing: str) -> str:
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
            f"the API server at {host} does not serve ScaledObjects: podscaler's CRDs are not "
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


def port_in_use(exc: OSError) -> bool:
    return exc.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL)
