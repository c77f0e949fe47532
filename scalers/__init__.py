"""Triggers: one module per trigger type behind one Scaler protocol and a registry.

The public surface: a :class:`ScaleTrigger` (``api``'s model of a trigger) in,
:class:`ScalerConfig` out of a pure ``parse``, a :class:`Scaler` out of ``build``; the registry
finds the factory for a trigger type (built-ins plus the ``podscaler.scalers`` entry-point
group). See :mod:`scalers.contract`.
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
    ScaleTrigger,
    TriggerError,
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
    "ScaleTrigger",
    "Scaler",
    "ScalerConfig",
    "ScalerConfigError",
    "ScalerEnvironment",
    "ScalerError",
    "ScalerFactory",
    "ScalerRegistry",
    "TriggerError",
    "default_registry",
    "exported_metric_value",
]
