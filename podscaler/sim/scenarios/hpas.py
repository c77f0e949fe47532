"""What a scenario with HorizontalPodAutoscalers needs: the embedded HPA controller, and the
route from it to the operator's external metrics API.

A cluster runs kube-controller-manager's HPA controller whether or not anyone asked; the
embedded one (:mod:`podscaler.sim.world.hpa`) costs a list every sync period, so a run starts
it only when some object needs it: a ScaledObject in ``mode: hpa`` (podscaler does 0↔1, the
HPA it keeps does 1..N, as with KEDA) or a plain ``autoscaling/v2`` HorizontalPodAutoscaler.

External metrics reach that HPA as in a cluster: the API server runs as kube-aggregator, the
run installs what ``manifests/metricsapi`` installs (the ``podscaler`` namespace, the Service,
the ``v1beta1.external.metrics.k8s.io`` APIService) plus the Endpoints the endpoints
controller would write, pointing at the port the in-process operator serves its metrics API
on; the operator issues its own certificate and patches its CA into the APIService.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterable, Mapping
from typing import Any, Final

from podscaler.sim.apiserver.errors import AlreadyExists
from podscaler.sim.world.world import World

__all__ = [
    "METRICS_API_NAMESPACE",
    "METRICS_API_SERVICE",
    "install_metrics_api",
    "needs_hpa_controller",
    "pick_port",
]

METRICS_API_NAMESPACE: Final = "podscaler"
METRICS_API_SERVICE: Final = "podscaler-metrics-apiserver"
_APISERVICE: Final = "v1beta1.external.metrics.k8s.io"


def needs_hpa_controller(objects: Iterable[Mapping[str, Any]]) -> bool:
    """Whether any of a scenario's ``objects`` is scaled by an HPA."""
    for obj in objects:
        kind = obj.get("kind")
        if kind == "HorizontalPodAutoscaler":
            return True
        if kind == "ScaledObject":
            advanced = (obj.get("spec") or {}).get("advanced") or {}
            if isinstance(advanced, Mapping) and advanced.get("mode") == "hpa":
                return True
    return False


def pick_port(host: str = "127.0.0.1") -> int:
    """A port free on *host* now (the operator's metrics API listens on it moments later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def install_metrics_api(world: World, port: int, host: str = "127.0.0.1") -> None:
    """Create the metrics API's namespace, Service, Endpoints (``host:port``) and APIService."""
    table = world.server.table
    writer = world.ctx.writer

    def create(group: str, version: str, resource: str, obj: dict[str, Any], ns: str) -> None:
        rt = table.get(group, version, resource)
        if rt is None:
            raise LookupError(f"the API server does not serve {resource}.{group or 'core'}")
        with contextlib.suppress(AlreadyExists):
            writer.create(rt, obj, ns)

    ns = METRICS_API_NAMESPACE
    create("", "v1", "namespaces", {"metadata": {"name": ns}}, "")
    create(
        "",
        "v1",
        "services",
        {
            "metadata": {"name": METRICS_API_SERVICE, "namespace": ns},
            "spec": {"ports": [{"name": "https", "port": 443, "targetPort": port}]},
        },
        ns,
    )
    create(
        "",
        "v1",
        "endpoints",
        {
            "metadata": {"name": METRICS_API_SERVICE, "namespace": ns},
            "subsets": [{"addresses": [{"ip": host}], "ports": [{"name": "https", "port": port}]}],
        },
        ns,
    )
    create(
        "apiregistration.k8s.io",
        "v1",
        "apiservices",
        {
            "metadata": {"name": _APISERVICE},
            "spec": {
                "group": "external.metrics.k8s.io",
                "version": "v1beta1",
                "groupPriorityMinimum": 100,
                "versionPriority": 100,
                "service": {"namespace": ns, "name": METRICS_API_SERVICE, "port": 443},
            },
        },
        "",
    )
