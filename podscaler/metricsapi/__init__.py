"""The external.metrics.k8s.io server, over :mod:`podscaler.serving` (TLS with rotation,
kube-aggregator authentication, SubjectAccessReview).

``podscaler run`` starts :func:`serve_metrics_api` with a :class:`MetricsSource` (the
ScaledObject controller; the protocol and its typed errors live in
``podscaler.api.externalmetrics``); the modules, bottom up:

* ``wire`` — request parsing and response documents (pure);
* ``apiservice`` — who owns ``v1beta1.external.metrics.k8s.io``, and its caBundle;
* ``server`` — routes, the attributes each is authorized with, and :func:`serve_metrics_api`.
"""

from podscaler.api.externalmetrics import (
    ExternalMetricSample,
    MetricNotFound,
    MetricsSource,
    MetricsSourceError,
    MetricUnavailable,
    ScaledObjectNotFound,
)
from podscaler.metricsapi.server import (
    MetricsApiOptions,
    MetricsApiServer,
    serve_metrics_api,
)

__all__ = [
    "ExternalMetricSample",
    "MetricNotFound",
    "MetricUnavailable",
    "MetricsApiOptions",
    "MetricsApiServer",
    "MetricsSource",
    "MetricsSourceError",
    "ScaledObjectNotFound",
    "serve_metrics_api",
]
