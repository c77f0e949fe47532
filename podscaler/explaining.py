"""``podscaler explain``: recent scaling decisions of a ScaledObject, for people.

Two sources, because they answer different questions:

* the operator's ``/debug/decisions`` endpoint on its metrics port (``--endpoint``): the last
  decisions it kept in memory, with every trigger's value and activity, the HPA calculation
  and the rule that bound each result — the full story of the last minutes;
* the object's status (a kubeconfig is enough): ``status.lastDecision``, the latest decision
  in short form, and the conditions with their transition times — the story so far when the
  operator's port is not reachable.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from podscaler.controllers.scaledobject import render_records
from podscaler.kube.clients import connect

__all__ = ["explain_from_endpoint", "explain_from_status"]


async def explain_from_endpoint(endpoint: str, namespace: str, name: str, output: str) -> str:
    url = endpoint.rstrip("/") + "/debug/decisions"
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, params={"namespace": namespace, "name": name}) as response,
    ):
        response.raise_for_status()
        document: dict[str, Any] = await response.json()
    objects = document.get("objects") or []
    if output == "json":
        return json.dumps(objects, indent=2, sort_keys=True)
    if not objects:
        return f"no decisions recorded for {namespace}/{name} (is it a ScaledObject?)"
    return f"ScaledObject {namespace}/{name}\n" + render_records(objects[0].get("decisions") or [])


async def explain_from_status(
    kubeconfig: str | None, server: str | None, namespace: str, name: str, output: str
) -> str:
    async with await connect(kubeconfig=kubeconfig, server=server) as kube:
        obj = await kube.request(
            "GET",
            f"/apis/autoscaling.podscaler.io/v1alpha1/namespaces/{namespace}/scaledobjects/{name}",
        )
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
    if status.get("lastActiveTime"):
        lines.append(f"last active: {status['lastActiveTime']}")
    for condition in status.get("conditions") or []:
        lines.append(
            f"{condition.get('type')}={condition.get('status')} {condition.get('reason') or ''}"
            f" since {condition.get('lastTransitionTime', '?')}: {condition.get('message') or ''}"
        )
    lines.append("(recent decisions in full: podscaler explain --endpoint http://<operator>:8080)")
    return "\n".join(lines)
