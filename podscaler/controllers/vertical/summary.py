"""The VerticalScalers in ``/debug/status`` (what ``podscaler status`` prints): the scalers
counted by their conditions, the ones that cannot work listed
(:func:`podscaler.observability.status.vertical_counts`), and what the recommender and the
updater have done (passes, samples, OOM kills; evictions, refusals, in-place resizes, and
for ``updateMode: InPlace`` the pods held back by an infeasible resize).
Read from the controllers' memory: no API call."""

from __future__ import annotations

from typing import Any

from podscaler.controllers.vertical.resize import PodResizer
from podscaler.controllers.vertical.running import VerticalControllers
from podscaler.observability.status import vertical_counts

__all__ = ["vertical_summary"]


def vertical_summary(
    controllers: VerticalControllers, resizer: PodResizer | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the counts for ``objects["VerticalScaler"]``, the ``vertical`` section)."""
    recommender, updater = controllers.recommender, controllers.updater
    counts = vertical_counts(
        (*s.key, s.written_status or s.obj.get("status")) for s in recommender.states.values()
    )
    work: dict[str, Any] = {
        "recommender": {
            "passes": recommender.passes,
            "samples": recommender.samples,
            "ooms": recommender.ooms,
        },
        "updater": None,
        # Every scaler starves while this lasts (metrics-server down, its APIService broken).
        "problem": recommender.metrics_problem,
    }
    if updater is not None:
        work["updater"] = {
            "evictions": updater.evictions,
            "refused": updater.refused,
            "resizes": resizer.resized if resizer is not None else 0,
            # InPlace: pods whose last resize did not fit, waiting for a lower target.
            "inPlaceInfeasible": len(resizer.infeasible) if resizer is not None else 0,
        }
    return counts, work
