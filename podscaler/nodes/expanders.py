"""Expanders: which node group's expansion option wins (CA's ``expander/``).

``--expander`` is a chain of filters, each keeping the equally best options. The chain stops as
soon as one option is left; after the last filter a seeded random pick decides among the rest.

* ``least-waste`` (the default): ``(cpu capacity * N - cpu requested) / (cpu capacity * N)``
  plus the same for memory, lowest wins — on node **capacity**, over the pods the option
  schedules, as CA computes it;
* ``most-pods``: most pods scheduled;
* ``least-nodes``: fewest nodes (options needing none are ignored);
* ``price``: CA's score — ``(N * node price + stabilizer) / (Σ pod price + stabilizer)``
  times the node's unfitness against a preferred size that grows with the cluster, GPU
  nodes scored 1000 — with node prices from the group (or the instance-type table) and pod
  prices from per-vCPU and per-GiB reference rates (CA's AWS provider has no pricing and
  refuses ``--expander=price`` at startup);
* ``priority``: the ConfigMap's highest matching priority (:mod:`podscaler.nodes.priority`);
  groups matching no rule are dropped with a ``PriorityConfigMapNotMatchedGroup`` warning, and
  if nothing matches every option passes (``PriorityConfigMapNoGroupMatched``);
* ``random``: one option, uniformly, from a seeded generator so a simulation replays.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from podscaler.nodes.plans import ClusterEvent
from podscaler.nodes.priority import PriorityConfig, PriorityConfigError

__all__ = [
    "Choice",
    "ExpansionOption",
    "Filter",
    "choose",
    "least_nodes",
    "least_waste",
    "least_waste_score",
    "most_pods",
    "price",
    "priority_filter",
    "run_chain",
]


@dataclass(frozen=True)
class ExpansionOption:
    """One group's answer to the pending pods: ``node_count`` new nodes take ``pod_count``
    pods requesting ``requested_*``. ``capacity_*`` is one template node's capacity."""

    group: str
    node_count: int
    pod_count: int
    requested_cpu_millicores: int = 0
    requested_memory_bytes: int = 0
    capacity_cpu_millicores: int = 0
    capacity_memory_bytes: int = 0
    price_per_hour: float | None = None
    has_gpu: bool = False


Filter = Callable[[Sequence[ExpansionOption]], list[ExpansionOption]]


def least_waste_score(option: ExpansionOption) -> float:
    avail_cpu = option.capacity_cpu_millicores * option.node_count
    avail_memory = option.capacity_memory_bytes * option.node_count
    wasted_cpu = (avail_cpu - option.requested_cpu_millicores) / avail_cpu if avail_cpu else 0.0
    wasted_memory = (
        (avail_memory - option.requested_memory_bytes) / avail_memory if avail_memory else 0.0
    )
    return wasted_cpu + wasted_memory


def _keep_best(
    options: Sequence[ExpansionOption], score: Callable[[ExpansionOption], float]
) -> list[ExpansionOption]:
    """Options with the lowest score (exact ties kept, in order)."""
    best: list[ExpansionOption] = []
    best_score = 0.0
    for option in options:
        value = score(option)
        if not best or value < best_score:
            best, best_score = [option], value
        elif value == best_score:
            best.append(option)
    return best


def least_waste(options: Sequence[ExpansionOption]) -> list[ExpansionOption]:
    return _keep_best(options, least_waste_score)


def most_pods(options: Sequence[ExpansionOption]) -> list[ExpansionOption]:
    return _keep_best(options, lambda o: -o.pod_count)


def least_nodes(options: Sequence[ExpansionOption]) -> list[ExpansionOption]:
    return _keep_best([o for o in options if o.node_count > 0], lambda o: o.node_count)


#: Reference rates for pricing a pod's requests (USD per vCPU-hour and per GiB-hour): the
#: split of a general-purpose instance's price (m5: $0.096 for 2 vCPU + 8 GiB).
CPU_PRICE_PER_CORE_HOUR = 0.0336
MEMORY_PRICE_PER_GIB_HOUR = 0.0036
#: CA's price stabilizer pod (500m, 500 MiB) and its GPU unfitness.
_STABILIZER = 0.5 * CPU_PRICE_PER_CORE_HOUR + (500 / 1024) * MEMORY_PRICE_PER_GIB_HOUR
_GPU_UNFITNESS = 1000.0


def preferred_cpu_millicores(cluster_size: int) -> int:
    """CA's preferred node size: doubles each time the cluster triples."""
    for limit, cores in ((2, 1), (6, 2), (20, 4), (60, 8), (200, 16)):
        if cluster_size <= limit:
            return cores * 1000
    return 32000


