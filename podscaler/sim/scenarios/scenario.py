"""Scenarios: a cluster, its load and what must happen, in one YAML file — and running one.

A scenario is how podscaler is demonstrated (``podscaler demo``), replayed (``podscaler
simulate``) and tested end to end (``tests/e2e/test_scenarios.py``): the same file sets up the
embedded cluster (namespaces, node groups, workloads with requests, limits and start delays,
podscaler objects), drives it (demand curves, queues) for a simulated duration, and states
assertions that make the run pass or fail. The format is documented in
``podscaler/sim/scenarios/builtin/README.md``; :func:`load_scenario` reads it and names the field of
any mistake.

Scenarios declare the ``features`` they need (``scaledobject-controller``, ``sqs``,
``aws-sqs-queue-trigger``, ``kafka`` …). :func:`missing_features` says which are not available
in this build or on this machine, and why, so a scenario written for a capability still being
built is skipped with that reason rather than failing.

Running one is :func:`podscaler.sim.scenarios.runs.run_scenario`'s job.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from podscaler.api.timestamps import parse_time
from podscaler.nodes import NodeAutoscalerOptions
from podscaler.nodes.providers.sim import NodeGroupSpec
from podscaler.sim.scenarios.assertions import (
    Assertion,
    BadAssertion,
    parse_assertion,
)
from podscaler.sim.scenarios.fields import Fields
from podscaler.sim.scenarios.nodegroups import (
    AsgSpec,
    GroupResize,
    LaunchWindow,
    NodeGroups,
    NodeGroupsError,
    parse_node_autoscaler,
    parse_node_groups,
)
from podscaler.sim.world.brokers import kafka_unavailable
from podscaler.sim.world.load import (
    Curve,
    LoadError,
    UsageModel,
    parse_curve,
    parse_usage_model,
)
from podscaler.sim.world.profiles import DEFAULT_USAGE, JobWork, WorkloadProfile

__all__ = [
    "BUILTIN_DIR",
    "FEATURES",
    "OPERATOR_FEATURES",
    "GroupResize",
    "Scenario",
    "ScenarioError",
    "builtin_scenarios",
    "describe_missing",
    "importable",
    "load_scenario",
    "missing_features",
    "parse_scenario",
]

BUILTIN_DIR = Path(__file__).parent / "builtin"
#: When a scenario names no start, it starts here (a Monday midnight, UTC): runs replay the same.
DEFAULT_START = datetime(2026, 1, 5, tzinfo=UTC)
DEFAULT_IMAGE = "registry.k8s.io/pause:3.10"
#: The operator's namespace in scenarios: the node autoscaler's status ConfigMap and its
#: priority expander ConfigMap live there.
NODE_AUTOSCALER_NAMESPACE = "podscaler"


class ScenarioError(ValueError):
    """A scenario that cannot be read or run; the message names the field."""


_fields = Fields(ScenarioError)
_fail = _fields.fail
_mapping = _fields.mapping
_list = _fields.list
_known = _fields.known
_seconds = _fields.seconds
_int = _fields.int
_float = _fields.float
_strings = _fields.strings


# --------------------------------------------------------------------------- features


def importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _trigger(name: str) -> Callable[[], str | None]:
    def check() -> str | None:
        try:
            from scalers.registry import builtin_factories

            known = builtin_factories()
        except ImportError as exc:  # pragma: no cover - scalers ship with podscaler
            return f"the scalers package cannot be loaded: {exc}"
        return None if name in known else f"the {name} trigger is not built yet"

    return check


def _ml_unavailable() -> str | None:
    """Why the predictive trigger's ``ml`` extra (scikit-learn) cannot be used, or None."""
    from scalers.predictive import ml_unavailable

    return ml_unavailable()


def _operator_available() -> str | None:
    if importable("podscaler.manager") and importable("podscaler.controllers.scaledobject"):
        return None
    return "the ScaledObject controller (podscaler run) is not built yet"


def _proportional_available() -> str | None:
    missing = _operator_available()
    if missing is not None:
        return missing
    if importable("podscaler.controllers.proportional"):
        return None
    return "the ProportionalScaler controller is not built yet"


def _vertical_available() -> str | None:
    missing = _operator_available()
    if missing is not None:
        return missing
    if importable("podscaler.controllers.vertical.recommender"):
        return None
    return "the VerticalScaler recommender is not built yet"


