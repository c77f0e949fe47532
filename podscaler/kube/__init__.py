"""Kubernetes I/O: client setup, informer caches, /scale access, status patches, Events, Leases.

Everything here speaks JSON dicts over kubernetes-asyncio's HTTP session (see
:mod:`podscaler.kube.clients` for why), and takes time from the event loop or an injected
clock. The modules:

* :mod:`~podscaler.kube.clients` — :func:`connect` and :class:`Kube` (``request``, ``stream``);
* :mod:`~podscaler.kube.errors` — the error tree (``ApiError`` and one class per status);
* :mod:`~podscaler.kube.resources` — :class:`Resource` and cached :class:`Discovery`;
* :mod:`~podscaler.kube.informers` — :class:`Informer` (list+watch cache with indexes);
* :mod:`~podscaler.kube.scaling` — :class:`ScaleClient` over any kind's ``/scale``;
* :mod:`~podscaler.kube.statuses` — status patches, conflict-retrying updates, conditions;
* :mod:`~podscaler.kube.events` — :class:`EventRecorder` (deduplicated, rate limited);
* :mod:`~podscaler.kube.leases` — :class:`LeaderElector`;
* :mod:`~podscaler.kube.backoff` — the retry schedule (pure). Label selectors come from
  :mod:`podscaler.api.selectors`, the same grammar the embedded API server uses.
"""

from podscaler.kube.clients import Kube, connect
from podscaler.kube.events import EventRecorder
from podscaler.kube.informers import Informer
from podscaler.kube.leases import LeaderElector
from podscaler.kube.resources import Discovery, Resource
from podscaler.kube.scaling import Scale, ScaleClient, ScaleRef

__all__ = [
    "Discovery",
    "EventRecorder",
    "Informer",
    "Kube",
    "LeaderElector",
    "Resource",
    "Scale",
    "ScaleClient",
    "ScaleRef",
    "connect",
]
