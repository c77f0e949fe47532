"""Triggers: one module per trigger type behind one Scaler protocol and a registry.

The public surface: :class:`TriggerSpec` in, :class:`ScalerConfig` out of a pure ``parse``,
a :class:`Scaler` out of ``build``; the registry finds the factory for a trigger type
(built-ins plus the ``podscaler.scalers`` entry-point group). See :mod:`scalers.contract`.
"""

from scalers.contract import (
    AuthenticationRef,
    ContainerResourceMetricSpec,
    ExternalMetricSpec,
    MetricSpec,
    MetricTarget,
    MetricTargetType,
    MetricValue,
    ResourceMetricSpec,
    Scaler,
    ScalerConfig,
    ScalerConfigError,
    ScalerEnvironment,
    ScalerError,
    ScalerFactory,
    TriggerError,
    TriggerSpec,
    exported_metric_value,
)
from scalers.registry import ScalerRegistry, default_registry

__all__ = [
    "AuthenticationRef",
    "ContainerResourceMetricSpec",
    "ExternalMetricSpec",
    "MetricSpec",
    "MetricTarget",
    "MetricTargetType",
    "MetricValue",
    "ResourceMetricSpec",
    "Scaler",
    "ScalerConfig",
    "ScalerConfigError",
    "ScalerEnvironment",
    "ScalerError",
    "ScalerFactory",
    "ScalerRegistry",
    "TriggerError",
    "TriggerSpec",
    "default_registry",
    "exported_metric_value",
]
