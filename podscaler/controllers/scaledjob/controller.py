"""The ScaledJob controller: each ``pollingInterval``, create Jobs for the events waiting.

Per object, one poll on the schedule of :mod:`podscaler.controllers.loop` (the per-object poll
loop the ScaledObject controller uses too: a restart spreads the first polls over one interval,
a new or changed ScaledJob is polled at once, a spec change wakes it; lateness and errors are
KEDA's ``keda_internal_scale_loop_latency_seconds{type="scaledjob"}`` and
``keda_scaled_job_errors_total``): build the triggers (:mod:`podscaler.controllers.triggers`,
the same resolution of env and TriggerAuthentication as ScaledObjects, so a missing Secret or
key gives Ready=False with the Secret and key named), poll them, count the ScaledJob's
Jobs by state, let :func:`podscaler.engine.scaledjob.decide_jobs` say how many to create,
create them, and delete finished Jobs beyond ``successfulJobsHistoryLimit`` /
``failedJobsHistoryLimit``. Status carries Ready and Active conditions, ``lastActiveTime``
and ``observedGeneration``; Events say when Jobs were created and why.

Jobs are labelled ``scaledjob.keda.sh/name`` (KEDA's label, so existing dashboards and
``kubectl get jobs -l`` keep working), on the Job and on its pods, and owned by the ScaledJob
(garbage collection deletes them with it). A spec change deletes the still-running Jobs unless
``rollout.strategy`` is ``gradual`` (KEDA's default is to delete them).

A trigger that fails counts as inactive for that poll (KEDA: fallback is not supported for
ScaledJobs), with a TriggerError Event; a ScaledJob never creates Jobs because a source is down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from pydantic import ValidationError

from podscaler.api.conditions import ACTIVE, READY, Condition, ConditionStatus
from podscaler.api.meta import API_GROUP, API_VERSION, JOB_EXCLUDED_LABELS
from podscaler.api.reasons import Reason
from podscaler.api.scaledjob import ScaledJob
from podscaler.api.timestamps import format_time
from podscaler.api.triggers import polling_interval_of
from podscaler.controllers.informed import InformedController
from podscaler.controllers.loop import PollLoop, Wake
from podscaler.controllers.transitions import condition_changes
from podscaler.controllers.triggers import (
    AuthRefresher,
    TriggerConfigError,
    TriggerKeeper,
    TriggerSet,
)
from podscaler.engine.scaledjob import (
    JobDecision,
    JobMetric,
    JobState,
    StrategySettings,
    decide_jobs,
    history_to_delete,
    job_metric,
    job_state,
)
from podscaler.kube.clients import Kube
from podscaler.kube.errors import KubeError, NotFound
from podscaler.kube.events import EventRecorder
from podscaler.kube.informers import Informer
from podscaler.kube.kinds import SCALED_JOBS
from podscaler.kube.statuses import merge_conditions, patch_status
from podscaler.observability.metrics import SCALED_JOB, OperatorMetrics
from scalers.contract import ScalerEnvironment
from scalers.registry import ScalerRegistry, default_registry

__all__ = [
    "JOB_LABEL",
    "SCALED_JOBS",
    "JobSettings",
    "ScaledJobContext",
    "ScaledJobController",
    "job_manifest",
]

log = logging.getLogger(__name__)

JOB_LABEL: Final = "scaledjob.keda.sh/name"


@dataclass(frozen=True)
class JobSettings:
    trigger_timeout_seconds: float = 5.0
    operator_namespace: str = "podscaler"
    #: As the ScaledObjects' ``start_spread``: after a restart, ScaledJobs whose status is
    #: current take their first poll at a random point of ``pollingInterval * start_spread``.
    start_spread: float = 1.0


@dataclass
class ScaledJobContext:
    namespace: str
    name: str
    obj: dict[str, Any]
    wake: Wake = field(default_factory=Wake)
    triggers: TriggerSet | None = None
    built_generation: int | None = None
    status: dict[str, Any] | None = None
    last_decision: JobDecision | None = None

    @property
    def generation(self) -> int | None:
        value = (self.obj.get("metadata") or {}).get("generation")
        return int(value) if isinstance(value, int) else None

    @property
    def polling_interval_seconds(self) -> float:
        return float(polling_interval_of(self.obj.get("spec")))

    async def close(self) -> None:
        triggers, self.triggers = self.triggers, None
        if triggers is not None:
            await triggers.close()


class ScaledJobController(InformedController):
    """Watches ScaledJobs (one namespace or all) and runs each one's poll loop."""

    def __init__(
        self,
        kube: Kube,
        *,
        namespace: str | None,
        now: Callable[[], datetime],
        settings: JobSettings | None = None,
        recorder: EventRecorder | None = None,
        registry: ScalerRegistry | None = None,
        scaler_env: ScalerEnvironment | None = None,
        metrics: OperatorMetrics | None = None,
    ) -> None:
        self.kube = kube
        self.namespace = namespace
        self.settings = settings or JobSettings()
        self.recorder = recorder
        self.metrics = metrics or OperatorMetrics()
        self.keeper = TriggerKeeper(
            kube,
            registry or default_registry(),
            scaler_env or ScalerEnvironment(now=now),
            kind="ScaledJob",
            operator_namespace=self.settings.operator_namespace,
            timeout_seconds=self.settings.trigger_timeout_seconds,
        )
        self.informer = Informer(kube, SCALED_JOBS, namespace=namespace)
        self.loop: PollLoop[ScaledJobContext] = PollLoop(
            "ScaledJob",
            self.evaluate,
            metrics=self.metrics,
            start_spread=self.settings.start_spread,
        )
        self.objects = self.loop.objects
        self.now = now

    @property
    def evaluations(self) -> int:
        """Polls made (all ScaledJobs)."""
        return self.loop.evaluations

    @property
    def refresher(self) -> AuthRefresher | None:
        """Rebuilds triggers when their Secrets/TriggerAuthentications change (set by the
        operator; see :mod:`podscaler.controllers.triggers.refresh`). Such a rebuild is not a
        spec change: running Jobs are kept."""
        return self.keeper.refresher

    @refresher.setter
    def refresher(self, refresher: AuthRefresher | None) -> None:
        self.keeper.refresher = refresher

    # ---------------------------------------------------------------- lifecycle

    async def aclose(self) -> None:
        await self.informer.aclose()
        await self.loop.aclose()

    # ---------------------------------------------------------------- informer handlers

    @staticmethod
    def _key(obj: Mapping[str, Any]) -> tuple[str, str]:
        meta = obj.get("metadata") or {}
        return str(meta.get("namespace") or ""), str(meta.get("name") or "")

    async def _on_add(self, obj: dict[str, Any]) -> None:
        key = self._key(obj)
        if key in self.objects:
            await self._on_update(self.objects[key].obj, obj)
            return
        self.loop.add(key, ScaledJobContext(namespace=key[0], name=key[1], obj=obj))

    async def _on_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        ctx = self.objects.get(self._key(new))
        if ctx is None:
            await self._on_add(new)
            return
        self.loop.update(ctx, new)

    async def _on_delete(self, obj: dict[str, Any]) -> None:
        ctx = await self.loop.remove(self._key(obj))
        if ctx is None:
            return
        self.keeper.forget(ctx)
        self.metrics.forget(ctx.namespace, ctx.name, kind=SCALED_JOB)

    # ---------------------------------------------------------------- one poll

    async def evaluate(self, ctx: ScaledJobContext) -> JobDecision | None:
        """One poll of one ScaledJob; the decision, or ``None`` when it is not ready."""
        now = self.now()
        try:
            scaled_job = ScaledJob.model_validate(ctx.obj)
        except ValidationError as exc:
            fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors()[:3])
            await self._not_ready(ctx, now, f"invalid ScaledJob spec: {fields}")
            return None
        spec = scaled_job.spec
        scaling = spec.resolved()
        if self.keeper.stale(ctx):
            rebuilt = ctx.built_generation is not None
            try:
                await self.keeper.rebuild(
                    ctx,
                    triggers=spec.triggers,
                    workload={"spec": {"template": spec.job_target_ref.template}},
                    env_source_container=spec.env_source_container_name,
                )
            except TriggerConfigError as exc:
                await self._not_ready(ctx, now, str(exc))
                return None
            if rebuilt and not scaling.gradual_rollout:
                await self._delete_unfinished(ctx)
            self._event(ctx, Reason.ScaledJobReady, "triggers started")
        triggers = ctx.triggers
        assert triggers is not None
        poll = await self.keeper.poll(ctx, triggers)
        maximum = scaling.max_replica_count
        metrics: list[JobMetric] = []
        for observation in poll.observations:
            if observation.error is not None:
                self._event(
                    ctx,
                    Reason.TriggerError,
                    f"trigger {observation.name or observation.trigger_type} "
                    f"({observation.metric_name}): {observation.error}",
                )
                continue
            target = observation.target or 0.0
            metrics.append(
                job_metric(observation.value or 0.0, target, maximum, bool(observation.is_active))
            )
        jobs = await self._jobs(ctx)
        pods = await self._pods(ctx)
        conditions = scaling.pending_pod_conditions
        states = [(job, job_state(job, pods.get(_name(job), []), conditions)) for job in jobs]
        running = sum(1 for _, s in states if s in (JobState.RUNNING, JobState.PENDING))
        pending = sum(1 for _, s in states if s is JobState.PENDING)
        decision = decide_jobs(
            metrics,
            running=running,
            pending=pending,
            min_replica_count=scaling.min_replica_count,
            max_replica_count=maximum,
            settings=StrategySettings(
                scaling.scaling_strategy,
                scaling.queue_length_deduction,
                scaling.running_job_percentage,
            ),
            calculation=scaling.multiple_scalers_calculation,
        )
        ctx.last_decision = decision
        created = await self._create_jobs(ctx, scaled_job, decision.create)
        if created:
            self._event(ctx, Reason.JobsCreated, f"created {created} Jobs: {decision.reason}")
            log.info(
                "ScaledJob %s/%s: created %d Jobs (%d running or pending, strategy %s): %s",
                ctx.namespace,
                ctx.name,
                created,
                decision.running,
                decision.strategy,
                decision.reason,
            )
        for name in history_to_delete(
            states, scaling.successful_jobs_history_limit, scaling.failed_jobs_history_limit
        ):
            await self._delete_job(ctx, name)
        await self._write_status(ctx, now, decision)
        return decision

    # ---------------------------------------------------------------- Jobs

    async def _jobs(self, ctx: ScaledJobContext) -> list[dict[str, Any]]:
        answer = await self.kube.request(
            "GET",
            f"/apis/batch/v1/namespaces/{ctx.namespace}/jobs",
            params={"labelSelector": f"{JOB_LABEL}={ctx.name}"},
        )
        return [j for j in answer.get("items") or [] if isinstance(j, dict)]

    async def _pods(self, ctx: ScaledJobContext) -> dict[str, list[dict[str, Any]]]:
        answer = await self.kube.request(
            "GET",
            f"/api/v1/namespaces/{ctx.namespace}/pods",
            params={"labelSelector": f"{JOB_LABEL}={ctx.name}"},
        )
        by_job: dict[str, list[dict[str, Any]]] = {}
        for pod in answer.get("items") or []:
            job = _owning_job(pod)
            if job:
                by_job.setdefault(job, []).append(pod)
        return by_job

    async def _create_jobs(self, ctx: ScaledJobContext, scaled_job: ScaledJob, count: int) -> int:
        created = 0
        for _ in range(count):
            try:
                await self.kube.request(
                    "POST",
                    f"/apis/batch/v1/namespaces/{ctx.namespace}/jobs",
                    body=job_manifest(ctx.obj, scaled_job),
                )
            except KubeError as exc:
                self._event(ctx, Reason.JobCreateFailed, f"creating a Job failed: {exc}")
                self.metrics.object_error(ctx.namespace, ctx.name, kind=SCALED_JOB)
                break
            created += 1
        return created

    async def _delete_job(self, ctx: ScaledJobContext, name: str) -> None:
        try:
            await self.kube.request(
                "DELETE",
                f"/apis/batch/v1/namespaces/{ctx.namespace}/jobs/{name}",
                body={"propagationPolicy": "Background"},
            )
        except NotFound:
            return
        except KubeError as exc:
            log.warning("deleting Job %s/%s failed: %s", ctx.namespace, name, exc)

    async def _delete_unfinished(self, ctx: ScaledJobContext) -> None:
        for job in await self._jobs(ctx):
            if job_state(job) in (JobState.PENDING, JobState.RUNNING):
                await self._delete_job(ctx, _name(job))

    # ---------------------------------------------------------------- status and Events

    def _event(self, ctx: ScaledJobContext, reason: Reason, note: str) -> None:
        if self.recorder is not None:
            self.recorder.record(ctx.obj, reason, note)

    async def _write_status(
        self, ctx: ScaledJobContext, now: datetime, decision: JobDecision
    ) -> None:
        if decision.active:
            active = Condition(ACTIVE, ConditionStatus.TRUE, "ScalerActive", decision.reason)
        else:
            active = Condition(ACTIVE, ConditionStatus.FALSE, "ScalerNotActive", decision.reason)
        conditions = (
            Condition(
                READY, ConditionStatus.TRUE, "ScaledJobReady", "ScaledJob is defined correctly"
            ),
            active,
        )
        status: dict[str, Any] = {"observedGeneration": ctx.generation}
        if decision.active:
            status["lastActiveTime"] = format_time(now)
        await self._patch_status(ctx, now, status, conditions)

    async def _not_ready(self, ctx: ScaledJobContext, now: datetime, message: str) -> None:
        conditions = (
            Condition(READY, ConditionStatus.FALSE, Reason.ScaledJobCheckFailed.value, message),
            Condition(ACTIVE, ConditionStatus.FALSE, "ScalerNotActive", "not ready"),
        )
        await self._patch_status(ctx, now, {"observedGeneration": ctx.generation}, conditions)
        self._event(ctx, Reason.ScaledJobCheckFailed, message)
        self.metrics.object_error(ctx.namespace, ctx.name, kind=SCALED_JOB)

    async def _patch_status(
        self,
        ctx: ScaledJobContext,
        now: datetime,
        status: dict[str, Any],
        conditions: tuple[Condition, ...],
    ) -> None:
        previous = ctx.status if ctx.status is not None else (ctx.obj.get("status") or {})
        status["conditions"] = merge_conditions(previous.get("conditions"), conditions, now, None)
        if all(previous.get(k) == v for k, v in status.items()):
            return
        for line in condition_changes("ScaledJob", ctx.namespace, ctx.name, previous, status):
            log.info("%s", line)
        try:
            written = await patch_status(self.kube, SCALED_JOBS, ctx.namespace, ctx.name, status)
        except NotFound:
            return
        except KubeError as exc:
            log.warning("status of ScaledJob %s/%s not written: %s", ctx.namespace, ctx.name, exc)
            return
        ctx.status = dict(written.get("status") or {})


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _owning_job(pod: Mapping[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    for ref in meta.get("ownerReferences") or []:
        if ref.get("kind") == "Job":
            return str(ref.get("name") or "")
    labels = meta.get("labels") or {}
    return str(labels.get("batch.kubernetes.io/job-name") or labels.get("job-name") or "")


def _copied_labels(meta: Mapping[str, Any]) -> dict[str, str]:
    """The ScaledJob's labels that its Jobs carry: all but those the job-excluded-labels
    annotation lists (KEDA's ``scaledjob.keda.sh/job-excluded-labels``)."""
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations")
    excluded_text = JOB_EXCLUDED_LABELS.lookup(
        annotations if isinstance(annotations, Mapping) else None
    )
    excluded = set(excluded_text.split(",")) if excluded_text is not None else set()
    return {str(k): str(v) for k, v in labels.items() if k not in excluded}


def job_manifest(obj: Mapping[str, Any], scaled_job: ScaledJob) -> dict[str, Any]:
    """The Job a ScaledJob creates: its template, KEDA's label on the Job and its pods, and
    an owner reference so the Job goes when the ScaledJob does."""
    meta = obj.get("metadata") or {}
    name = str(meta.get("name") or "")
    spec = scaled_job.spec.job_target_ref.model_dump(by_alias=True, exclude_none=True)
    template = dict(spec.get("template") or {})
    template_meta = dict(template.get("metadata") or {})
    template_meta["labels"] = {**(template_meta.get("labels") or {}), JOB_LABEL: name}
    template["metadata"] = template_meta
    spec["template"] = template
    labels = {**_copied_labels(meta), JOB_LABEL: name}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "generateName": f"{name}-",
            "namespace": meta.get("namespace"),
            "labels": labels,
            "ownerReferences": [
                {
                    "apiVersion": f"{API_GROUP}/{API_VERSION}",
                    "kind": "ScaledJob",
                    "name": name,
                    "uid": meta.get("uid"),
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": spec,
    }
