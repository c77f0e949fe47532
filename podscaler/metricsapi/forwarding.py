"""Metric reads for objects another replica owns are forwarded to it (``--shard``).

Under ``--shard`` each replica polls only its share of the ScaledObjects, but the
kube-aggregator sends a read to any ready replica behind the Service. Three ways were open:

* refuse (503) and leave the Service through readiness — readiness is per replica, while
  ownership is per object: every replica owns some objects and not others, so no replica could
  be both ready and right;
* a shared cache (a ConfigMap or a Secret the owners write) — one API write per object per
  poll (10,000 objects every 30 s is 333 writes/s) for a value that is stale by up to an
  interval, and triggers with ``useCachedMetrics: false`` are then not live;
* **forward** (chosen): one extra hop inside the cluster for (N-1)/N of the reads; the owner
  answers exactly as a single replica would (live reads, its fallback counters, its cache).

How. The receiving replica has authenticated and authorized the caller already (its own
pipeline ran before the source is asked). It sends the same GET to the owner's address (the
``podscaler.dev/address`` annotation of the owner's member Lease) over TLS, verifying the
owner's certificate against the replicas' shared CA (:mod:`.sharedca`) under the Service's
DNS name, and authenticates as itself with its API credentials (the owner reviews the token
with TokenReview and authorizes the operator's service account with SubjectAccessReview: the
operator's ClusterRole must allow ``list`` on ``external.metrics.k8s.io``). The header
``X-Podscaler-Forwarded`` marks the hop; a forwarded read is answered locally and never
forwarded again, so two replicas whose views briefly disagree answer 503 instead of bouncing a
request between them. The owner's 404/503 come back as the same errors; an unreachable owner
is a 503 (the HPA keeps its replicas).
"""

from __future__ import annotations

import contextvars
import ssl
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Final, Literal
from urllib.parse import quote

import aiohttp

from podscaler.api.externalmetrics import (
    ExternalMetricSample,
    MetricNotFound,
    MetricsSource,
    MetricUnavailable,
    ScaledObjectNotFound,
)
from podscaler.api.quantities import QuantityError, parse_quantity
from podscaler.metricsapi import wire

__all__ = ["FORWARDED", "FORWARDED_HEADER", "LOCAL", "ForwardingSource"]

FORWARDED_HEADER: Final = "X-Podscaler-Forwarded"
#: Set by the server while it answers a request that another replica forwarded.
FORWARDED: contextvars.ContextVar[bool] = contextvars.ContextVar("forwarded", default=False)
LOCAL: Final = "local"
#: Where a read goes: :data:`LOCAL`, a ``host:port`` to forward to, or None (no live owner).
Route = Literal["local"] | str | None


class ForwardingSource:
    """A :class:`MetricsSource` answering owned objects from *local*, others from the owner."""

    def __init__(
        self,
        local: MetricsSource,
        *,
        route: Callable[[str], Route],
        ca_pem: Callable[[], bytes],
        server_name: str,
        credentials: Callable[[], Awaitable[dict[str, str]]],
        timeout_seconds: float = 5.0,
    ) -> None:
        self.local = local
        self._route = route
        self._ca_pem = ca_pem
        self._server_name = server_name
        self._credentials = credentials
        self.timeout_seconds = timeout_seconds
        self._session: aiohttp.ClientSession | None = None
        self._context: tuple[bytes, ssl.SSLContext] | None = None
        #: Reads forwarded, for status and tests.
        self.forwarded = 0

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _tls(self) -> ssl.SSLContext:
        pem = self._ca_pem()
        if self._context is None or self._context[0] != pem:
            # No CA of our own (certificates from files without ca.crt): the system's.
            context = ssl.create_default_context(cadata=pem.decode() or None)
            self._context = (pem, context)
        return self._context[1]

    async def external_metric(
        self, namespace: str, scaled_object: str, metric_name: str
    ) -> Sequence[ExternalMetricSample]:
        route = LOCAL if FORWARDED.get() else self._route(f"{namespace}/{scaled_object}")
        if route == LOCAL:
            return await self.local.external_metric(namespace, scaled_object, metric_name)
        if not route:
            raise MetricUnavailable(
                f"no live replica owns ScaledObject {namespace}/{scaled_object} right now"
            )
        return await self._forward(route, namespace, scaled_object, metric_name)

    async def _forward(
        self, address: str, namespace: str, scaled_object: str, metric_name: str
    ) -> Sequence[ExternalMetricSample]:
        if self._session is None:
            self._session = aiohttp.ClientSession(trust_env=False)
        selector = f"scaledobject.keda.sh/name={scaled_object}"
        url = (
            f"https://{address}/apis/{wire.GROUP}/{wire.VERSION}/namespaces/"
            f"{quote(namespace, safe='')}/{quote(metric_name, safe='')}"
        )
        headers = {**await self._credentials(), FORWARDED_HEADER: "1"}
        self.forwarded += 1
        try:
            async with self._session.get(
                url,
                params={"labelSelector": selector},
                headers=headers,
                ssl=self._tls(),
                server_hostname=self._server_name,
                timeout=aiohttp.ClientTimeout(total=self.timeout_seconds),
            ) as response:
                body = await response.json(content_type=None)
                status = response.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise MetricUnavailable(
                f"the replica owning ScaledObject {namespace}/{scaled_object} did not answer "
                f"({type(exc).__name__})"
            ) from exc
        message = str(body.get("message") or "") if isinstance(body, dict) else ""
        if status == 404:
            if "not found in namespace" in message:
                raise ScaledObjectNotFound(message)
            raise MetricNotFound(message or f"metric {metric_name} not found")
        if status != 200 or not isinstance(body, dict):
            raise MetricUnavailable(
                message or f"the owning replica answered {status} for {namespace}/{scaled_object}"
            )
        return _samples(body)


def _samples(body: dict[str, object]) -> list[ExternalMetricSample]:
    samples: list[ExternalMetricSample] = []
    items = body.get("items")
    for item in items if isinstance(items, list) else []:
        try:
            window = item.get("window")
            samples.append(
                ExternalMetricSample(
                    metric_name=str(item["metricName"]),
                    value=parse_quantity(str(item["value"])).as_float(),
                    timestamp=datetime.fromisoformat(str(item["timestamp"]).replace("Z", "+00:00")),
                    window_seconds=int(window) if window is not None else None,
                )
            )
        except (KeyError, TypeError, ValueError, QuantityError, AttributeError) as exc:
            raise MetricUnavailable(
                f"the owning replica answered a malformed value: {exc}"
            ) from exc
    return samples
