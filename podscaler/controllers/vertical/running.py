"""The vertical controllers as ``podscaler run`` starts them: the recommender, and the updater
beside it unless told otherwise."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry

from podscaler.controllers.vertical.metrics import VerticalCollector
from podscaler.controllers.vertical.recommender import (
    VerticalRecommender,
    vertical_crd_installed,
)
from podscaler.controllers.vertical.settings import VerticalSettings
from podscaler.controllers.vertical.updater import AdmissionGate, InPlaceResizer, VerticalUpdater
from podscaler.kube.clients import Kube
from podscaler.kube.errors import KubeError
from podscaler.kube.events import EventRecorder

__all__ = [
    "VerticalControllers",
    "attach_updater",
    "detach_updater",
    "start_vertical_controllers",
]

log = logging.getLogger(__name__)


@dataclass
class VerticalControllers:
    recommender: VerticalRecommender
    updater: VerticalUpdater | None
    registry: CollectorRegistry | None = None
    collector: VerticalCollector | None = None

    async def aclose(self) -> None:
        if self.registry is not None and self.collector is not None:
            self.registry.unregister(self.collector)
        if self.updater is not None:
            await self.updater.aclose()
        await self.recommender.aclose()


async def start_vertical_controllers(
    kube: Kube,
    *,
    namespace: str | None,
    now: Callable[[], datetime],
    recorder: EventRecorder | None,
    enabled: bool | None,
    settings: VerticalSettings,
    admission: AdmissionGate | None = None,
    resizer: InPlaceResizer | None = None,
    registry: CollectorRegistry | None = None,
    owns: Callable[[str], bool] | None = None,
) -> VerticalControllers | None:
    """Started controllers, or None. ``enabled`` None runs them when the VerticalScaler CRD
    is installed; True runs them regardless (the informer retries until it appears)."""
    run = enabled
    if run is None:
        try:
            run = await vertical_crd_installed(kube)
        except KubeError as exc:
            log.warning("could not tell whether VerticalScalers are served: %s", exc)
            run = False
        if not run:
            log.info(
                "the VerticalScaler CRD is not installed: VerticalScalers are not watched "
                "(install manifests/crds, or pass --vertical)"
            )
    if not run:
        return None
    recommender = VerticalRecommender(
        kube, namespace=namespace, now=now, settings=settings, recorder=recorder, owns=owns
    )
    await recommender.start()
    updater = None
    if settings.updater:
        updater = VerticalUpdater(recommender, admission=admission, resizer=resizer)
        await updater.start()
    controllers = VerticalControllers(recommender, updater)
    if registry is not None:
        controllers.registry = registry
        controllers.collector = VerticalCollector(recommender, updater)
        registry.register(controllers.collector)
    return controllers


async def attach_updater(
    controllers: VerticalControllers,
    *,
    admission: AdmissionGate | None = None,
    resizer: InPlaceResizer | None = None,
) -> VerticalUpdater:
    """Under ``--shard``: the updater, on the replica that holds the singletons' Lease, beside
    that replica's recommender (sharded: it resolves every scaler and claims every pod, and
    the recommendations the updater acts on are read from the statuses any replica wrote)."""
    updater = VerticalUpdater(controllers.recommender, admission=admission, resizer=resizer)
    await updater.start()
    controllers.updater = updater
    if controllers.collector is not None:
        controllers.collector.updater = updater
    return updater


async def detach_updater(controllers: VerticalControllers) -> None:
    """The singletons' Lease is lost: stop the updater, keep the recommender."""
    updater, controllers.updater = controllers.updater, None
    if controllers.collector is not None:
        controllers.collector.updater = None
    if updater is not None:
        await updater.aclose()
