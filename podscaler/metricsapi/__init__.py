"""The external.metrics.k8s.io server (aiohttp over TLS, kube-aggregator authentication).

``podscaler run`` starts :func:`serve_metrics_api` with a :class:`MetricsSource` (the
ScaledObject controller); the modules, bottom up:

* ``source`` — the protocol the controller implements, and its typed errors;
* ``wire`` — request parsing and response documents (pure);
* ``certificates``, ``tls`` — serving certificates from files or our own CA, swapped live;
* ``authentication``, ``authorization`` — front proxy / client certificate / TokenReview, and
  SubjectAccessReview;
* ``apiservice`` — who owns ``v1beta1.external.metrics.k8s.io``, and its caBundle;
* ``server`` — the HTTP pipeline and :func:`serve_metrics_api`.
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