def _sqs_available() -> str | None:
    if os.environ.get("PODSCALER_SQS_ENDPOINT"):
        return None
    if shutil.which("moto_server") is None:
        return (
            "moto_server is not installed (pip install 'moto[server]') and "
            "PODSCALER_SQS_ENDPOINT is not set"
        )
    if not importable("aiobotocore"):
        return "aiobotocore is not installed"
    return None


def _asg_available() -> str | None:
    if shutil.which("moto_server") is None:
        return "node groups on AWS (cloud: aws) need moto_server (pip install 'moto[server]')"
    if not importable("aiobotocore"):
        return "aiobotocore is not installed"
    return None


#: Features that are controllers of ``podscaler run``: a scenario naming one runs the operator.
OPERATOR_FEATURES = frozenset(
    {"scaledobject-controller", "proportional-controller", "vertical-controller", "node-autoscaler"}
)

#: feature → a check returning None when available, else the reason it is not.
FEATURES: dict[str, Callable[[], str | None]] = {
    "scaledobject-controller": _operator_available,
    "proportional-controller": _proportional_available,
    "vertical-controller": _vertical_available,
    # podscaler's admission webhook served by the operator, reached by the API server at the
    # Service podscaler/podscaler-webhook (the scenario brings the MutatingWebhookConfiguration)
    "admission-webhook": _vertical_available,
    "sqs": _sqs_available,
    "kafka": kafka_unavailable,
    "cpu-trigger": _trigger("cpu"),
    "memory-trigger": _trigger("memory"),
    "cron-trigger": _trigger("cron"),
    "prometheus-trigger": _trigger("prometheus"),
    "aws-sqs-queue-trigger": _trigger("aws-sqs-queue"),
    "kafka-trigger": _trigger("kafka"),
    "predictive-trigger": lambda: _trigger("predictive")() or _ml_unavailable(),
    "node-autoscaler": lambda: (
        _operator_available()
        or (
            None
            if importable("podscaler.controllers.nodes")
            else "the node autoscaler is not built yet"
        )
    ),
    "aws-asg": _asg_available,
}


def missing_features(features: Sequence[str]) -> list[tuple[str, str]]:
    """(feature, why it is unavailable) for each feature this build or machine lacks."""
    missing = []
    for feature in features:
        check = FEATURES.get(feature)
        reason = f"unknown feature {feature!r}" if check is None else check()
        if reason is not None:
            missing.append((feature, reason))
    return missing


# --------------------------------------------------------------------------- the format


@dataclass(frozen=True)
class WorkloadChange:
    """Someone scales the workload (``replicas``) or deletes it (``replicas`` None) at
    ``at_seconds`` — ``kubectl scale`` / ``kubectl delete`` on a schedule."""

    at_seconds: float
    replicas: int | None


@dataclass(frozen=True)
class WorkloadSpec:
    name: str
    namespace: str
    kind: str
    manifest: dict[str, Any]
    profile: WorkloadProfile
    changes: tuple[WorkloadChange, ...] = ()


@dataclass(frozen=True)
class QueueSpec:
    name: str
    type: str
    production: Curve | None
    #: SQS: the endpoint URL; Kafka: the bootstrap servers (else a broker started for the run)
    endpoint: str | None = None
    #: Kafka: the topic's partitions (the topic is named as the queue)
    partitions: int = 1
    #: Kafka: the group the world's consumers commit as (default ``NAME-consumers``)
    consumer_group: str | None = None

    @property
    def group(self) -> str:
        return self.consumer_group or f"{self.name}-consumers"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    path: Path | None
    features: tuple[str, ...]
    duration_seconds: float
    tick_seconds: float
    seed: int
    start: datetime | None
    namespaces: tuple[str, ...]
    node_groups: tuple[NodeGroupSpec, ...]
    workloads: tuple[WorkloadSpec, ...]
    queues: tuple[QueueSpec, ...]
    objects: tuple[dict[str, Any], ...]
    assertions: tuple[Assertion, ...]
    node_ready_seconds: float = 10.0
    #: the workload the summary and the report headline follow
    focus: str | None = None
    app_metrics: bool = False
    #: ``appMetrics.history``: seconds of each workload's demand pre-filled before the start
    #: (the query API answers them), sampled every ``app_metrics_history_step`` seconds
    app_metrics_history_seconds: float = 0.0
    app_metrics_history_step: float = 0.0
    #: Simulated seconds per wall second, or None for as fast as the machine allows.
    speed: float | None = None
    #: Node group resizes on a schedule (``nodeGroups[].resize``), in time order.
    resizes: tuple[GroupResize, ...] = ()
    #: Node groups that are EC2 Auto Scaling groups on moto (``cloud: aws``).
    asgs: tuple[AsgSpec, ...] = ()
    #: Windows in which a group's launches fail (``nodeGroups[].launchFailures``).
    launch_failures: tuple[LaunchWindow, ...] = ()
    #: The node autoscaler's options (``nodeAutoscaler:``), or None for CA's defaults.
    node_autoscaler: NodeAutoscalerOptions | None = None
    #: Simulated seconds at which the operator is stopped and started again
    #: (``operatorRestarts: [15m]``), in time order: what it keeps must come from the cluster.
    operator_restarts: tuple[float, ...] = ()

    @property
    def groups(self) -> NodeGroups:
        return NodeGroups(self.node_groups, self.asgs, self.resizes, self.launch_failures)

    def with_seed(self, seed: int) -> Scenario:
        return replace(self, seed=seed)


