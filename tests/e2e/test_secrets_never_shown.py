"""e2e: credentials an upstream echoes back never reach a reader (issue 17 §3, issue 15).

``podscaler run`` with JSON logs at debug level, over the TLS embedded cluster with the
metrics API behind its aggregator. One Secret holds a password, a bearer token, an API key,
AWS keys and a SASL password; TriggerAuthentications hand them to a Prometheus trigger with
basic auth, one with bearer auth, one with an API key in the query, an SQS trigger and a Kafka
trigger. Every upstream is :class:`~tests.fixtures.echo.EchoServer`, which refuses the request
and quotes all of it — headers (``Authorization: Basic <base64 of user:password>``), URL, query
— in its error.

Once each trigger has failed several times (error paths: poll, live metrics API read, rebuild
after failure), every sink is read and searched for each secret and each form derived from
it (base64 of ``user:password``, percent-encoded, the ``Authorization`` header's value, JSON
escaping): the operator's log, the Events, the ScaledObjects' status, ``/debug/decisions``,
``podscaler explain``, the metrics API's answers through the aggregator, and ``/metrics``.
The echo server's own record proves the credentials were sent and offered back; the
``[redacted]`` marks in Events prove the echo reached the sinks, redacted.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import aiohttp
import pytest

from podscaler.kube.clients import Kube
from podscaler.kube.errors import KubeError
from podscaler.sim.apiserver.server import ApiServer
from tests.e2e.conftest import ROOT, OperatorProcess
from tests.e2e.eventworld import put_secret
from tests.e2e.test_hpa_mode import (
    EXTERNAL,
    _available,
    _endpoints,
    _install_metrics_api_objects,
)
from tests.fixtures.echo import EchoServer
from tests.fixtures.servers import free_port
from tests.integration.controllers.objects import (
    create_deployment,
    deployment,
    events,
    get_so,
    scaled_object,
    wait_for,
)

NS = "default"
GROUP = "/apis/autoscaling.podscaler.io/v1alpha1"

USER = "alice"
PASSWORD = "PASSW0RD_QQ77"
TOKEN = "tok_Zk9Qm3Vw8Rt2Lp"
API_KEY = "key/with+odd=chars&q"  # percent-encoding differs from raw
AWS_KEY_ID = "AKIAQX7EXAMPLEKEYID9"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SASL_PASSWORD = "sasl-Pa55-word-7781"
SECRETS = (PASSWORD, TOKEN, API_KEY, AWS_KEY_ID, AWS_SECRET, SASL_PASSWORD)


def forbidden() -> list[str]:
    """Every spelling of a secret a reader must never see."""
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    forms = {basic, basic.rstrip("="), f"{USER}:{PASSWORD}", f"Bearer {TOKEN}"}
    for secret in SECRETS:
        raw = base64.b64encode(secret.encode()).decode()
        forms |= {secret, quote(secret, safe=""), quote_plus(secret), raw.rstrip("=")}
        forms.add(json.dumps(secret)[1:-1])
    return sorted(forms)


@pytest.fixture
async def apiserver() -> AsyncIterator[ApiServer]:
    """TLS and the aggregator, so the metrics API is read as ``kubectl get --raw`` reads it."""
    async with ApiServer(tls=True, aggregation=True, bookmark_interval=0.2) as server:
        yield server


@pytest.fixture
async def echo() -> AsyncIterator[EchoServer]:
    server = await EchoServer().start()
    yield server
    await server.stop()


async def _trigger_auth(kube: Kube, name: str, refs: dict[str, str]) -> None:
    await kube.request(
        "POST",
        f"{GROUP}/namespaces/{NS}/triggerauthentications",
        body={
            "apiVersion": "autoscaling.podscaler.io/v1alpha1",
            "kind": "TriggerAuthentication",
            "metadata": {"name": name},
            "spec": {
                "secretTargetRef": [
                    {"parameter": parameter, "name": "creds", "key": key}
                    for parameter, key in refs.items()
                ]
            },
        },
    )


def _prometheus(url: str, auth: str, modes: str) -> dict[str, Any]:
    return {
        "type": "prometheus",
        "name": "prom",
        "metadata": {
            "serverAddress": url,
            "query": "sum(queue_depth)",
            "threshold": "10",
            "authModes": modes,
        },
        "authenticationRef": {"name": auth},
    }


def _triggers(echo: EchoServer) -> dict[str, dict[str, Any]]:
    host_port = echo.url.removeprefix("http://")
    return {
        "basic": _prometheus(echo.url, "basic-auth", "basic"),
        "bearer": _prometheus(echo.url, "bearer-auth", "bearer"),
        "apikey": {
            **_prometheus(echo.url, "apikey-auth", "custom"),
            "metadata": {
                "serverAddress": echo.url,
                "query": "sum(queue_depth)",
                "threshold": "10",
                "authModes": "custom",
            },
        },
        "sqs": {
            "type": "aws-sqs-queue",
            "name": "sqs",
            "metadata": {
                "queueURL": f"{echo.url}/123456789012/orders",
                "queueLength": "10",
                "awsRegion": "eu-west-1",
                "awsEndpoint": echo.url,
            },
            "authenticationRef": {"name": "aws-auth"},
        },
        "kafka": {
            "type": "kafka",
            "name": "kafka",
            "metadata": {
                "bootstrapServers": host_port,
                "consumerGroup": "orders",
                "topic": "orders",
                "lagThreshold": "5",
                "sasl": "plaintext",
            },
            "authenticationRef": {"name": "kafka-auth"},
        },
    }


async def _failed_enough(kube: Kube, name: str) -> bool:
    """Ready says TriggerError and several TriggerError Events were recorded."""
    status = (await get_so(kube, name)).get("status") or {}
    ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
    if not ready or ready[0].get("reason") != "TriggerError":
        return False
    about = [
        e
        for e in await events(kube)
        if (e.get("regarding") or {}).get("name") == name and e.get("reason") == "TriggerError"
    ]
    return sum(int((e.get("series") or {}).get("count") or 1) for e in about) >= 2


async def _explain(kubeconfig: Path, op: OperatorProcess, name: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "podscaler", "explain", f"{NS}/{name}",
        "--kubeconfig", str(kubeconfig), "--endpoint", op.endpoint,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env,
    )  # fmt: skip
    async with asyncio.timeout(30):
        out, _ = await process.communicate()
    return out.decode(errors="replace")


async def _metrics_api_answer(kube: Kube, metric: str, name: str) -> str:
    try:
        answer = await kube.request(
            "GET",
            f"{EXTERNAL}/{metric}",
            params={"labelSelector": f"scaledobject.keda.sh/name={name}"},
        )
    except KubeError as exc:
        return f"{exc} {getattr(exc, 'body', '')} {getattr(exc, 'status', '')}"
    return json.dumps(answer)


async def test_no_secret_or_derived_form_reaches_any_reader(
    apiserver: ApiServer,
    kube: Kube,
    kubeconfig: Path,
    echo: EchoServer,
    operator: Callable[..., Awaitable[OperatorProcess]],
) -> None:
    await _install_metrics_api_objects(kube)
    port = free_port()
    op = await operator(
        "--log-format=json",
        f"--metrics-api-port={port}",
        "--metrics-api-bind-address=127.0.0.1",
    )
    await _endpoints(kube, port)
    await wait_for(lambda: _available(kube), 20)

    await put_secret(
        kube,
        "creds",
        {
            "username": USER,
            "password": PASSWORD,
            "token": TOKEN,
            "apikey": API_KEY,
            "header": "X-Api-Key",
            "awsKeyId": AWS_KEY_ID,
            "awsSecret": AWS_SECRET,
            "sasl": SASL_PASSWORD,
        },
    )
    await _trigger_auth(kube, "basic-auth", {"username": "username", "password": "password"})
    await _trigger_auth(kube, "bearer-auth", {"bearerToken": "token"})
    await _trigger_auth(
        kube, "apikey-auth", {"customAuthHeader": "header", "customAuthValue": "apikey"}
    )
    await _trigger_auth(
        kube, "aws-auth", {"awsAccessKeyID": "awsKeyId", "awsSecretAccessKey": "awsSecret"}
    )
    await _trigger_auth(kube, "kafka-auth", {"username": "username", "password": "sasl"})
    triggers = _triggers(echo)
    for name, trigger in triggers.items():
        await create_deployment(kube, deployment(name, 1))
        await kube.request(
            "POST",
            f"{GROUP}/namespaces/{NS}/scaledobjects",
            body=scaled_object(name, name, [trigger], pollingInterval=1),
        )
    for name in triggers:
        try:
            await wait_for(lambda name=name: _failed_enough(kube, name), 40)  # type: ignore[misc]
        except TimeoutError:
            status = (await get_so(kube, name)).get("status")
            raise AssertionError(f"{name} never failed as expected: {status}") from None

    # The secrets did travel, and the server offered them back.
    seen = "\n".join(echo.seen)
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert f"Authorization: Basic {basic}" in seen
    assert f"Authorization: Bearer {TOKEN}" in seen
    assert f"X-Api-Key: {API_KEY}" in seen
    assert AWS_KEY_ID in seen

    sinks: dict[str, str] = {}
    metric_names = {
        "basic": "s0-prometheus",
        "bearer": "s0-prometheus",
        "apikey": "s0-prometheus",
        "sqs": "s0-aws-sqs-queue",
        "kafka": "s0-kafka-orders",
    }
    for name, metric in metric_names.items():
        sinks[f"metrics API {name}"] = await _metrics_api_answer(kube, metric, name)
        sinks[f"explain {name}"] = await _explain(kubeconfig, op, name)
        sinks[f"status {name}"] = json.dumps(await get_so(kube, name))
    sinks["events"] = json.dumps(await events(kube))
    async with aiohttp.ClientSession() as session:
        for path in ("/debug/decisions", "/metrics"):
            async with session.get(op.endpoint + path) as response:
                sinks[path] = await response.text()
    await op.stop()
    log = op.output()
    sinks["log"] = log
    decoded = []
    for line in log.splitlines():
        try:
            decoded.append(" ".join(str(v) for v in json.loads(line).values()))
        except ValueError:
            decoded.append(line)
    sinks["log, JSON-decoded"] = "\n".join(decoded)

    leaks = [
        f"{form!r} in {sink}"
        for sink, text in sinks.items()
        for form in forbidden()
        if form in text
    ]
    assert not leaks, "\n".join(leaks)
    # The echo reached the sinks (redacted), so the search above searched something.
    notes = [e.get("note") for e in json.loads(sinks["events"])]
    assert "[redacted]" in sinks["events"], notes
    assert "Authorization: Basic [redacted]" in sinks["events"]
    # The metrics API names the failed trigger, never its error (internal URLs stay inside).
    assert "of ScaledObject default/basic failed" in sinks["metrics API basic"]
    assert echo.url.removeprefix("http://") not in sinks["metrics API basic"]
    # The log is JSON at debug level, tracebacks included.
    assert all(line.startswith("{") for line in log.splitlines() if line.strip())
    assert '"level":"debug"' in log
