"""``podscaler run``: the operator process, wired from its parts.

What runs:

* the ScaledObject controller (direct and hpa modes), over one namespace or all, and the
  ScaledJob controller beside it (not under ``--dry-run``: it creates Jobs);
* the ProportionalScaler controller (``podscaler.controllers.proportional``) when its CRD is
  installed (``--proportional/--no-proportional`` force it), and for CPA's own
  ``--configmap/--target`` flags;
* the VerticalScaler recommender and updater (``podscaler.controllers.vertical``) when their
  CRD is installed (``--vertical/--no-vertical`` force it);
* with ``--metrics-api-port`` (the manifests pass 6443), the external.metrics.k8s.io server
  over TLS (``podscaler.metricsapi``), answering from the ScaledObject controller's live state
  (:class:`~podscaler.controllers.scaledobject.metricsource.ControllerMetricsSource`; 503 on a
  standby replica; under ``--shard`` a read for an object another replica owns is forwarded
  to it, :mod:`podscaler.metricsapi.forwarding`), with a certificate issued from the one CA the
  replicas share (:mod:`podscaler.metricsapi.sharedca`); at start it says who owns the
  ``v1beta1.external.metrics.k8s.io`` APIService when another adapter (KEDA,
  prometheus-adapter) holds it, served or not;
* beside both, :class:`~podscaler.controllers.triggers.refresh.AuthRefresher`: triggers are rebuilt
  when a referenced TriggerAuthentication changes (watched) or a referenced Secret/ConfigMap
  does (re-read by name every ``auth_refresh_seconds``, and at once after an authentication
  failure);
* an HTTP server on the **metrics port** (default 8080): ``/metrics`` (Prometheus text format),
  ``/debug/shard`` (with ``--shard``: members, owned objects, handovers) and
  ``/debug/decisions`` (the recent decision records per object as JSON, optionally
  ``?namespace=&name=``; this is what ``podscaler explain --endpoint`` reads);
* with Cluster Autoscaler's flags (``--nodes``, ``--node-group-auto-discovery``,
  ``--cloud-provider=aws``), the node autoscaler (:mod:`podscaler.controllers.nodes`), under
  its own Lease ``podscaler-node-autoscaler`` with ``--leader-elect``; its metrics
  (``cluster_autoscaler_*``) join ``/metrics`` and its last pass's reasons per node and pod are
  served at ``/debug/nodes``;
* ``/debug/status`` on the metrics port: what the operator manages (objects per kind by
  condition, the not-Ready ones, loop lateness, node groups and their backoff, VerticalScalers
  and the updater's work, the shard's members, owners and handovers) and its health, as JSON
  (:mod:`podscaler.observability.status`; what ``podscaler status`` prints);
* an HTTP server on the **health port** (default 8081): ``/healthz`` answers 200 while the
  process runs its loop and no poll loop is stuck (a loop with objects whose poll count has not
  moved for three polling intervals, at least a minute; the node autoscaler without a pass for
  ``--max-inactivity``, 10 minutes by default, as Cluster Autoscaler's health check);
  ``/readyz`` answers 200 only once every running controller's informers have synced and the
  metrics API and the admission webhook, when configured, serve (a standby replica under
  ``--leader-elect`` is ready too: it can take over).

``--leader-elect`` campaigns for a Lease and runs the controller only while holding it
(active/standby). ``--shard`` makes the replicas active/active instead
(:mod:`podscaler.controllers.sharding`): each holds its own Lease in the operator namespace and
polls only the ScaledObjects that rendezvous hashing gives it; work that must run once
(ScaledJobs, which create Jobs; ProportionalScalers; the node autoscaler) runs under the one
Lease ``podscaler-singletons`` on whichever replica holds it. ``--shard-selector`` is static
sharding instead: this replica sees only the ScaledObjects with the label (no Leases). The three
modes exclude each other.

``--dry-run`` decides and explains every object, writes status, Events and metrics, but never
writes a target's ``/scale``.

Time: timestamps come from the running loop's clock (:func:`podscaler.clock.clock_of`), so a
simulated loop moves the operator's notion of "now" with it; intervals use ``loop.time()``.
SIGTERM and SIGINT stop the controller, flush Events and close connections before exiting.
"""

from podscaler.heap import settle_heap_periodically
from podscaler.manager.endpoints import ListenFailed
from podscaler.manager.options import RunOptions
from podscaler.manager.run import run_operator

__all__ = ["ListenFailed", "RunOptions", "run_operator", "settle_heap_periodically"]