_TOP_FIELDS = {
    "name",
    "description",
    "features",
    "duration",
    "tick",
    "seed",
    "start",
    "namespaces",
    "nodeGroups",
    "workloads",
    "queues",
    "objects",
    "assertions",
    "nodeReadySeconds",
    "focus",
    "appMetrics",
    "speed",
    "nodeAutoscaler",
    "operatorRestarts",
}
_WORKLOAD_FIELDS = {
    "name",
    "namespace",
    "kind",
    "replicas",
    "image",
    "labels",
    "requests",
    "limits",
    "containers",
    "startSeconds",
    "readySeconds",
    "stopSeconds",
    "terminationGracePeriodSeconds",
    "usage",
    "demand",
    "queue",
    "consumePerSecond",
    "job",
    "nodeSelector",
    "tolerations",
    "affinity",
    "strategy",
    "podManagementPolicy",
    "priorityClassName",
    "annotations",
    "changes",
}


def _curve(raw: Any, where: str, base_dir: Path | None) -> Curve:
    def read_text(name: str) -> str:
        path = Path(name)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        return path.read_text(encoding="utf-8")

    try:
        return parse_curve(raw, read_text=read_text)
    except LoadError as exc:
        raise _fail(where, str(exc)) from exc


def _container(spec: Mapping[str, Any], name: str, where: str) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    for part in ("requests", "limits"):
        values = _strings(spec.get(part), f"{where}.{part}")
        if values:
            resources[part] = values
    container: dict[str, Any] = {"name": name, "image": str(spec.get("image", DEFAULT_IMAGE))}
    if resources:
        container["resources"] = resources
    return container


