"""Benchmark: how long pods a ScaledObject adds stay Pending, with and without the hand-over.

The ``nodes-handover`` scenario: a cpu ScaledObject scales "web" up in two traffic steps, the
pods beyond the nodes' room turn unschedulable, the node autoscaler grows the group (nodes
boot in 60 s). Two arms, same scenario, same seed:

* **decision hand-over** — podscaler's defaults: ``scaleUpFromDecisions`` plans for the
  decided replicas as placeholders and wakes a pass when the ScaledObject decides, before the
  pods exist, and ``frequentLoopsEnabled`` wakes one when pods turn unschedulable;
* **frequent loops only** — ``scaleUpFromDecisions: false``: a pass two seconds after the
  pods turn unschedulable;
* **CA-style scan** — both off (Cluster Autoscaler's defaults): the pods wait for the next
  10 s scan.

Where the scan falls relative to the ScaledObject's decision is a matter of phase: both loops
start with the operator, so the ScaledObject's ``pollingInterval`` sets it. The run is
repeated with pollingInterval 11, 12, …, 20 s (against the 10 s scan, every phase shows up),
the same in both arms. Figures are simulated seconds — the run is deterministic, so machine
load does not enter them: per pod that waited for a node (a Pending spell over 10 s: longer
than a container start), the mean and the max Pending time, and the total pod-seconds
Pending, summed over the sweep.

Run from the repository root: ``python -m bench.handover [--runs 10]``.
"""

from __future__ import annotations

import argparse
import copy
import statistics
from typing import Any

import yaml

from podscaler.commands.simulating import embedded_operator
from podscaler.sim.clock import SimulatedClock, run_simulated
from podscaler.sim.scenarios.runs import RunResult, run_scenario
from podscaler.sim.scenarios.scenario import BUILTIN_DIR, parse_scenario

SCENARIO = BUILTIN_DIR / "nodes-handover.yaml"
#: A Pending spell longer than this waited for a node: a pod that fits is bound at once and
#: Pending only while its container starts (the scenario's startSeconds, 5 s).
WAITED_SECONDS = 10.0


def _document(polling_seconds: int, frequent: bool, decisions: bool) -> dict[str, Any]:
    document: dict[str, Any] = copy.deepcopy(yaml.safe_load(SCENARIO.read_text()))
    for obj in document["objects"]:
        if obj["kind"] == "ScaledObject":
            obj["spec"]["pollingInterval"] = polling_seconds
    document["nodeAutoscaler"]["frequentLoopsEnabled"] = frequent
    document["nodeAutoscaler"]["scaleUpFromDecisions"] = decisions
    return document


def run_arm(polling_seconds: int, frequent: bool, decisions: bool) -> tuple[list[float], bool]:
    """The Pending spells (seconds) of pods that waited for a node, and whether the
    scenario's assertions held."""
    scenario = parse_scenario(_document(polling_seconds, frequent, decisions))

    async def main(clock: SimulatedClock) -> RunResult:
        return await run_scenario(scenario, clock=clock, operator=embedded_operator)

    result = run_simulated(main, start=scenario.start)
    spells = result.timeline.pending_durations(result.end_seconds)
    return [s for s in spells if s > WAITED_SECONDS], result.passed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="polling intervals 11 s, 12 s, …")
    args = parser.parse_args()
    arms = {
        "decision hand-over": (True, True),
        "frequent loops only": (True, False),
        "CA-style 10 s scan": (False, False),
    }
    spells: dict[str, list[float]] = {name: [] for name in arms}
    for polling in range(11, 11 + args.runs):
        for name, (frequent, decisions) in arms.items():  # interleaved
            found, passed = run_arm(polling, frequent, decisions)
            if not passed:
                raise SystemExit(f"{name}, polling {polling}s: the scenario's assertions failed")
            spells[name].extend(found)
            print(
                f"polling {polling:2d}s  {name:28s} pods waited {len(found):3d}  "
                f"mean {statistics.fmean(found):5.1f}s  max {max(found):5.1f}s"
            )
    print()
    print(f"{'arm':28s} {'pods':>5s} {'mean s':>7s} {'median s':>9s} {'max s':>6s} {'pod-s':>7s}")
    for name, found in spells.items():
        print(
            f"{name:28s} {len(found):5d} {statistics.fmean(found):7.1f} "
            f"{statistics.median(found):9.1f} {max(found):6.1f} {sum(found):7.0f}"
        )
    handover, frequent_only, scan = (statistics.fmean(found) for found in spells.values())
    print(f"\nmean Pending time saved per pod against the scan: {scan - handover:.1f} s")
    print(f"of which the decision hand-over adds: {frequent_only - handover:.1f} s")


if __name__ == "__main__":
    main()