def price_score(option: ExpansionOption, cluster_size: int) -> float | None:
    if option.price_per_hour is None or option.capacity_cpu_millicores <= 0:
        return None
    node_price = option.price_per_hour * option.node_count
    pod_price = (
        option.requested_cpu_millicores / 1000 * CPU_PRICE_PER_CORE_HOUR
        + option.requested_memory_bytes / 1024**3 * MEMORY_PRICE_PER_GIB_HOUR
    )
    ratio = (node_price + _STABILIZER) / (pod_price + _STABILIZER)
    preferred = preferred_cpu_millicores(cluster_size)
    unfitness = max(
        preferred / option.capacity_cpu_millicores, option.capacity_cpu_millicores / preferred
    )
    suppressed = (unfitness - 1.0) * (1.0 - math.tanh((option.node_count - 1) / 15.0)) + 1.0
    if option.has_gpu:
        suppressed = _GPU_UNFITNESS
    return suppressed * ratio


def price(options: Sequence[ExpansionOption], cluster_size: int) -> list[ExpansionOption]:
    """Options without a known price are dropped, as CA drops those its pricing model fails."""
    scored = [(o, price_score(o, cluster_size)) for o in options]
    known = [(o, s) for o, s in scored if s is not None]
    scores = {id(o): s for o, s in known}
    return _keep_best([o for o, _ in known], lambda o: scores[id(o)])


def priority_filter(
    options: Sequence[ExpansionOption],
    config: PriorityConfig | PriorityConfigError | None,
    events: list[ClusterEvent],
) -> list[ExpansionOption]:
    if not options:
        return []
    if config is None:
        # no ConfigMap: CA lets every option through, with no Event (there is no object to
        # attach it to)
        return list(options)
    if isinstance(config, PriorityConfigError):
        events.append(ClusterEvent("Warning", config.reason, config.message))
        return list(options)
    best: list[ExpansionOption] = []
    top: int | None = None
    for option in options:
        value = config.priority_of(option.group)
        if value is None:
            events.append(
                ClusterEvent(
                    "Warning",
                    "PriorityConfigMapNotMatchedGroup",
                    f"Priority expander: node group {option.group} not found in priority "
                    "expander configuration. The group won't be used.",
                )
            )
            continue
        if top is None or value > top:
            best, top = [option], value
        elif value == top:
            best.append(option)
    if not best:
        events.append(
            ClusterEvent(
                "Warning",
                "PriorityConfigMapNoGroupMatched",
                "Priority expander: no priorities info found for any of the expansion options. "
                "No options filtered.",
            )
        )
        return list(options)
    return best


@dataclass(frozen=True)
class Choice:
    """The chain's answer: the winner (None when every option was filtered out), and for
    every option dropped on the way, the expander that dropped it."""

    best: ExpansionOption | None
    dropped_by: dict[str, str]


def run_chain(
    options: Sequence[ExpansionOption],
    filters: Sequence[Filter],
    fallback: Callable[[Sequence[ExpansionOption]], ExpansionOption | None],
) -> ExpansionOption | None:
    """CA's chain: filters in order, returning as soon as exactly one option is left; the
    fallback strategy decides among what the last filter kept."""
    remaining = list(options)
    for keep in filters:
        remaining = keep(remaining)
        if len(remaining) == 1:
            return remaining[0]
    return fallback(remaining)


def choose(
    options: Sequence[ExpansionOption],
    chain: Sequence[str],
    *,
    rng: random.Random,
    cluster_size: int = 0,
    priorities: PriorityConfig | PriorityConfigError | None = None,
    events: list[ClusterEvent] | None = None,
) -> Choice:
    """Run ``chain`` (expander names, validated by the options parser) over ``options``."""
    sink = events if events is not None else []
    filters: dict[str, Filter] = {
        "least-waste": least_waste,
        "most-pods": most_pods,
        "least-nodes": least_nodes,
        "price": lambda opts: price(opts, cluster_size),
        "priority": lambda opts: priority_filter(opts, priorities, sink),
        "random": lambda opts: [rng.choice(list(opts))] if opts else [],
    }
    dropped: dict[str, str] = {}

    def recording(name: str, keep: Filter) -> Filter:
        def run(opts: Sequence[ExpansionOption]) -> list[ExpansionOption]:
            kept = keep(opts)
            kept_ids = {id(o) for o in kept}
            for option in opts:
                if id(option) not in kept_ids:
                    dropped.setdefault(option.group, name)
            return kept

        return run

    def pick_randomly(opts: Sequence[ExpansionOption]) -> ExpansionOption | None:
        if not opts:
            return None
        winner = rng.choice(list(opts))
        for option in opts:
            if option is not winner:
                dropped.setdefault(option.group, "random")
        return winner

    chain_filters = [recording(name, filters[name]) for name in chain]
    return Choice(run_chain(options, chain_filters, pick_randomly), dropped)