def _workload(raw: Any, where: str, base_dir: Path | None, seed: int) -> WorkloadSpec:
    spec = _mapping(raw, where)
    _known(spec, _WORKLOAD_FIELDS, where)
    name = spec.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name):
        raise _fail(f"{where}.name", "required: a lowercase DNS label")
    namespace = str(spec.get("namespace", "default"))
    kind = str(spec.get("kind", "Deployment"))
    if kind not in ("Deployment", "StatefulSet", "Job"):
        raise _fail(f"{where}.kind", f"must be Deployment, StatefulSet or Job, not {kind!r}")
    labels = {"app": name, **_strings(spec.get("labels"), f"{where}.labels")}
    containers_raw = _list(spec.get("containers"), f"{where}.containers")
    if containers_raw:
        containers = [
            _container(
                _mapping(c, f"{where}.containers[{i}]"),
                str(_mapping(c, "").get("name", f"c{i}")),
                f"{where}.containers[{i}]",
            )
            for i, c in enumerate(containers_raw)
        ]
    else:
        containers = [_container(spec, "app", where)]
    pod_spec: dict[str, Any] = {"containers": containers}
    for key in (
        "nodeSelector",
        "tolerations",
        "affinity",
        "terminationGracePeriodSeconds",
        "priorityClassName",
    ):
        if key in spec:
            pod_spec[key] = spec[key]
    job_raw = _mapping(spec.get("job"), f"{where}.job")
    _known(
        job_raw,
        {"parallelism", "completions", "backoffLimit", "runSeconds", "fromQueue", "failureRate"},
        f"{where}.job",
    )
    if kind == "Job":
        pod_spec["restartPolicy"] = "Never"
    template: dict[str, Any] = {"metadata": {"labels": labels}, "spec": pod_spec}
    annotations = _strings(spec.get("annotations"), f"{where}.annotations")
    if annotations:
        template["metadata"]["annotations"] = annotations
    manifest: dict[str, Any]
    if kind == "Job":
        job_spec: dict[str, Any] = {
            "parallelism": _int(job_raw.get("parallelism"), f"{where}.job.parallelism", 1),
            "backoffLimit": _int(job_raw.get("backoffLimit"), f"{where}.job.backoffLimit", 6),
            "template": template,
        }
        if job_raw.get("completions") is not None:
            job_spec["completions"] = _int(
                job_raw.get("completions"), f"{where}.job.completions", 1
            )
        manifest = {"apiVersion": "batch/v1", "kind": "Job", "spec": job_spec}
    else:
        workload_spec: dict[str, Any] = {
            "replicas": _int(spec.get("replicas"), f"{where}.replicas", 1),
            "selector": {"matchLabels": labels},
            "template": template,
        }
        if kind == "Deployment" and "strategy" in spec:
            workload_spec["strategy"] = spec["strategy"]
        if kind == "StatefulSet":
            workload_spec["serviceName"] = name
            if "podManagementPolicy" in spec:
                workload_spec["podManagementPolicy"] = spec["podManagementPolicy"]
        manifest = {"apiVersion": "apps/v1", "kind": kind, "spec": workload_spec}
    manifest["metadata"] = {"name": name, "namespace": namespace, "labels": dict(labels)}
    usage: UsageModel = DEFAULT_USAGE
    if spec.get("usage") is not None:
        try:
            usage = parse_usage_model(spec["usage"], f"{where}.usage")
        except LoadError as exc:
            raise ScenarioError(str(exc)) from exc
        if not usage.seed:
            usage = replace(usage, seed=seed)
    rate = spec.get("consumePerSecond", 1.0)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or rate < 0:
        raise _fail(f"{where}.consumePerSecond", "must be a non-negative number")
    failure = job_raw.get("failureRate", 0.0)
    if isinstance(failure, bool) or not isinstance(failure, int | float) or not 0 <= failure <= 1:
        raise _fail(f"{where}.job.failureRate", "must be a fraction within 0..1")
    profile = WorkloadProfile(
        start_seconds=_seconds(spec.get("startSeconds"), f"{where}.startSeconds", 5.0),
        ready_seconds=_seconds(spec.get("readySeconds"), f"{where}.readySeconds", 5.0),
        stop_seconds=_seconds(spec.get("stopSeconds"), f"{where}.stopSeconds", 2.0),
        usage=usage,
        demand=_curve(spec["demand"], f"{where}.demand", base_dir) if "demand" in spec else None,
        queue=str(spec["queue"]) if spec.get("queue") else None,
        consume_per_second=float(rate),
        job=JobWork(
            run_seconds=_seconds(job_raw.get("runSeconds"), f"{where}.job.runSeconds", 60.0),
            from_queue=bool(job_raw.get("fromQueue", False)),
            failure_rate=float(failure),
        ),
    )
    return WorkloadSpec(
        name, namespace, kind, manifest, profile, _changes(spec.get("changes"), kind, where)
    )


def _changes(raw: Any, kind: str, where: str) -> tuple[WorkloadChange, ...]:
    """``changes: [{at: 10m, replicas: 0}, {at: 20m, delete: true}]``."""
    found = []
    for index, item in enumerate(_list(raw, f"{where}.changes")):
        here = f"{where}.changes[{index}]"
        entry = _mapping(item, here)
        _known(entry, {"at", "replicas", "delete"}, here)
        if "at" not in entry:
            raise _fail(here, "needs at")
        at = _seconds(entry["at"], f"{here}.at", 0.0)
        if entry.get("delete") is True and "replicas" not in entry:
            found.append(WorkloadChange(at, None))
            continue
        if "replicas" not in entry or "delete" in entry:
            raise _fail(here, "needs replicas: N or delete: true (not both)")
        if kind == "Job":
            raise _fail(here, "a Job is not scaled; use delete: true")
        replicas = _int(entry["replicas"], f"{here}.replicas", 0)
        if replicas < 0:
            raise _fail(f"{here}.replicas", "must not be negative")
        found.append(WorkloadChange(at, replicas))
    return tuple(sorted(found, key=lambda c: c.at_seconds))


