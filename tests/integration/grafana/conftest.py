"""A real Prometheus that scrapes a real ``podscaler run``, for the dashboard checks.

``scraped_operator`` starts the operator (the e2e ``operator`` fixture) against the embedded
API server with four ScaledObjects on a fake Prometheus-API trigger endpoint, chosen so every
panel has something to show:

* ``worker`` — healthy and active (35 against threshold 10): scales 1 -> 4;
* ``flaky`` — its trigger's server is down: trigger errors, then fallback replicas;
* ``held`` — ``paused-replicas``: paused;
* ``ghost`` — scales 1 -> 4, then its target is deleted: a ScaledObject error every poll
  (after its trigger reported, so KEDA's variables, taken from ``keda_scaler_active``, list
  it);
* ``forecast`` — a ``predictive`` trigger on a Prometheus-API endpoint that serves three days
  of a daily wave (range queries too): the model fits in the background, then the trigger
  reports its forecast, backtest errors and model age (the predictive dashboard).

and, for the ProportionalScalers dashboard, two Nodes with two ProportionalScalers: ``dns``
(linear, one replica per node: 2) and ``orphan``, whose target does not exist (a problem);

and, for the nodes dashboard, the node autoscaler on an Auto Scaling group ``workers`` (0..3
m5.large) in moto with a pod Pending for it: it scales the group up, the instances never
register as Nodes (nothing runs them), the scale-up times out after 20 s and the group is
backed off. So scale-up, failure, backoff, unschedulable pods and the per-group series all
have data; and as the operator's namespace does not exist in this cluster, writing its
``cluster-autoscaler-status`` ConfigMap fails every pass (``errors_total{type="apiCallError"}``).

Then it starts Prometheus 2.42 scraping the operator's ``/metrics`` every second, twice, as a
cluster would: job ``podscaler`` adds a ``namespace`` target label (what a ServiceMonitor or
``kubernetes_sd_configs`` do), so Prometheus renames podscaler's own label to
``exported_namespace`` as KEDA's dashboard expects; job ``podscaler-honor-labels`` keeps it.

The launch reuses the session fixture's readiness wait (``tests/fixtures/prometheus.py``); that
fixture's own server cannot be reused because its scrape configuration is fixed at start.
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiobotocore.session import AioSession
from aiohttp import web

from podscaler.kube.clients import MERGE_PATCH, Kube
from tests.e2e import conftest as e2e
from tests.e2e.conftest import OperatorProcess
from tests.fixtures.moto import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY
from tests.fixtures.prometheus import _wait_ready
from tests.fixtures.servers import free_port, missing
from tests.integration.controllers.objects import (
    create,
    create_deployment,
    create_so,
    deployment,
    prometheus_trigger,
    replicas,
    scaled_object,
    wait_for,
)
from tests.integration.controllers.promserver import PromServer
from tests.integration.controllers.proportional_objects import (
    PS_PATH,
    add_node,
    proportional_scaler,
)

#: The namespace label a cluster's scrape adds (the operator's own namespace).
OPERATOR_NAMESPACE = "podscaler"
PAUSED_REPLICAS = "autoscaling.keda.sh/paused-replicas"

# The e2e fixtures, shared: the operator process, a client of the embedded API server, and the
# fake Prometheus-API endpoint the triggers ask.
operator, kube, prom = e2e.operator, e2e.kube, e2e.prom


@dataclass
class ScrapedOperator:
    """Prometheus' HTTP API over the scraped operator."""

    url: str
    session: aiohttp.ClientSession
    #: The operator's metrics address (``/metrics``, ``/debug/status``).
    endpoint: str

    async def api(self, path: str, params: dict[str, str] | list[tuple[str, str]]) -> Any:
        """``data`` of a successful answer; AssertionError with Prometheus' error otherwise."""
        async with self.session.get(f"{self.url}{path}", params=params) as response:
            body = await response.json()
        if body.get("status") != "success":
            raise AssertionError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]


def _config(target: str) -> str:
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": "podscaler",
                "static_configs": [
                    {"targets": [target], "labels": {"namespace": OPERATOR_NAMESPACE}}
                ],
            },
            {
                "job_name": "podscaler-honor-labels",
                "honor_labels": True,
                "static_configs": [{"targets": [target]}],
            },
        ],
    }
    return json.dumps(config, indent=2)  # YAML is a superset of JSON


