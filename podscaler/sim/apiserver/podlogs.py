"""``GET pods/{name}/log``: what ``kubectl logs`` gets from the embedded cluster.

Upstream the API server forwards the request to the pod's kubelet, which streams the
container's output. Simulated containers print nothing, so a running container's log is empty
(200, ``text/plain``); the refusals are kube-apiserver's and the kubelet's own, so scripts that
handle them behave the same: a pod of several containers needs ``?container=`` (400, naming the
choices), an unknown container is 400, and a container that has not started is 400 "is waiting
to start". A pod not yet scheduled answers 204 No Content, as upstream when there is no
kubelet to ask.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from podscaler.sim.apiserver.errors import BadRequest
from podscaler.sim.apiserver.state import ServerState
from podscaler.sim.apiserver.wire import Target


def _names(pod: dict[str, Any]) -> list[str]:
    spec = pod.get("spec") or {}
    return [str(c.get("name")) for c in spec.get("containers") or () if isinstance(c, dict)]


def _waiting_reason(pod: dict[str, Any], container: str) -> str | None:
    """Why ``container`` is not running yet, or None when it has started."""
    for status in (pod.get("status") or {}).get("containerStatuses") or ():
        if isinstance(status, dict) and status.get("name") == container:
            state = status.get("state") or {}
            if "running" in state or "terminated" in state:
                return None
            return str((state.get("waiting") or {}).get("reason") or "PodInitializing")
    return "ContainerCreating"


async def pod_log(server: ServerState, request: web.Request, target: Target) -> web.Response:
    assert target.name is not None
    pod = server.store.get(target.rt, target.namespace or "", target.name).obj
    names = _names(pod)
    container = request.query.get("container", "")
    if not container:
        if len(names) != 1:
            raise BadRequest(
                f"a container name must be specified for pod {target.name}, choose one of: "
                f"[{' '.join(names)}]"
            )
        container = names[0]
    elif container not in names:
        raise BadRequest(f"container {container} is not valid for pod {target.name}")
    if not (pod.get("spec") or {}).get("nodeName"):
        return web.Response(status=204)
    reason = _waiting_reason(pod, container)
    if reason is not None:
        raise BadRequest(
            f'container "{container}" in pod "{target.name}" is waiting to start: {reason}'
        )
    return web.Response(body=b"", content_type="text/plain")