def _queue(raw: Any, where: str, base_dir: Path | None) -> QueueSpec:
    spec = _mapping(raw, where)
    _known(spec, {"name", "type", "production", "endpoint", "partitions", "consumerGroup"}, where)
    name = spec.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,80}", name):
        raise _fail(
            f"{where}.name", "required: letters, digits, - and _ (an SQS queue or Kafka topic name)"
        )
    kind = str(spec.get("type", "sqs"))
    if kind not in ("sqs", "kafka", "memory"):
        raise _fail(f"{where}.type", f"must be sqs, kafka or memory, not {kind!r}")
    for kafka_only in ("partitions", "consumerGroup"):
        if kind != "kafka" and kafka_only in spec:
            raise _fail(f"{where}.{kafka_only}", "only a kafka queue has it")
    partitions = _int(spec.get("partitions"), f"{where}.partitions", 1)
    if not 1 <= partitions <= 1000:
        raise _fail(f"{where}.partitions", f"must be within 1..1000, not {partitions}")
    group = spec.get("consumerGroup")
    if group is not None and (
        not isinstance(group, str) or not re.fullmatch(r"[A-Za-z0-9._-]{1,200}", group)
    ):
        raise _fail(f"{where}.consumerGroup", "letters, digits, ., - and _")
    production = (
        _curve(spec["production"], f"{where}.production", base_dir)
        if spec.get("production") is not None
        else None
    )
    endpoint = spec.get("endpoint")
    return QueueSpec(
        name,
        kind,
        production,
        str(endpoint) if endpoint else None,
        partitions=partitions,
        consumer_group=group,
    )


