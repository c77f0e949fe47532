"""The ``podscaler`` commands, one module each (``run``, ``demo``, ``simulate``, ``explain``,
``validate``, ``cluster``, ``recommend``), registered by :mod:`podscaler.cli`.

The top layer: commands may import the operator, controllers, metricsapi, sim and everything
below; nothing imports a command but ``podscaler.cli``. Flags are declared on the settings they
set (:mod:`podscaler.api.flags`) and turned into click options here (:mod:`.options`), once per
feature. Ordinary mistakes end as :class:`~.failures.CommandFailure`: one line, exit 1 or 2.
"""
