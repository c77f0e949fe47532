"""What goes over the wire of external.metrics.k8s.io: request parsing and response documents.

Pure functions only (no aiohttp), so the parsing path can be tested exhaustively (hypothesis)
and the server module reads as routing and policy.

The shapes follow what the HPA's external metrics client and KEDA's adapter exchange
(reference/keda.md §2.6): an ``ExternalMetricValueList`` whose values are Kubernetes quantity
strings at milli precision, and ``metav1.Status`` documents for every error
(:mod:`podscaler.serving.status`, re-exported here), because client-go shows ``Status.message``
to the user (``kubectl describe hpa``) and branches on ``code``.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from podscaler.api.externalmetrics import ExternalMetricSample
from podscaler.api.meta import SCALED_OBJECT_NAME_LABEL
from podscaler.api.quantities import Quantity
from podscaler.api.selectors import Operator, SelectorError, parse_label_selector
from podscaler.api.timestamps import format_time
from podscaler.serving.status import StatusError, status_body

__all__ = [
    "GROUP",
    "GROUP_VERSION",
    "MAX_METRIC_NAME_LENGTH",
    "MAX_SELECTOR_LENGTH",
    "VERSION",
    "MetricRequest",
    "StatusError",
    "api_group",
    "api_group_list",
    "api_resource_list",
    "parse_metric_request",
    "quantity_text",
    "status_body",
    "value_list",
]

GROUP: Final = "external.metrics.k8s.io"
VERSION: Final = "v1beta1"
GROUP_VERSION: Final = f"{GROUP}/{VERSION}"

#: Longest ``labelSelector`` accepted, in characters. The HPA sends one short requirement
#: (``scaledobject.keda.sh/name=<name>``, under 300 characters even with a maximal name); a
#: longer selector is a mistake or an attack, and parsing it would only cost CPU.
MAX_SELECTOR_LENGTH: Final = 4096

#: Longest metric name accepted (a path segment; KEDA's names are far shorter). Longer ones get
#: a 400 rather than a lookup.
MAX_METRIC_NAME_LENGTH: Final = 253

#: The largest value the HPA can represent (``Quantity.MilliValue`` is an int64 of milli-units).
_MAX_MILLI_EXPORTABLE: Final = Decimal(2**63 - 1) / 1000

#: The label keys that name the ScaledObject, podscaler's own first (``api.meta``).
SCALED_OBJECT_LABELS: Final = SCALED_OBJECT_NAME_LABEL.names


@dataclass(frozen=True, slots=True)
class MetricRequest:
    """A parsed ``GET .../namespaces/{namespace}/{metric_name}?labelSelector=...``."""

    namespace: str
    metric_name: str
    scaled_object: str


def _printable(text: str) -> bool:
    return all(unicodedata.category(ch)[0] != "C" for ch in text)


def parse_metric_request(namespace: str, metric_name: str, label_selector: str) -> MetricRequest:
    """Validate the path parts and find the ScaledObject the selector names.

    Raises :class:`StatusError` 400 for an empty, oversized or unparsable part, and for a
    selector that does not name exactly one ScaledObject with ``=``/``==``/``in (x)`` on one of
    :data:`SCALED_OBJECT_LABELS` (KEDA answers "scaledObject name is not specified").
    """
    if not namespace or len(namespace) > 63 or not _printable(namespace):
        raise StatusError(400, "namespace is not valid")
    if not metric_name or not _printable(metric_name):
        raise StatusError(400, "metric name is not valid")
    if len(metric_name) > MAX_METRIC_NAME_LENGTH:
        raise StatusError(400, f"metric name is longer than {MAX_METRIC_NAME_LENGTH} characters")
    if len(label_selector) > MAX_SELECTOR_LENGTH:
        raise StatusError(
            400,
            f"labelSelector is {len(label_selector)} characters long; at most "
            f"{MAX_SELECTOR_LENGTH} are accepted",
        )
    try:
        selector = parse_label_selector(label_selector)
    except SelectorError as exc:
        raise StatusError(400, f"labelSelector is not valid: {exc}") from exc
    names: set[str] = set()
    for requirement in selector.requirements:
        if requirement.key not in SCALED_OBJECT_LABELS:
            continue
        if requirement.operator in (Operator.EQUALS, Operator.IN) and len(requirement.values) == 1:
            names.add(requirement.values[0])
        else:
            raise StatusError(
                400,
                f"labelSelector must name one ScaledObject with {requirement.key}=<name>",
            )
    names.discard("")
    if not names:
        raise StatusError(
            400,
            "scaledObject name is not specified: the labelSelector must carry "
            f"{SCALED_OBJECT_LABELS[1]}=<name> (or {SCALED_OBJECT_LABELS[0]}=<name>)",
        )
    if len(names) > 1:
        raise StatusError(400, "labelSelector names more than one ScaledObject")
    return MetricRequest(namespace, metric_name, names.pop())


def quantity_text(value: float) -> str:
    """A metric value as KEDA exports it: milli precision, NaN, ±Inf and negatives as ``0``.

    KEDA formats with ``%.3f`` and parses the result as a quantity; doing the same through
    :class:`~podscaler.api.quantities.Quantity` gives the canonical form (``0.25`` → ``250m``,
    ``35`` → ``35``, ``35000`` → ``35k``). Values beyond what the HPA can hold in milli-units
    (an int64, about 9.2e15) are capped there: the HPA would saturate them anyway, and formatting
    a 1e300 float digit by digit helps nobody.
    """
    if math.isnan(value) or math.isinf(value) or value <= 0:
        return "0"
    amount = min(Decimal(format(value, ".3f")), _MAX_MILLI_EXPORTABLE)
    return Quantity(amount).canonical()


def value_list(samples: Iterable[ExternalMetricSample]) -> dict[str, Any]:
    """The ``ExternalMetricValueList`` answer."""
    items: list[dict[str, Any]] = []
    for sample in samples:
        item: dict[str, Any] = {
            "metricName": sample.metric_name,
            "metricLabels": None,
            "timestamp": format_time(sample.timestamp),
            "value": quantity_text(sample.value),
        }
        if sample.window_seconds is not None:
            item["window"] = sample.window_seconds
        items.append(item)
    return {
        "kind": "ExternalMetricValueList",
        "apiVersion": GROUP_VERSION,
        "metadata": {},
        "items": items,
    }


def _group_document() -> dict[str, Any]:
    version = {"groupVersion": GROUP_VERSION, "version": VERSION}
    return {"name": GROUP, "versions": [version], "preferredVersion": version}


def api_group_list() -> dict[str, Any]:
    """``GET /apis``: the one group this server serves."""
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group_document()]}


def api_group() -> dict[str, Any]:
    """``GET /apis/external.metrics.k8s.io``."""
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_document()}


def api_resource_list() -> dict[str, Any]:
    """``GET /apis/external.metrics.k8s.io/v1beta1``: the ``externalmetrics`` resource.

    The aggregator's availability check and the HPA's discovery read this; ``get`` is the only
    verb, as in KEDA's adapter.
    """
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": GROUP_VERSION,
        "resources": [
            {
                "name": "externalmetrics",
                "singularName": "",
                "namespaced": True,
                "kind": "ExternalMetricValueList",
                "verbs": ["get"],
            }
        ],
    }
