"""autoscaling/v2 ``MetricTargetType``: what a metric's value is compared with.

One enum for every layer that speaks it: the trigger and scalingModifiers fields of the custom
resources, the scalers' metric specs, the KEDA engine's observations and the HPA engine's
metric targets. It is a ``StrEnum``, so a member equals its wire spelling (``"AverageValue"``)
and serialises as that string.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["MetricTargetType"]


class MetricTargetType(StrEnum):
    """``AverageValue`` (per pod), ``Value`` (the whole metric) or ``Utilization`` (percent of
    the pods' requests, cpu and memory only)."""

    AVERAGE_VALUE = "AverageValue"
    VALUE = "Value"
    UTILIZATION = "Utilization"
