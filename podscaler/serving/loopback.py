"""``/debug/*`` answers only callers on this machine (or in this pod).

The operator's metrics port listens on every address so Prometheus can scrape ``/metrics``
(counts and timings, no secrets, as every exporter serves them). ``/debug/decisions`` and
``/debug/nodes`` are another matter: object names, trigger values and error texts of every
ScaledObject, unauthenticated. :func:`loopback_only` refuses them (403) to any peer that is not a
loopback address, so they are read through ``kubectl port-forward`` (which connects from inside
the pod's network namespace, to 127.0.0.1) or from the node itself, and by nobody else on the
network. ``--debug-endpoints=any`` opts out, for a cluster whose network policy already keeps
the port private.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

__all__ = ["DEBUG_PREFIX", "is_loopback", "loopback_only"]

DEBUG_PREFIX = "/debug/"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(peer: str | None) -> bool:
    """Whether *peer* (``request.remote``) is a loopback address (IPv4-mapped IPv6 too)."""
    if not peer:
        return False
    try:
        address = ipaddress.ip_address(peer.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def loopback_only(prefix: str = DEBUG_PREFIX) -> Middleware:
    """A middleware refusing paths under *prefix* to peers that are not loopback."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(prefix) and not is_loopback(request.remote):
            return web.Response(
                status=403,
                text=(
                    f"{request.path} is served to this machine only; read it through "
                    "kubectl port-forward (see --debug-endpoints)\n"
                ),
            )
        return await handler(request)

    return middleware
