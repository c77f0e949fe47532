"""The Job controller: run pods until ``completions`` succeed, or give up after
``backoffLimit`` failures.

``parallelism`` (default 1) pods run at once; with ``completions`` unset the Job is a work
queue: it completes when a pod has succeeded and none is still running, and starts no new pod
after the first success. What a job pod does (run for a while, or drain a queue) is its
workload profile's (``profiles.JobWork``); the kubelet ends it Succeeded or Failed.

Simplifications: pods never restart in place (``restartPolicy: Never`` semantics whatever the
template says), no pod backoff delay between failures, no ``activeDeadlineSeconds``, no
indexed completion mode, no ``ttlSecondsAfterFinished``.
"""

from __future__ import annotations

from typing import Any

from podscaler.sim.apiserver.store import Obj, rfc3339
from podscaler.sim.world.context import WorldContext
from podscaler.sim.world.podtemplates import pod_from_template
from podscaler.sim.world.state import Key, is_terminating, pod_phase

__all__ = ["job_finished", "reconcile_job"]

COMPONENT = "job-controller"


def job_finished(job: Obj) -> str | None:
    for condition in (job.get("status") or {}).get("conditions") or ():
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            return str(condition["type"])
    return None


def reconcile_job(ctx: WorldContext, key: Key) -> None:
    job = ctx.state.jobs.get(key)
    if job is None or is_terminating(job):
        return
    namespace, name = key
    spec = job.get("spec") or {}
    if spec.get("suspend"):
        return
    parallelism = int(spec.get("parallelism", 1))
    completions = spec.get("completions")
    backoff_limit = int(spec.get("backoffLimit", 6))
    pods = ctx.state.pods_owned_by(str(job["metadata"]["uid"]))
    active = [p for p in pods if not is_terminating(p) and pod_phase(p) in ("Pending", "Running")]
    succeeded = sum(1 for p in pods if pod_phase(p) == "Succeeded")
    failed = sum(1 for p in pods if pod_phase(p) == "Failed")
    finished = job_finished(job)
    stamp = rfc3339(ctx.server.now())
    status: dict[str, Any] = dict(job.get("status") or {})
    status.setdefault("startTime", stamp)
    new_condition: dict[str, Any] | None = None
    if finished is None:
        if failed > backoff_limit:
            for pod in active:
                ctx.writer.delete(ctx.kinds.pods, namespace, str(pod["metadata"]["name"]))
            active = []
            new_condition = {
                "type": "Failed",
                "status": "True",
                "reason": "BackoffLimitExceeded",
                "message": "Job has reached the specified backoff limit",
            }
            ctx.events.record(
                job,
                "Warning",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
                COMPONENT,
            )
        elif (completions is not None and succeeded >= int(completions)) or (
            completions is None
            and succeeded > 0
            and not active
            and not ctx.creations.in_flight(job)
        ):
            new_condition = {"type": "Complete", "status": "True", "reason": "", "message": ""}
            status["completionTime"] = stamp
            ctx.events.record(job, "Normal", "Completed", "Job completed", COMPONENT)
        else:
            remaining = (
                int(completions) - succeeded
                if completions is not None
                else (0 if succeeded else parallelism)
            )
            want = max(0, min(parallelism, remaining) - len(active) - ctx.creations.in_flight(job))
            template = spec.get("template") or {}
            uid = str(job["metadata"]["uid"])
            for _ in range(want):
                pod_name = f"{name}-{ctx.suffix()}"
                pod = pod_from_template(
                    template,
                    name=pod_name,
                    namespace=namespace,
                    owner=job,
                    workload=name,
                    extra_labels={
                        "job-name": name,
                        "batch.kubernetes.io/job-name": name,
                        "controller-uid": uid,
                        "batch.kubernetes.io/controller-uid": uid,
                    },
                )
                if not ctx.creations.create(
                    job, pod, namespace, f"Created pod: {pod_name}", COMPONENT
                ):
                    break
                if not ctx.creations.reserved((namespace, pod_name)):
                    active.append(pod)
    status["active"] = len(active)
    status["succeeded"] = succeeded
    status["failed"] = failed
    status["ready"] = 0
    if new_condition is not None:
        new_condition["lastProbeTime"] = stamp
        new_condition["lastTransitionTime"] = stamp
        status["conditions"] = [*(status.get("conditions") or []), new_condition]
    for field in ("active", "succeeded", "failed"):
        if not status[field]:
            status.pop(field)
    current = ctx.state.jobs.get(key)
    if current is not None and current.get("status") != status:
        ctx.writer.replace_status(ctx.kinds.jobs, current, status)
