"""Active-active replicas: ScaledObjects sharded over coordination.k8s.io/v1 Leases.

Design (issue 16).

* **Membership.** Each replica holds its own Lease ``podscaler-shard-<identity>`` in the
  operator namespace (label ``podscaler.dev/shard-member``; ``holderIdentity`` = pod name; its
  metrics API address in the annotation ``podscaler.dev/address``) and renews it every retry
  period, listing the members' Leases in the same cycle. A member is *live* while its Lease
  changed less than ``leaseDurationSeconds`` ago *as this replica observed it* (loop clock, as
  client-go judges a leader Lease: replicas' wall clocks may disagree). See
  :mod:`.membership`.
* **Assignment.** Each object's ``namespace/name`` goes to the live member with the highest
  rendezvous weight (:mod:`.rendezvous`, pure): every replica computes the same answer from
  the same member set, with no coordination, and a join or a leave moves only the objects
  that go to the joiner or came from the leaver (~1/N).
* **Fencing** (never two writers on one target):
  - a replica works only while its view is fresh: a renew-and-list cycle whose renewal was
    sent less than ``renew_deadline`` ago succeeded. A replica that cannot renew (a partition)
    owns nothing from then on, before its Lease can expire for anyone else; one whose renewal
    is merely late (answered within 0.8 of the lease after the previous one was sent) takes
    its objects back at once, since nobody can have taken them;
  - an old owner stops an object the moment its view says it is no longer the owner (the poll
    loop cancels the object's task and forgets its in-memory state);
  - a leaver's objects are taken at once only when it is gone: its Lease expired (it stopped
    writing a renew deadline before; "expired" judged only from a list that started late
    enough to show any renewal it still works by) or it was deleted by the leaver after it
    stopped;
  - a joiner takes objects from live members only after one lease duration since it joined:
    by then every live member either saw it (and stopped those objects) or fenced itself.
* **Handover state** is what a restart has: the new owner builds a fresh context from the
  object (status ``lastActiveTime``, the fallback counter and the HPA history annotations are
  read back as after a restart); the old owner drops its context the same way.
* **VerticalScalers** shard the same way: every replica's recommender resolves every scaler and
  claims every pod, only the owner learns, recommends and checkpoints
  (:mod:`podscaler.controllers.vertical.recommender`, "Sharding"); the admission webhook
  answers on every replica from the scalers' status, its certificate issued from the shared CA.
* **Singletons** (the node autoscaler, CPA, the VPA updater, ScaledJobs) stay under their
  leader Leases. Forecast headroom offered by a ScaledObject polled on another replica than
  the node autoscaler's reaches it through the object's ``status.forecastHeadroom`` (with an
  expiry, so a dead owner's offer lapses): :mod:`podscaler.controllers.triggers.published`.
* **Memory**: a replica holds contexts (specs, triggers, HPA history) only for the objects it
  owns; the others are keys beside the informer's copy, and cached scale targets are slim
  (:func:`podscaler.controllers.scaledobject.targets.slim_target`).
* **Static sharding** (``--shard-selector``, Flux-style): the ScaledObject informer lists only
  the objects with the label; no Leases. Exclusive with ``--shard``.
* **The metrics API** answers on every replica: see :mod:`.forwarding`.
"""

from podscaler.controllers.sharding.membership import Member, Membership, MembershipSettings
from podscaler.controllers.sharding.rendezvous import moved, owner, weight

__all__ = ["Member", "Membership", "MembershipSettings", "moved", "owner", "weight"]
