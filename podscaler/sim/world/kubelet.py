"""The kubelet of every simulated node: pod lifecycle, graceful termination, OOM kills, node
readiness.

A bound pod goes ``Pending`` (ContainerCreating) → ``Running`` after its profile's
``start_seconds`` → ``Ready`` after ``ready_seconds`` more. A job pod then runs its work and
ends ``Succeeded`` or ``Failed``. A pod being deleted (``deletionTimestamp`` set; the API
server keeps a bound pod Terminating until its kubelet confirms) turns not Ready at once, gets
a ``Killing`` Event and, after ``min(stop_seconds, grace)`` — the deletion's grace period
(DeleteOptions' ``gracePeriodSeconds``, an Eviction's), else ``terminationGracePeriodSeconds``
— is DELETEd by the kubelet with grace 0, which removes it. A container
whose memory usage exceeds its limit is OOMKilled: ``lastState.terminated.reason:
OOMKilled``, ``restartCount`` +1, ``CrashLoopBackOff`` for 10 s doubling to 5 min, then it
starts again.

A new Node turns Ready ``node_ready_seconds`` after it registers; until then the scheduler sees
the implied not-ready taint. Pods bound to a Node that no longer exists are deleted (the pod
garbage collector's job upstream).

Simplifications: one state for all containers of a pod (they start, get ready, OOM and stop
together); no probes (readiness is a delay), no image pulls, no init containers, no eviction
under node pressure, no node heartbeats (a node is Ready until it is deleted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from podscaler.sim.apiserver.store import Obj, rfc3339
from podscaler.sim.world.context import WorldContext
from podscaler.sim.world.load import PodLimits, pod_limits
from podscaler.sim.world.profiles import WorkloadProfile
from podscaler.sim.world.resizing import (
    RESIZE_CONDITIONS,
    RESIZE_IN_PROGRESS,
    RESIZE_PENDING,
    decide,
    spec_resources,
)
from podscaler.sim.world.state import Key, is_terminating, pod_phase, workload_of

__all__ = ["Kubelet", "PodRun"]

COMPONENT = "kubelet"
MAX_BACKOFF_SECONDS = 300.0
#: How long actuating an accepted in-place resize takes, and how often a deferred one is retried.
RESIZE_ACTUATION_SECONDS = 1.0
RESIZE_RETRY_SECONDS = 10.0


@dataclass
class PodRun:
    """The kubelet's memory of one pod it runs."""

    uid: str
    key: Key
    workload: Key
    node: str
    profile: WorkloadProfile
    #: starting | running | ready | backoff | stopping | done
    stage: str = "starting"
    started_seconds: float = 0.0
    restarts: int = 0
    ip: str = ""
    limits: PodLimits = field(default_factory=lambda: PodLimits(""))
    #: Container name → the resources the kubelet has allocated (changed by in-place resize).
    allocated: dict[str, Any] = field(default_factory=dict)
    #: The spec resources of the resize being actuated, if any.
    resizing: dict[str, Any] | None = None


