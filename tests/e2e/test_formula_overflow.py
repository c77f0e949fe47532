"""e2e: a ``scalingModifiers.formula`` that evaluates to ±Inf or NaN (issue 17 §4).

``a / 0``, ``a * 1e308 * 10`` and ``a ** a ** a ** a ** 999999`` raised ``OverflowError`` in
the direct-mode bridge on every poll (111 tracebacks in two minutes), with no Event and a
stale Ready reason. Under the real ``podscaler run`` against a Prometheus-compatible server,
each such object now says what is wrong — Ready False, reason TriggerError, a message naming
the formula's result — and records TriggerError Events; with a fallback configured, the
fallback replicas apply after the failure threshold; and the log holds no traceback.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from podscaler.kube.clients import Kube
from tests.e2e.conftest import OperatorProcess
from tests.integration.controllers.objects import (
    condition,
    create_deployment,
    create_so,
    deployment,
    events,
    get_so,
    prometheus_trigger,
    replicas,
    scaled_object,
    wait_for,
)
from tests.integration.controllers.promserver import PromServer

FORMULAS = {"div": "a / 0", "mul": "a * 1e308 * 10", "pow": "a ** a ** a ** a ** 999999"}


def _modifiers(formula: str) -> dict[str, Any]:
    return {"scalingModifiers": {"formula": formula, "target": "10"}}


async def _trigger_error(kube: Kube, name: str) -> bool:
    ready = condition(await get_so(kube, name), "Ready")
    return ready.get("status") == "False" and ready.get("reason") == "TriggerError"


async def test_a_formula_that_overflows_is_a_trigger_error_with_fallback(
    kube: Kube, prom: PromServer, operator: Callable[..., Awaitable[OperatorProcess]]
) -> None:
    op = await operator()
    prom.value = 20
    trigger = {**prometheus_trigger(prom.url, threshold="10", activation="0"), "name": "a"}
    for name, formula in FORMULAS.items():
        await create_deployment(kube, deployment(name, 2))
        await create_so(
            kube,
            scaled_object(name, name, [trigger], pollingInterval=1, advanced=_modifiers(formula)),
        )
    await create_deployment(kube, deployment("fb", 2))
    await create_so(
        kube,
        scaled_object(
            "fb",
            "fb",
            [trigger],
            pollingInterval=1,
            maxReplicaCount=10,
            fallback={"failureThreshold": 2, "replicas": 5},
            advanced=_modifiers("a / 0"),
        ),
    )

    for name in FORMULAS:
        await wait_for(lambda name=name: _trigger_error(kube, name), 15)  # type: ignore[misc]
        ready = condition(await get_so(kube, name), "Ready")
        assert "scalingModifiers.formula evaluated to" in ready["message"]
        assert "finite" in ready["message"]
        assert await replicas(kube, name) == 2  # nothing decided from a non-number

    async def falling_back() -> bool:
        return condition(await get_so(kube, "fb"), "Fallback").get("status") == "True"

    await wait_for(falling_back, 15)
    await wait_for(lambda: _at(kube, "fb", 5), 10)
    health = (await get_so(kube, "fb"))["status"]["health"]["composite-metric"]
    assert health["status"] == "Failing"

    notes = [
        str(e.get("note"))
        for e in await events(kube)
        if e.get("reason") == "TriggerError" and (e.get("regarding") or {}).get("name") == "div"
    ]
    assert any("evaluated to inf" in note for note in notes), notes
    log = op.output()
    assert "OverflowError" not in log
    assert "Traceback" not in log


async def _at(kube: Kube, name: str, count: int) -> bool:
    return await replicas(kube, name) == count