def parse_scenario(document: Any, *, path: Path | None = None) -> Scenario:
    """A scenario from its parsed YAML document."""
    top = _mapping(document, "scenario")
    _known(top, _TOP_FIELDS, "scenario")
    base_dir = path.parent if path is not None else None
    name = str(top.get("name") or (path.stem if path else "scenario"))
    seed = _int(top.get("seed"), "seed", 1)
    duration = _seconds(top.get("duration"), "duration", 3600.0)
    if duration <= 0:
        raise _fail("duration", "must be positive")
    tick = _seconds(top.get("tick"), "tick", 15.0)
    if tick <= 0:
        raise _fail("tick", "must be positive")
    start: datetime | None = None
    if top.get("start") is not None:
        raw_start = top["start"]
        start = raw_start if isinstance(raw_start, datetime) else parse_time(str(raw_start))
        if start is None:
            raise _fail("start", f"must be an ISO 8601 date-time, not {raw_start!r}")
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
    features = tuple(str(f) for f in _list(top.get("features"), "features"))
    unknown = [f for f in features if f not in FEATURES]
    if unknown:
        raise _fail("features", f"unknown {unknown}; known: {', '.join(sorted(FEATURES))}")
    try:
        node_groups = parse_node_groups(top.get("nodeGroups"))
        node_autoscaler = parse_node_autoscaler(top.get("nodeAutoscaler"))
    except NodeGroupsError as exc:
        raise ScenarioError(str(exc)) from exc
    if node_groups.asgs and "aws-asg" not in features:
        features = (*features, "aws-asg")
    workloads = tuple(
        _workload(w, f"workloads[{i}]", base_dir, seed)
        for i, w in enumerate(_list(top.get("workloads"), "workloads"))
    )
    queues = tuple(
        _queue(q, f"queues[{i}]", base_dir)
        for i, q in enumerate(_list(top.get("queues"), "queues"))
    )
    queue_names = {q.name for q in queues}
    if len(queue_names) != len(queues):
        raise _fail("queues", "names must be unique")
    for index, workload in enumerate(workloads):
        if workload.profile.queue is not None and workload.profile.queue not in queue_names:
            raise _fail(f"workloads[{index}].queue", f"no queue named {workload.profile.queue!r}")
    objects_raw = top.get("objects")
    objects: list[dict[str, Any]] = []
    if isinstance(objects_raw, str):
        objects = [d for d in yaml.safe_load_all(objects_raw) if d]
    else:
        for index, obj in enumerate(_list(objects_raw, "objects")):
            if not isinstance(obj, dict) or not obj.get("kind") or not obj.get("apiVersion"):
                raise _fail(f"objects[{index}]", "must be a manifest with apiVersion and kind")
            objects.append(obj)
    assertions = []
    for index, text in enumerate(_list(top.get("assertions"), "assertions")):
        try:
            assertions.append(parse_assertion(str(text)))
        except BadAssertion as exc:
            raise _fail(f"assertions[{index}]", str(exc)) from exc
    namespaces = {str(n) for n in _list(top.get("namespaces"), "namespaces")}
    if "node-autoscaler" in features:
        namespaces.add(NODE_AUTOSCALER_NAMESPACE)
    namespaces.update(w.namespace for w in workloads)
    namespaces.update(
        str((o.get("metadata") or {}).get("namespace"))
        for o in objects
        if (o.get("metadata") or {}).get("namespace")
    )
    restarts = []
    for index, raw in enumerate(_list(top.get("operatorRestarts"), "operatorRestarts")):
        at = _seconds(raw, f"operatorRestarts[{index}]", 0.0)
        if not 0 < at < duration:
            raise _fail(f"operatorRestarts[{index}]", "must fall within the run's duration")
        restarts.append(at)
    if restarts and not OPERATOR_FEATURES.intersection(features):
        raise _fail("operatorRestarts", "the scenario runs no operator (no controller feature)")
    app_metrics, history, history_step = _app_metrics(top.get("appMetrics", False))
    focus = top.get("focus")
    speed: float | None = None
    if top.get("speed") is not None:
        speed = _float(top.get("speed"), "speed")
        if speed <= 0:
            raise _fail("speed", "must be positive (simulated seconds per wall second)")
    return Scenario(
        name=name,
        description=str(top.get("description") or "").strip(),
        path=path,
        features=features,
        duration_seconds=duration,
        tick_seconds=tick,
        seed=seed,
        start=start,
        namespaces=tuple(sorted(namespaces)),
        node_groups=node_groups.sim,
        workloads=workloads,
        queues=queues,
        objects=tuple(objects),
        assertions=tuple(assertions),
        node_ready_seconds=_seconds(top.get("nodeReadySeconds"), "nodeReadySeconds", 10.0),
        focus=str(focus) if focus else (workloads[0].name if workloads else None),
        app_metrics=app_metrics,
        app_metrics_history_seconds=history,
        app_metrics_history_step=history_step or tick,
        speed=speed,
        resizes=node_groups.resizes,
        asgs=node_groups.asgs,
        launch_failures=node_groups.failures,
        node_autoscaler=node_autoscaler,
        operator_restarts=tuple(sorted(restarts)),
    )


def _app_metrics(raw: Any) -> tuple[bool, float, float]:
    """``appMetrics: true`` or ``{history: 7d, historyStep: 1m}`` → (serve, history, step)."""
    if isinstance(raw, bool) or raw is None:
        return bool(raw), 0.0, 0.0
    spec = _mapping(raw, "appMetrics")
    _known(spec, {"history", "historyStep"}, "appMetrics")
    history = _seconds(spec.get("history"), "appMetrics.history", 0.0)
    step = _seconds(spec.get("historyStep"), "appMetrics.historyStep", 0.0)
    if history > 400 * 86400:
        raise _fail("appMetrics.history", "at most 400d")
    if history and step and history / step > 2_000_000:
        raise _fail("appMetrics.historyStep", "too fine for that much history")
    return True, history, step


def load_scenario(path: Path | str) -> Scenario:
    """Read a scenario file, or a built-in scenario by name (``web-diurnal``)."""
    candidate = Path(path)
    if not candidate.exists() and not candidate.suffix:
        builtin = BUILTIN_DIR / f"{candidate.name}.yaml"
        if builtin.exists():
            candidate = builtin
    try:
        text = candidate.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc}") from exc
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from exc
    return parse_scenario(document, path=candidate)


def builtin_scenarios() -> list[Path]:
    return sorted(BUILTIN_DIR.glob("*.yaml"))


def describe_missing(missing: Sequence[tuple[str, str]]) -> str:
    """``feature: reason; …`` for a skip message."""
    return "; ".join(f"{feature}: {reason}" for feature, reason in missing)