class Kubelet:
    def __init__(self, ctx: WorldContext, *, node_ready_seconds: float = 10.0) -> None:
        self.ctx = ctx
        self.node_ready_seconds = node_ready_seconds
        self.runs: dict[Key, PodRun] = {}
        #: workload → keys of its pods whose containers are up (running or ready)
        self.up_by_workload: dict[Key, set[Key]] = {}
        self._ips = 0
        self._node_ips: dict[str, str] = {}
        self._nodes_pending_ready: set[str] = set()

    # ------------------------------------------------------------------ nodes

    def sync_node(self, name: str) -> None:
        node = self.ctx.state.nodes.get(name)
        if node is None:
            self._node_ips.pop(name, None)
            return
        ready = any(
            c.get("type") == "Ready" for c in (node.get("status") or {}).get("conditions") or ()
        )
        if ready or name in self._nodes_pending_ready:
            return
        self._nodes_pending_ready.add(name)
        uid = node["metadata"]["uid"]
        if name in self.ctx.state.nodes_up_at_start:
            self._node_ready(name, uid)
            return
        self.ctx.timers.at(
            self.ctx.monotonic() + self.node_ready_seconds, lambda: self._node_ready(name, uid)
        )

    def _node_ready(self, name: str, uid: str) -> None:
        self._nodes_pending_ready.discard(name)
        node = self.ctx.state.nodes.get(name)
        if node is None or node["metadata"]["uid"] != uid:
            return
        self._ips += 1
        ip = f"10.0.{self._ips // 250}.{self._ips % 250 + 1}"
        self._node_ips[name] = ip
        stamp = rfc3339(self.ctx.server.now())
        status = dict(node.get("status") or {})

        def condition(type_: str, value: str, reason: str, message: str) -> dict[str, Any]:
            return {
                "type": type_,
                "status": value,
                "reason": reason,
                "message": message,
                "lastHeartbeatTime": stamp,
                "lastTransitionTime": stamp,
            }

        status["conditions"] = [
            condition(
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            condition(
                "DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"
            ),
            condition(
                "PIDPressure",
                "False",
                "KubeletHasSufficientPID",
                "kubelet has sufficient PID available",
            ),
            condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ]
        status["addresses"] = [
            {"type": "InternalIP", "address": ip},
            {"type": "Hostname", "address": name},
        ]
        status["nodeInfo"] = {
            "kubeletVersion": "v1.32.0-podscaler-sim",
            "kubeProxyVersion": "v1.32.0-podscaler-sim",
            "containerRuntimeVersion": "sim://1.0",
            "operatingSystem": "linux",
            "architecture": "amd64",
            "osImage": "podscaler simulated node",
            "kernelVersion": "6.1.0-sim",
            "machineID": uid.replace("-", ""),
            "systemUUID": uid,
            "bootID": uid,
        }
        self.ctx.writer.replace_status(self.ctx.kinds.nodes, node, status)
        self.ctx.events.record(
            node, "Normal", "NodeReady", f"Node {name} status is now: NodeReady", COMPONENT
        )

    # ------------------------------------------------------------------ pods

    def sync_pod(self, key: Key) -> None:
        state = self.ctx.state
        pod = state.pods.get(key)
        run = self.runs.get(key)
        if pod is None:
            if run is not None:
                self._forget(run)
            return
        uid = str(pod["metadata"]["uid"])
        if run is not None and run.uid != uid:
            self._forget(run)
            run = None
        node = (pod.get("spec") or {}).get("nodeName")
        if is_terminating(pod):
            if run is None or run.stage == "done" or node not in state.nodes:
                self._release(pod)
            elif run.stage != "stopping":
                self._stop(pod, run)
            return
        if not node:
            return
        if node not in state.nodes:
            # Bound to a node that is gone: the pod garbage collector force-deletes it.
            self.ctx.writer.delete(self.ctx.kinds.pods, key[0], key[1], grace_seconds=0)
            return
        if run is None and pod_phase(pod) == "Pending":
            self._admit(pod, str(node))
        elif run is not None and run.stage not in ("done", "stopping"):
            wanted = spec_resources(pod)
            if wanted != run.allocated and wanted != run.resizing:
                self._resize(pod, run)
            elif wanted == run.allocated and run.resizing is None:
                self._clear_pending_resize(pod)

    # ------------------------------------------------------------------ in-place resize

    def _resize(self, pod: Obj, run: PodRun, *, retry: bool = False) -> None:
        """Accept (and actuate), defer or refuse a resize the spec asks for (``resizing.py``)."""
        state = self.ctx.state
        node = state.nodes.get(run.node)
        if node is None:
            return
        others = [
            state.pods[k]
            for k in state.pods_by_node.get(run.node, ())
            if k != run.key and k in state.pods
        ]
        decision = decide(pod, node, others)
        status = dict(pod.get("status") or {})
        conditions = [
            c for c in status.get("conditions") or () if c.get("type") not in RESIZE_CONDITIONS
        ]
        stamp = rfc3339(self.ctx.server.now())
        if decision.outcome == "Accepted":
            run.resizing = spec_resources(pod)
            conditions.append(
                {
                    "type": RESIZE_IN_PROGRESS,
                    "status": "True",
                    "lastProbeTime": None,
                    "lastTransitionTime": stamp,
                }
            )
            self.ctx.timers.at(
                self.ctx.monotonic() + RESIZE_ACTUATION_SECONDS, lambda: self._resized(run)
            )
        else:
            before = next(
                (
                    c
                    for c in (pod.get("status") or {}).get("conditions") or ()
                    if c.get("type") == RESIZE_PENDING
                ),
                None,
            )
            if before is not None and before.get("reason") == decision.outcome:
                # Already reported. A deferred resize has one retry timer running.
                if retry and decision.outcome == "Deferred":
                    self.ctx.timers.at(
                        self.ctx.monotonic() + RESIZE_RETRY_SECONDS,
                        lambda: self._retry_resize(run),
                    )
                return
            conditions.append(
                {
                    "type": RESIZE_PENDING,
                    "status": "True",
                    "lastProbeTime": None,
                    "lastTransitionTime": stamp,
                    "reason": decision.outcome,
                    "message": decision.message,
                }
            )
            if decision.outcome == "Deferred":
                self.ctx.timers.at(
                    self.ctx.monotonic() + RESIZE_RETRY_SECONDS, lambda: self._retry_resize(run)
                )
        status["conditions"] = conditions
        self.ctx.writer.replace_status(self.ctx.kinds.pods, pod, status)

    def _clear_pending_resize(self, pod: Obj) -> None:
        """The spec went back to what is allocated: no resize is pending any more."""
        conditions = (pod.get("status") or {}).get("conditions") or ()
        if not any(c.get("type") == RESIZE_PENDING for c in conditions):
            return
        status = dict(pod.get("status") or {})
        status["conditions"] = [c for c in conditions if c.get("type") != RESIZE_PENDING]
        self.ctx.writer.replace_status(self.ctx.kinds.pods, pod, status)

    def _retry_resize(self, run: PodRun) -> None:
        pod = self._current(run)
        if pod is None or run.stage in ("done", "stopping"):
            return
        wanted = spec_resources(pod)
        if wanted == run.allocated or wanted == run.resizing:
            return
        self._resize(pod, run, retry=True)

    def _resized(self, run: PodRun) -> None:
        pod = self._current(run)
        if pod is None or run.resizing is None:
            return
        run.allocated, run.resizing = run.resizing, None
        run.limits = pod_limits(pod)
        status = dict(pod.get("status") or {})
        status["conditions"] = [
            c for c in status.get("conditions") or () if c.get("type") not in RESIZE_CONDITIONS
        ]
        statuses = []
        for entry in status.get("containerStatuses") or ():
            entry = dict(entry)
            self._with_resources(entry, run)
            statuses.append(entry)
        status["containerStatuses"] = statuses
        self.ctx.writer.replace_status(self.ctx.kinds.pods, pod, status)
        self.ctx.events.record(pod, "Normal", "ResizeCompleted", "Pod resized in place", COMPONENT)
        # The spec may have moved on while this one was actuated.
        self.sync_pod(run.key)

    @staticmethod
    def _with_resources(entry: dict[str, Any], run: PodRun) -> None:
        resources = run.allocated.get(str(entry.get("name")))
        if resources is None:
            return
        entry["resources"] = resources
        if resources.get("requests"):
            entry["allocatedResources"] = resources["requests"]
        else:
            entry.pop("allocatedResources", None)

    def _forget(self, run: PodRun) -> None:
        self.runs.pop(run.key, None)
        self.up_by_workload.get(run.workload, set()).discard(run.key)

    def _current(self, run: PodRun) -> Obj | None:
        pod = self.ctx.state.pods.get(run.key)
        if (
            pod is None
            or str(pod["metadata"]["uid"]) != run.uid
            or self.runs.get(run.key) is not run
        ):
            return None
        return pod

    def _admit(self, pod: Obj, node: str) -> None:
        key = (str(pod["metadata"]["namespace"]), str(pod["metadata"]["name"]))
        workload = workload_of(pod)
        profile = self.ctx.profiles.get(workload).for_pod(pod)
        run = PodRun(
            uid=str(pod["metadata"]["uid"]),
            key=key,
            workload=workload,
            node=node,
            profile=profile,
            limits=pod_limits(pod),
            allocated=spec_resources(pod),
        )
        self.runs[key] = run
        self._ips += 1
        run.ip = f"10.{1 + self._ips // 65000}.{(self._ips // 250) % 256}.{self._ips % 250 + 1}"
        status = self._status(pod, run, phase="Pending", waiting="ContainerCreating")
        self.ctx.writer.replace_status(self.ctx.kinds.pods, pod, status)
        self.ctx.timers.at(self.ctx.monotonic() + profile.start_seconds, lambda: self._start(run))

    def _start(self, run: PodRun) -> None:
        pod = self._current(run)
        if pod is None or run.stage not in ("starting", "backoff"):
            return
        run.stage = "running"
        run.started_seconds = self.ctx.monotonic()
        self.up_by_workload.setdefault(run.workload, set()).add(run.key)
        status = self._status(pod, run, phase="Running")
        self.ctx.writer.replace_status(self.ctx.kinds.pods, pod, status)
        if run.restarts == 0:
            self.ctx.events.record(pod, "Normal", "Started", "Started container", COMPONENT)
        self.ctx.timers.at(
            self.ctx.monotonic() + run.profile.ready_seconds, lambda: self._ready(run)
        )
        job = run.profile.job
        if is_job_pod(pod) and not (job.from_queue and run.profile.queue):
            self.ctx.timers.at(
                run.started_seconds + job.run_seconds,
                lambda: self.finish(run, succeeded=self.ctx.rng.random() >= job.failure_rate),
            )

    def _ready(self, run: PodRun) -> None:
        pod = self._current(run)
        if pod is None or run.stage != "running":
            return
        run.stage = "ready"
        status = self._status(pod, run, phase="Running", ready=True)
        self.ctx.writer.replace_status(self.ctx.kinds.pods, pod, status)

    def finish(self, run: PodRun, *, succeeded: bool) -> None:
        """A job pod's work ended."""
        pod = self._current(run)
        if pod is None or run.stage not in ("running", "ready"):
            return
        run.stage = "done"
        self.up_by_workload.get(run.workload, set()).discard(run.key)
        self.ctx.server.metrics.clear_pod(run.key[0], run.key[1])
        status = self._status(
            pod,
            run,
            phase="Succeeded" if succeeded else "Failed",
            terminated=("Completed", 0) if succeeded else ("Error", 1),
        )
        self.ctx.writer.replace_status(self.ctx.kinds.pods, pod, status)

    def oom_kill(self, run: PodRun) -> None:
        """The container used more memory than its limit: kill it and back off."""
        pod = self._current(run)
        if pod is None or run.stage not in ("running", "ready"):
            return
        run.stage = "backoff"
        run.restarts += 1
        self.up_by_workload.get(run.workload, set()).discard(run.key)
        backoff = min(10.0 * 2 ** (run.restarts - 1), MAX_BACKOFF_SECONDS)
        status = self._status(pod, run, phase="Running", waiting="CrashLoopBackOff", oom=True)
        self.ctx.writer.replace_status(self.ctx.kinds.pods, pod, status)
        node = self.ctx.state.nodes.get(run.node)
        if node is not None:
            self.ctx.events.record(
                node,
                "Warning",
                "OOMKilling",
                f"Memory cgroup out of memory: Killed process in pod {run.key[0]}/{run.key[1]}",
                COMPONENT,
            )
        self.ctx.events.record(
            pod, "Warning", "BackOff", "Back-off restarting failed container", COMPONENT
        )
        self.ctx.timers.at(self.ctx.monotonic() + backoff, lambda: self._start(run))

    def _stop(self, pod: Obj, run: PodRun) -> None:
        run.stage = "stopping"
        self.up_by_workload.get(run.workload, set()).discard(run.key)
        delay = min(run.profile.stop_seconds, float(grace_seconds(pod)))
        self.ctx.events.record(pod, "Normal", "Killing", "Stopping container", COMPONENT)
        if pod_phase(pod) == "Running":
            status = self._status(pod, run, phase="Running", ready=False)
            self.ctx.writer.replace_status(self.ctx.kinds.pods, pod, status)
        self.ctx.timers.at(self.ctx.monotonic() + delay, lambda: self._stopped(run))

    def _stopped(self, run: PodRun) -> None:
        pod = self._current(run)
        if pod is None:
            return
        run.stage = "done"
        self._release(pod)

    def _release(self, pod: Obj) -> None:
        """The pod's containers are stopped (or never ran): confirm its deletion as a kubelet
        does, with a DELETE of grace 0 for this uid; the store then removes it (once any
        finalizers of others are gone)."""
        meta = pod["metadata"]
        if meta.get("deletionGracePeriodSeconds") == 0 and meta.get("finalizers"):
            return  # confirmed already; waiting for other finalizers
        self.ctx.writer.delete(
            self.ctx.kinds.pods,
            str(meta["namespace"]),
            str(meta["name"]),
            grace_seconds=0,
            uid=str(meta["uid"]),
        )

    # ------------------------------------------------------------------ status

    def _status(
        self,
        pod: Obj,
        run: PodRun,
        *,
        phase: str,
        ready: bool = False,
        waiting: str | None = None,
        terminated: tuple[str, int] | None = None,
        oom: bool = False,
    ) -> dict[str, Any]:
        stamp = rfc3339(self.ctx.server.now())
        old = pod.get("status") or {}
        previous = {c.get("type"): c for c in old.get("conditions") or ()}

        def condition(type_: str, ok: bool, reason: str | None = None) -> dict[str, Any]:
            value = "True" if ok else "False"
            before = previous.get(type_)
            result: dict[str, Any] = {
                "type": type_,
                "status": value,
                "lastProbeTime": None,
                "lastTransitionTime": before.get("lastTransitionTime")
                if before and before.get("status") == value
                else stamp,
            }
            if reason:
                result["reason"] = reason
            return result

        started = phase == "Running" and waiting is None
        done_reason = "PodCompleted" if terminated else None
        status: dict[str, Any] = {
            "phase": phase,
            "conditions": [
                condition("PodReadyToStartContainers", True),
                condition("Initialized", True, done_reason),
                condition("Ready", ready, done_reason or (None if ready else "ContainersNotReady")),
                condition(
                    "ContainersReady",
                    ready,
                    done_reason or (None if ready else "ContainersNotReady"),
                ),
                condition("PodScheduled", True),
            ],
            "hostIP": self._node_ips.get(run.node, ""),
            "podIP": run.ip,
            "podIPs": [{"ip": run.ip}],
            "qosClass": old.get("qosClass", "BestEffort"),
            "startTime": old.get("startTime", stamp),
        }
        status["conditions"].extend(
            c for c in old.get("conditions") or () if c.get("type") in RESIZE_CONDITIONS
        )
        statuses = []
        previous_statuses = {s.get("name"): s for s in old.get("containerStatuses") or ()}
        for container in (pod.get("spec") or {}).get("containers") or ():
            name = str(container.get("name"))
            before = previous_statuses.get(name) or {}
            state: dict[str, Any]
            if terminated is not None:
                reason, code = terminated
                state = {
                    "terminated": {
                        "exitCode": code,
                        "reason": reason,
                        "startedAt": (before.get("state") or {})
                        .get("running", {})
                        .get("startedAt", stamp),
                        "finishedAt": stamp,
                    }
                }
            elif waiting is not None:
                state = {"waiting": {"reason": waiting}}
            else:
                running = (before.get("state") or {}).get("running")
                state = {"running": {"startedAt": running["startedAt"] if running else stamp}}
            entry: dict[str, Any] = {
                "name": name,
                "image": container.get("image", ""),
                "imageID": f"sim://{container.get('image', '')}",
                "containerID": f"sim://{run.uid[:12]}-{name}-{run.restarts}",
                "ready": ready,
                "started": started,
                "restartCount": run.restarts,
                "state": state,
            }
            if oom:
                entry["lastState"] = {
                    "terminated": {
                        "exitCode": 137,
                        "reason": "OOMKilled",
                        "startedAt": (before.get("state") or {})
                        .get("running", {})
                        .get("startedAt", stamp),
                        "finishedAt": stamp,
                    }
                }
            elif before.get("lastState"):
                entry["lastState"] = before["lastState"]
            self._with_resources(entry, run)
            statuses.append(entry)
        status["containerStatuses"] = statuses
        return status


def is_job_pod(pod: Obj) -> bool:
    return any(
        ref.get("kind") == "Job" and ref.get("controller")
        for ref in pod["metadata"].get("ownerReferences") or ()
    )


def grace_seconds(pod: Obj) -> int:
    """How long the kubelet gives a pod being deleted: the deletion's own grace period (the
    API server set it from the DeleteOptions or the Eviction — which the node autoscaler caps
    at ``--max-graceful-termination-sec`` — else from the pod), or the pod's
    ``terminationGracePeriodSeconds`` (30)."""
    meta = pod.get("metadata") or {}
    given = meta.get("deletionGracePeriodSeconds")
    if meta.get("deletionTimestamp") and isinstance(given, int) and given >= 0:
        return given
    own = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
    return own if isinstance(own, int) and own >= 0 else 30