def _launch(binary: str, workdir: Path, target: str, port: int) -> subprocess.Popen[bytes]:
    config = workdir / "prometheus.yml"
    config.write_text(_config(target))
    with (workdir / "prometheus.log").open("wb") as log:
        return subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


DAY = 86400.0


def demand(t: float) -> float:
    """A daily wave (requests per second), the predictive trigger's history and live value."""
    return 50.0 + 40.0 * math.sin(2 * math.pi * (t % DAY) / DAY)


async def _demand_server() -> tuple[web.AppRunner, str]:
    """Prometheus' query API over :func:`demand`: instant and range queries, any query."""

    async def query(request: web.Request) -> web.Response:
        at = request.query.get("time")
        if at is None:
            t = time.time()
        elif at.replace(".", "", 1).isdigit():
            t = float(at)
        else:
            t = datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()
        result = [{"metric": {}, "value": [t, repr(demand(t))]}]
        return web.json_response(
            {"status": "success", "data": {"resultType": "vector", "result": result}}
        )

    async def query_range(request: web.Request) -> web.Response:
        start, end = float(request.query["start"]), float(request.query["end"])
        step = float(request.query["step"].rstrip("s"))
        oldest = time.time() - 3 * DAY
        count = int((end - start) / step) + 1
        points = [start + i * step for i in range(count)]
        values = [[t, repr(demand(t))] for t in points if t >= oldest]
        result = [{"metric": {}, "values": values}] if values else []
        return web.json_response(
            {"status": "success", "data": {"resultType": "matrix", "result": result}}
        )

    app = web.Application()
    app.router.add_get("/api/v1/query", query)
    app.router.add_get("/api/v1/query_range", query_range)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


def predictive_trigger(url: str) -> dict[str, Any]:
    metadata = {
        "serverAddress": url,
        "query": "sum(rate(http_requests_total[1m]))",
        "threshold": "20",
        "historyWindow": "3d",
        "minHistory": "1d",
        "queryStep": "5m",
        "horizon": "10m",
    }
    return {"type": "predictive", "metadata": metadata}


async def _world(kube: Kube, prom: PromServer, history_url: str) -> None:
    prom.values = {"worker": 35.0, "held": 40.0}
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens: every poll fails
    for name in ("worker", "flaky", "held", "ghost", "forecast"):
        await create_deployment(kube, deployment(name, 1))
    objects = [
        scaled_object(
            "worker", "worker", [prometheus_trigger(prom.url, query="worker")],
            pollingInterval=1, maxReplicaCount=8,
        ),
        scaled_object(
            "flaky", "flaky", [prometheus_trigger(down, query="flaky")],
            pollingInterval=1, minReplicaCount=1,
            fallback={"failureThreshold": 1, "replicas": 3},
        ),
        scaled_object(
            "held", "held", [prometheus_trigger(prom.url, query="held")],
            pollingInterval=1, annotations={PAUSED_REPLICAS: "2"},
        ),
        scaled_object(
            "ghost", "ghost", [prometheus_trigger(prom.url, query="worker")], pollingInterval=1
        ),
        scaled_object(
            "forecast", "forecast", [predictive_trigger(history_url)],
            pollingInterval=1, maxReplicaCount=10,
        ),
    ]  # fmt: skip
    for body in objects:
        await create_so(kube, body)
    await wait_for(lambda: _at(kube, "ghost", 4), 15)
    await kube.request("DELETE", "/apis/apps/v1/namespaces/default/deployments/ghost")


async def _proportional_world(kube: Kube) -> None:
    for name in ("node-a", "node-b"):
        await add_node(kube, name)
    await create_deployment(kube, deployment("dns", 1))
    linear = {"nodesPerReplica": 1, "coresPerReplica": 4, "min": 1}
    await create(kube, PS_PATH, proportional_scaler("dns", "dns", linear=linear))
    await create(kube, PS_PATH, proportional_scaler("orphan", "nowhere", linear=linear))
    await wait_for(lambda: _at(kube, "dns", 2), 15)


#: The Auto Scaling group the node autoscaler manages, and the label its nodes would carry.
ASG = "workers"
POOL = "k8s.io/cluster-autoscaler/node-template/label/pool"
#: Scale-ups time out this fast (CA's --max-node-provision-time; 15 min by default).
PROVISION_TIMEOUT = "20s"


