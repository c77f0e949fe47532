"""``podscaler explain verticalscaler/NS/NAME``: how each container's numbers came about.

The VerticalScaler's status carries upstream's numbers only; the story behind them is rebuilt
from the scaler's checkpoints — the same histograms the recommender holds, as of its last
checkpoint write — by running the same estimator: per container and resource, the percentile
read and what the histogram answered, the safety margin, the confidence (from the sample span
and count) and the factor it gave each bound, the per-container minimum, and the policy bound
(``minAllowed`` / ``maxAllowed``) that capped the target. Pure: the caller reads the objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from podscaler.api.verticalscaler import vertical_scaler_problems
from podscaler.engine.vpa import (
    DEFAULT_RECOMMENDER,
    AggregateContainerState,
    CheckpointError,
    ContainerRecommendation,
    RecommenderSettings,
    confidence_factor,
    recommend,
    restore_aggregate,
)
from podscaler.engine.vpa.specs import resource_policy_of

__all__ = ["explanation_data", "render_vertical_explanation"]

_BOUND_NAMES = {"target": "target", "lowerBound": "lower bound", "upperBound": "upper bound"}


def _amount(resource: str, value: int | None) -> str:
    if value is None:
        return "-"
    if resource == "cpu":
        return f"{value}m"
    return f"{value / 2**20:.1f}Mi"


def _histogram_value(resource: str, value: float) -> str:
    return f"{value * 1000:.1f}m" if resource == "cpu" else f"{value / 2**20:.1f}Mi"


def _quantities(values: Any) -> str:
    if not isinstance(values, Mapping):
        return "-"
    return " ".join(f"{k} {v}" for k, v in sorted(values.items()))


def _aggregates(
    checkpoints: Sequence[Mapping[str, Any]], scaler_name: str, now_seconds: float
) -> tuple[dict[str, AggregateContainerState], list[str]]:
    found: dict[str, AggregateContainerState] = {}
    problems = []
    for item in checkpoints:
        spec = item.get("spec") or {}
        if spec.get("vpaObjectName") != scaler_name or not item.get("status"):
            continue
        container = str(spec.get("containerName") or "")
        try:
            found[container] = restore_aggregate(item["status"], now_seconds)
        except CheckpointError as exc:
            problems.append(f"checkpoint of {container} unreadable: {exc}")
    return found, problems


def explanation_data(
    scaler: Mapping[str, Any],
    checkpoints: Sequence[Mapping[str, Any]],
    now_seconds: float,
    settings: RecommenderSettings = DEFAULT_RECOMMENDER,
) -> dict[str, Any]:
    """The explanation as data (``-o json``)."""
    name = str((scaler.get("metadata") or {}).get("name") or "")
    aggregates, problems = _aggregates(checkpoints, name, now_seconds)
    parsed, spec_problems = vertical_scaler_problems(scaler)
    policy = resource_policy_of(parsed.spec) if parsed is not None else None
    recommendation = recommend(aggregates, policy, settings)
    containers = []
    for container in recommendation.containers:
        containers.append(_container_data(container))
    return {
        "containers": containers,
        "skipped": dict(recommendation.skipped),
        "problems": problems + [str(p) for p in spec_problems],
        "published": (scaler.get("status") or {}).get("recommendation") or {},
    }


def _container_data(container: ContainerRecommendation) -> dict[str, Any]:
    estimate = container.estimate
    settings = estimate.settings
    factors = {
        "lowerBound": confidence_factor(
            estimate.confidence, settings.lower_bound_multiplier, settings.lower_bound_exponent
        ),
        "upperBound": confidence_factor(
            estimate.confidence, settings.upper_bound_multiplier, settings.upper_bound_exponent
        ),
    }
    stages: dict[str, dict[str, Any]] = {}
    for (resource, bound), stage in estimate.stages().items():
        stages.setdefault(resource, {})[bound] = {
            "percentile": stage.percentile,
            "histogramValue": stage.histogram_value,
            "fromPercentile": stage.from_percentile,
            "withMargin": stage.with_margin,
            "withConfidence": stage.with_confidence,
            "final": stage.final,
            "raisedToMinimum": stage.raised_to_minimum,
            "confidenceFactor": factors.get(bound),
        }
    return {
        "containerName": container.container_name,
        "samples": estimate.total_samples_count,
        "sampleSpanSeconds": estimate.sample_span_seconds,
        "confidence": estimate.confidence,
        "safetyMargin": settings.safety_margin_fraction,
        "minimum": {
            "cpu": estimate.minimum.cpu_millicores,
            "memory": estimate.minimum.memory_bytes,
        },
        "stages": stages,
        "target": {"cpu": container.target.cpu_millicores, "memory": container.target.memory_bytes},
        "uncappedTarget": {
            "cpu": container.uncapped_target.cpu_millicores,
            "memory": container.uncapped_target.memory_bytes,
        },
        "cappedBy": [{"resource": r, "bound": b} for r, b in container.capped_by],
    }


def render_vertical_explanation(
    scaler: Mapping[str, Any],
    checkpoints: Sequence[Mapping[str, Any]],
    now_seconds: float,
    settings: RecommenderSettings = DEFAULT_RECOMMENDER,
) -> str:
    meta = scaler.get("metadata") or {}
    spec = scaler.get("spec") or {}
    target = spec.get("targetRef") or {}
    mode = (spec.get("updatePolicy") or {}).get("updateMode") or "Recreate"
    data = explanation_data(scaler, checkpoints, now_seconds, settings)
    lines = [
        f"VerticalScaler {meta.get('namespace')}/{meta.get('name')} -> "
        f"{target.get('kind')} {target.get('name')} (updateMode {mode})"
    ]
    if mode == "InPlace":
        lines.append(
            "updates: resized in place only, never evicted; a resize the node cannot hold "
            "(Infeasible) is tried again when the recommendation asks for less"
        )
    lines.extend(f"problem: {p}" for p in data["problems"])
    if not data["containers"]:
        lines.append(
            "no history in checkpoints yet (the recommender writes them every minute once "
            "it has samples)"
        )
    for container in data["containers"]:
        days = container["sampleSpanSeconds"] / 86_400.0
        lines.append(
            f"container {container['containerName']}: {container['samples']} samples over "
            f"{days:.2f} days, confidence {container['confidence']:.3g}, safety margin "
            f"{container['safetyMargin']:.0%}"
        )
        for resource in ("cpu", "memory"):
            minimum = container["minimum"][resource]
            lines.append(f"  {resource} (per-container minimum {_amount(resource, minimum)}):")
            for bound, label in _BOUND_NAMES.items():
                stage = container["stages"][resource][bound]
                factor = stage["confidenceFactor"]
                factor_text = "" if factor is None else f" x{factor:.3g} confidence ->"
                line = (
                    f"    {label}: p{stage['percentile'] * 100:g} = "
                    f"{_histogram_value(resource, stage['histogramValue'])} -> "
                    f"{_amount(resource, stage['fromPercentile'])} + margin -> "
                    f"{_amount(resource, stage['withMargin'])} ->{factor_text} "
                    f"{_amount(resource, stage['withConfidence'])}"
                )
                if stage["raisedToMinimum"]:
                    line += f", raised to the minimum {_amount(resource, stage['final'])}"
                lines.append(line)
        lines.append(
            "  (memory: checkpoints hold the peaks of finished 24 h windows; the live "
            "recommendation also counts each running pod's current window)"
        )
        for cap in container["cappedBy"]:
            resource = cap["resource"]
            lines.append(
                f"  target {resource} capped by {cap['bound']}: "
                f"{_amount(resource, container['uncappedTarget'][resource])} -> "
                f"{_amount(resource, container['target'][resource])}"
            )
        lines.append(
            f"  target: cpu {_amount('cpu', container['target']['cpu'])}, memory "
            f"{_amount('memory', container['target']['memory'])}"
        )
    for name, why in sorted(data["skipped"].items()):
        lines.append(f"container {name}: not recommended ({why})")
    published = data["published"].get("containerRecommendations") or []
    if published:
        lines.append("published in status:")
        for entry in published:
            lines.append(
                f"  {entry.get('containerName')}: target {_quantities(entry.get('target'))}; "
                f"lower {_quantities(entry.get('lowerBound'))}; "
                f"upper {_quantities(entry.get('upperBound'))}"
            )
    for condition in (scaler.get("status") or {}).get("conditions") or ():
        lines.append(
            f"{condition.get('type')}={condition.get('status')} ({condition.get('reason')}): "
            f"{condition.get('message')}"
        )
    return "\n".join(lines)
