"""Every Event reason podscaler emits, in one place.

Reasons are an API: users ``kubectl get events --field-selector reason=...`` and alert on
them, so they are declared once, in UpperCamelCase, each with the situation that emits it,
and a test keeps the list and its documentation complete. Names mirror KEDA's events
(``KEDAScaleTargetActivated`` → :attr:`Reason.ScaleTargetActivated`, …) without the
``KEDA`` prefix, so a KEDA user finds the same story under familiar words.

They live in ``api`` because deciding an Event is the engines' business and recording it the
controllers': the engines' decisions carry a :class:`Reason` (never a string a controller
translates), and :attr:`Reason.event_type` is the one place that says which are Warnings.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["EventType", "Reason"]


class EventType(StrEnum):
    """The two Event types Kubernetes knows."""

    Normal = "Normal"
    Warning = "Warning"


class Reason(StrEnum):
    """Event reasons; the attribute docstring says when each is emitted."""

    ScaledObjectReady = "ScaledObjectReady"
    """A ScaledObject passed validation, its scale target was found and its triggers started
    (KEDA: ``KEDAScalersStarted``)."""

    ScaledObjectCheckFailed = "ScaledObjectCheckFailed"
    """A ScaledObject's spec is invalid (bad trigger metadata, min > max, duplicate trigger
    names, a formula that does not parse); the message names the field."""

    ScaledObjectDeleted = "ScaledObjectDeleted"
    """A ScaledObject was deleted and its triggers stopped (KEDA: ``KEDAScalersStopped``)."""

    ScaleTargetNotFound = "ScaleTargetNotFound"
    """The ``scaleTargetRef`` names an object that does not exist, or a kind that is not
    served."""

    ScaleTargetNotScalable = "ScaleTargetNotScalable"
    """The ``scaleTargetRef`` kind exists but declares no ``/scale`` subresource."""

    ScaleTargetAlreadyManaged = "ScaleTargetAlreadyManaged"
    """Another ScaledObject (the older one) already scales the same workload; this one is
    refused and stays not Ready until the other goes away (KEDA's admission check)."""

    TriggerError = "TriggerError"
    """A trigger failed to return metrics or activity (KEDA: ``KEDAScalerFailed``); the
    message carries the trigger name and the error, never credentials."""

    TriggerMetadataIgnored = "TriggerMetadataIgnored"
    """A trigger's metadata holds keys its type does not read (a misspelling such as
    ``queueLenght``); they are ignored. Once per generation, as ``podscaler validate`` warns
    (KEDA: ``KEDAScalersInfo``)."""

    MetricSourceFailed = "MetricSourceFailed"
    """Serving an external metric to the HPA failed (KEDA: ``KEDAMetricSourceFailed``)."""

    ScaleTargetActivated = "ScaleTargetActivated"
    """The target was scaled up from zero (or from the idle count) because a trigger became
    active (KEDA: ``KEDAScaleTargetActivated``)."""

    ScaleTargetDeactivated = "ScaleTargetDeactivated"
    """The target was scaled to zero (or to the idle count) after the cooldown with no active
    trigger (KEDA: ``KEDAScaleTargetDeactivated``)."""

    ScaleTargetActivationFailed = "ScaleTargetActivationFailed"
    """Scaling the target up from zero failed (KEDA: ``KEDAScaleTargetActivationFailed``)."""

    ScaleTargetDeactivationFailed = "ScaleTargetDeactivationFailed"
    """Scaling the target to zero failed (KEDA: ``KEDAScaleTargetDeactivationFailed``)."""

    ScaledTargetScaled = "ScaledTargetScaled"
    """In direct mode, podscaler changed the target's replicas; the message gives old and new
    counts and the rule that bound the decision."""

    ScaleFailed = "ScaleFailed"
    """Writing the target's ``/scale`` failed (in any mode)."""

    FallbackActivated = "FallbackActivated"
    """Triggers failed more than ``fallback.failureThreshold`` times, so the fallback replica
    count applies (KEDA: ``ScaledObjectFallbackActivated``)."""

    FallbackDeactivated = "FallbackDeactivated"
    """Triggers recovered and fallback no longer applies (KEDA:
    ``ScaledObjectFallbackDeactivated``)."""

    Paused = "Paused"
    """Scaling was paused by the ``autoscaling.keda.sh/paused`` or ``paused-replicas``
    annotation (KEDA: ``ScaledObjectPaused``)."""

    Unpaused = "Unpaused"
    """The pause annotation was removed and scaling resumed (KEDA: ``ScaledObjectUnpaused``)."""

    LeaderElected = "LeaderElected"
    """This operator replica acquired the leader Lease and started singleton work."""

    LeaderLost = "LeaderLost"
    """This operator replica lost the leader Lease (renew deadline passed or another holder
    took it) and stopped singleton work."""

    ScaledJobReady = "ScaledJobReady"
    """A ScaledJob passed validation and its triggers started."""

    ScaledJobCheckFailed = "ScaledJobCheckFailed"
    """A ScaledJob's spec or triggers are invalid (bad metadata, a missing Secret or key of
    its TriggerAuthentication); the message names the field, never a value."""

    JobsCreated = "JobsCreated"
    """A ScaledJob created Jobs for pending events; the message says how many and why."""

    JobCreateFailed = "JobCreateFailed"
    """Creating a Job of a ScaledJob failed (the API refused the job template)."""

    ProportionalScalerReady = "ProportionalScalerReady"
    """A ProportionalScaler's parameters (from its spec or its ConfigMap) were accepted and are
    now in force; the message says the mode and where they came from."""

    ProportionalParametersInvalid = "ProportionalParametersInvalid"
    """A ProportionalScaler's spec or its CPA ConfigMap holds parameters cluster-proportional-
    autoscaler would refuse; the message gives CPA's error and whether the last good parameters
    stay in force."""

    ProportionalConfigMapNotFound = "ProportionalConfigMapNotFound"
    """The ConfigMap a ProportionalScaler (or ``--configmap``) names does not exist; the last
    good parameters, if any, stay in force."""

    ProportionalConfigMapCreated = "ProportionalConfigMapCreated"
    """``podscaler run --configmap … --default-params …`` created the missing CPA ConfigMap
    from the default parameters, as cluster-proportional-autoscaler does."""

    ProportionalTargetScaled = "ProportionalTargetScaled"
    """A ProportionalScaler changed its target's replicas; the message gives old and new
    counts, the nodes and cores seen, and the formula term or ladder step that decided."""

    VerticalRecommendationChanged = "VerticalRecommendationChanged"
    """A VerticalScaler's first recommendation, or one whose target moved by 10 % or more
    from the last announced; the message gives each container's new target."""

    VerticalScalerConfigUnsupported = "VerticalScalerConfigUnsupported"
    """A VerticalScaler cannot be acted on: its target does not exist or publishes no
    selector, its spec is invalid, or another VerticalScaler already covers the same workload
    (the older one wins); ``ConfigUnsupported`` says the same in its status."""

    VerticalCheckpointInvalid = "VerticalCheckpointInvalid"
    """A VerticalScalerCheckpoint could not be restored (another format version, malformed
    content); that container's history starts afresh and the checkpoint is rewritten."""

    EvictedByVerticalScaler = "EvictedByVerticalScaler"
    """On a pod: the vertical updater evicted it (through the Eviction API, so
    PodDisruptionBudgets hold) to re-create it with the recommended requests (upstream:
    ``EvictedByVPA``); on the VerticalScaler, the same with the pod's name."""

    VerticalEvictionRefused = "VerticalEvictionRefused"
    """The vertical updater asked to evict a pod and the API refused (a PodDisruptionBudget
    allows no disruption now, or another error); it tries again next pass."""

    VerticalUpdateWaitingForAdmission = "VerticalUpdateWaitingForAdmission"
    """Pods are outside their recommendation but nothing would give re-created pods the new
    requests (no admission webhook is serving), so the updater evicts nothing, as upstream's
    updater does while its admission controller is not running."""

    VerticalInPlaceFallback = "VerticalInPlaceFallback"
    """InPlaceOrRecreate: a pod could not be resized in place (the kubelet said Infeasible,
    or Deferred for longer than 5 minutes, or the cluster refused ``pods/resize``), so the
    updater evicts it instead; the message says which."""

    VerticalInPlaceSkipped = "VerticalInPlaceSkipped"
    """InPlace: a pod's resize is Infeasible (or in-place resize is not available), and this
    mode never evicts; the pod is tried again when the recommendation asks for less."""

    VerticalAdmissionMissed = "VerticalAdmissionMissed"
    """A pod of a VerticalScaler in an admitting mode was created while podscaler's admission
    webhook served, without passing through it (the API server could not reach it in time:
    its ``failurePolicy: Ignore`` let the pod through with its own requests)."""

    # --- node autoscaling: Cluster Autoscaler's reasons, word for word, so filters and
    # alerts written for CA keep working (reference/cluster-autoscaler.md §5.2)

    TriggeredScaleUp = "TriggeredScaleUp"
    """On a pending pod: the node autoscaler grew a node group for it; the message names the
    group and its size change, ``pod triggered scale-up: [{general 3->5 (max: 6)}]``."""

    NotTriggerScaleUp = "NotTriggerScaleUp"
    """On a pending pod, in a loop without a scale-up: no node group can take it; the message
    counts each reason over the groups (``pod didn't trigger scale-up: 2 Insufficient cpu,
    1 max node group size reached``)."""

    ScaledUpGroup = "ScaledUpGroup"
    """On the status ConfigMap: a node group's target size was raised (``Scale-up: setting
    group general size to 5 instead of 3 (max: 6)``)."""

    FailedToScaleUpGroup = "FailedToScaleUpGroup"
    """On the status ConfigMap: the provider refused to raise a group's size (throttled, bounds,
    the group is gone); the group is backed off."""

    ScaleUpFailed = "ScaleUpFailed"
    """On the status ConfigMap: instances asked of a group will not come (a failed launch such
    as InsufficientInstanceCapacity); the group is backed off and the capacity given back, so
    the next expander choice can win."""

    ScaleUpTimedOut = "ScaleUpTimedOut"
    """On the status ConfigMap: nodes asked of a group did not register within
    ``--max-node-provision-time``; the scale-up is reverted and the group backed off."""

    FailedToRevertScaleUp = "FailedToRevertScaleUp"
    """On the status ConfigMap: lowering a group's target after a timed-out scale-up failed;
    it is tried again on the next loop."""

    ScaleDown = "ScaleDown"
    """On a node being removed (tainted, drained, deleted: each step says which) and on each
    pod evicted from it (``deleting pod for node scale down``); on the status ConfigMap, the
    removal with the node's utilization."""

    ScaleDownEmpty = "ScaleDownEmpty"
    """On the status ConfigMap: an empty node is being removed."""

    ScaleDownFailed = "ScaleDownFailed"
    """On a node (or an evicted pod) whose removal failed: tainting, an eviction a
    PodDisruptionBudget kept refusing, or the provider's delete; the node is untainted and
    stays."""

    ScaleDownBlocked = "ScaleDownBlocked"
    """On an under-used node that is not removed, with the rule that keeps it and, when a pod
    does, the pod and its drain rule (``safe-to-evict=false``, a PodDisruptionBudget, no
    controller, local storage, no room elsewhere) — podscaler's addition: CA says this only
    in its logs."""

    MaxNodesTotalReached = "MaxNodesTotalReached"
    """On the status ConfigMap: ``--max-nodes-total`` capped or prevented a scale-up."""

    ClusterUnhealthy = "ClusterUnhealthy"
    """On the status ConfigMap: more than ``--ok-total-unready-count`` nodes and more than
    ``--max-total-unready-percentage`` of them are unready, so the node autoscaler waits."""

    PriorityConfigMapInvalid = "PriorityConfigMapInvalid"
    """On the ``cluster-autoscaler-priority-expander`` ConfigMap: its ``priorities`` cannot be
    read; the last good configuration stays in force."""

    PriorityConfigMapNotMatchedGroup = "PriorityConfigMapNotMatchedGroup"
    """On the priority ConfigMap: a node group matches none of its expressions and is not
    used by the priority expander."""

    PriorityConfigMapNoGroupMatched = "PriorityConfigMapNoGroupMatched"
    """On the priority ConfigMap: no expansion option matches any expression, so the priority
    expander filters nothing out."""

    @property
    def event_type(self) -> EventType:
        """The Event type this reason is normally reported with."""
        return EventType.Warning if self in _WARNINGS else EventType.Normal


_WARNINGS: frozenset[Reason] = frozenset(
    {
        Reason.ScaledObjectCheckFailed,
        Reason.ScaleTargetNotFound,
        Reason.ScaleTargetNotScalable,
        Reason.ScaleTargetAlreadyManaged,
        Reason.TriggerError,
        Reason.TriggerMetadataIgnored,
        Reason.MetricSourceFailed,
        Reason.ScaleTargetActivationFailed,
        Reason.ScaleTargetDeactivationFailed,
        Reason.ScaleFailed,
        Reason.FallbackActivated,
        Reason.LeaderLost,
        Reason.ScaledJobCheckFailed,
        Reason.JobCreateFailed,
        Reason.ProportionalParametersInvalid,
        Reason.ProportionalConfigMapNotFound,
        Reason.VerticalScalerConfigUnsupported,
        Reason.VerticalCheckpointInvalid,
        Reason.VerticalEvictionRefused,
        Reason.VerticalAdmissionMissed,
        Reason.FailedToScaleUpGroup,
        Reason.ScaleUpFailed,
        Reason.ScaleUpTimedOut,
        Reason.FailedToRevertScaleUp,
        Reason.ScaleDownFailed,
        Reason.MaxNodesTotalReached,
        Reason.ClusterUnhealthy,
        Reason.PriorityConfigMapInvalid,
        Reason.PriorityConfigMapNotMatchedGroup,
        Reason.PriorityConfigMapNoGroupMatched,
    }
)