async def _auto_scaling_group(moto: str) -> None:
    client = {
        "region_name": REGION,
        "endpoint_url": moto,
        "aws_access_key_id": ACCESS_KEY_ID,
        "aws_secret_access_key": SECRET_ACCESS_KEY,
    }
    session = AioSession()
    async with (
        session.create_client("ec2", **client) as ec2,
        session.create_client("autoscaling", **client) as autoscaling,
    ):
        await ec2.create_launch_template(
            LaunchTemplateName="lt-workers",
            LaunchTemplateData={"InstanceType": "m5.large", "ImageId": "ami-12c6146b"},
        )
        await autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=ASG,
            MinSize=0,
            MaxSize=3,
            DesiredCapacity=0,
            AvailabilityZones=[f"{REGION}a"],
            LaunchTemplate={"LaunchTemplateName": "lt-workers", "Version": "$Latest"},
            Tags=[
                {
                    "Key": POOL,
                    "Value": ASG,
                    "PropagateAtLaunch": False,
                    "ResourceId": ASG,
                    "ResourceType": "auto-scaling-group",
                }
            ],
        )


def node_flags(moto: str) -> list[str]:
    return [
        "--cloud-provider=aws",
        f"--aws-region={REGION}",
        f"--aws-endpoint-url={moto}",
        f"--nodes=0:3:{ASG}",
        "--emit-per-nodegroup-metrics",
        "--scan-interval=1s",
        f"--max-node-provision-time={PROVISION_TIMEOUT}",
    ]


async def _pending_pod(kube: Kube) -> None:
    """A pod only a ``workers`` node can take, marked unschedulable as kube-scheduler would."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "batch", "namespace": "default"},
        "spec": {
            "nodeSelector": {"pool": ASG},
            "containers": [
                {
                    "name": "main",
                    "image": "busybox",
                    "resources": {"requests": {"cpu": "1", "memory": "1Gi"}},
                }
            ],
        },
    }
    await create(kube, "/api/v1/namespaces/default/pods", pod)
    unschedulable = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.",
    }
    await kube.request(
        "PATCH",
        "/api/v1/namespaces/default/pods/batch/status",
        body={"status": {"phase": "Pending", "conditions": [unschedulable]}},
        content_type=MERGE_PATCH,
    )


async def _backed_off(metrics_url: str) -> None:
    """Until the operator's own /metrics shows the group backed off (the scale-up timed out)
    and the predictive trigger's model fitted (its forecast reported)."""
    backoff = f'cluster_autoscaler_node_group_backoff_status{{node_group="{ASG}",'
    async with aiohttp.ClientSession() as session:

        async def seen() -> bool:
            async with session.get(metrics_url) as response:
                lines = (await response.text()).split("\n")
            backed_off = any(ln.startswith(backoff) and ln.endswith(" 1.0") for ln in lines)
            forecast = any(ln.startswith("podscaler_predictive_forecast{") for ln in lines)
            return backed_off and forecast

        await wait_for(seen, 90)


async def _at(kube: Kube, name: str, count: int) -> bool:
    return await replicas(kube, name) == count


@pytest.fixture
async def scraped_operator(
    kube: Kube,
    prom: PromServer,
    operator: Callable[..., Awaitable[OperatorProcess]],
    moto: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> AsyncIterator[ScrapedOperator]:
    binary = shutil.which("prometheus")
    if binary is None:
        missing("prometheus not installed (apt-get install prometheus)")
    await _auto_scaling_group(moto)
    # The operator process takes its AWS credentials from the environment (botocore's chain).
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
    history, history_url = await _demand_server()
    try:
        op = await operator(*node_flags(moto))
        await _world(kube, prom, history_url)
        await _proportional_world(kube)
        await _pending_pod(kube)
        await _backed_off(f"{op.endpoint}/metrics")
        port = free_port()
        workdir = tmp_path / "prometheus"
        workdir.mkdir()
        target = f"127.0.0.1:{op.metrics_port}"
        process = await asyncio.to_thread(_launch, binary, workdir, target, port)
        url = f"http://127.0.0.1:{port}"
        try:
            await asyncio.to_thread(_wait_ready, url, process, workdir / "prometheus.log", 60)
            async with aiohttp.ClientSession() as session:
                yield ScrapedOperator(url, session, op.endpoint)
        finally:
            await asyncio.to_thread(_stop, process)
    finally:
        await history.cleanup()
