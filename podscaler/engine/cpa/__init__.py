"""cluster-proportional-autoscaler's linear and ladder modes, as pure functions.

Replicas of a cluster add-on (CoreDNS, an ingress controller, a metrics agent) from the size of
the cluster, exactly as kubernetes-sigs/cluster-proportional-autoscaler computes them
(reference/algorithms.md part C; the conformance vectors in ``cpa.json``):

* :mod:`~podscaler.engine.cpa.cluster` counts nodes and cores (all and schedulable), from
  scratch or incrementally;
* :mod:`~podscaler.engine.cpa.params` reads the upstream ConfigMap format with Go's JSON rules
  and upstream's checks and messages;
* :mod:`~podscaler.engine.cpa.linear` and :mod:`~podscaler.engine.cpa.ladder` compute each
  mode, and :func:`decide` either one with the reason in words.
"""

from podscaler.engine.cpa.cluster import (
    ClusterStatus,
    ClusterTally,
    NodeFacts,
    cluster_status,
    cores_of,
    node_facts,
)
from podscaler.engine.cpa.decision import Decision, decide
from podscaler.engine.cpa.ladder import LadderDecision, decide_ladder, ladder_lookup
from podscaler.engine.cpa.linear import (
    INT32_MAX,
    LinearDecision,
    decide_linear,
    replicas_from_param,
)
from podscaler.engine.cpa.params import (
    LADDER,
    LINEAR,
    LadderParams,
    LinearParams,
    Mode,
    Params,
    ParamsError,
    check_ladder,
    check_linear,
    parse_config_data,
    parse_ladder,
    parse_linear,
)

__all__ = [
    "INT32_MAX",
    "LADDER",
    "LINEAR",
    "ClusterStatus",
    "ClusterTally",
    "Decision",
    "LadderDecision",
    "LadderParams",
    "LinearDecision",
    "LinearParams",
    "Mode",
    "NodeFacts",
    "Params",
    "ParamsError",
    "check_ladder",
    "check_linear",
    "cluster_status",
    "cores_of",
    "decide",
    "decide_ladder",
    "decide_linear",
    "ladder_lookup",
    "node_facts",
    "parse_config_data",
    "parse_ladder",
    "parse_linear",
    "replicas_from_param",
]
