"""The embedded cluster's world: the controllers, scheduler, kubelet, cloud and load that make
the API server's objects live (DESIGN.md, "The embedded cluster").

Everything here runs in the API server's process and event loop, on the one clock, and writes
through :mod:`podscaler.sim.world.writing` — the same validation, store and side-effect path an
HTTP write takes — so an operator watching over HTTP sees every change with its resourceVersion
and watch event. :class:`~podscaler.sim.world.world.World` wires the parts together.
"""
