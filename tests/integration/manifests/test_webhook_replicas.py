"""The admission webhook as the chart installs it by default: two replicas, self-issued
certificates. kube-apiserver trusts one ``caBundle``, and either replica may get the call
(the Service balances), so both must serve certificates from the one CA they share (the
metrics API's Secret, :mod:`podscaler.metricsapi.sharedca`) and publish the same bundle.

Over TLS through the embedded API server: the Service is routed to one replica, then to the
other; a pod created each time gets the recommendation (with a CA per replica, the second
publication would make the first replica untrusted, and failurePolicy Ignore would let the pod
through unchanged).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
from pathlib import Path

from podscaler.controllers.vertical.admission import serve_admission_webhook
from podscaler.kube.clients import connect
from podscaler.metricsapi.sharedca import shared_authority
from podscaler.serving.security import CertificateOptions
from podscaler.serving.server import SecureServer
from podscaler.sim.apiserver.server import ApiServer
from tests.integration.sim.test_vertical_admission import (
    CONFIGURATION,
    PODS,
    WEBHOOK_SERVICE,
    add_scaler,
    configuration,
    deployment,
    pod,
)


async def test_two_replicas_publish_one_bundle_and_both_are_trusted(
    apiserver_tls: ApiServer, tmp_path: Path
) -> None:
    kubeconfig = apiserver_tls.write_kubeconfig(tmp_path / "kubeconfig")
    async with await connect(kubeconfig=kubeconfig) as kube:
        for ns in ("shop", "podscaler"):
            await kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": ns}})
        await kube.request(
            "POST",
            "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
            body=configuration(),
        )
        await kube.request(
            "POST", "/apis/apps/v1/namespaces/shop/deployments", body=deployment("hamster")
        )
        await add_scaler(kube, "hamster-vs", "hamster", "Recreate")
        now = dt.datetime.now(dt.UTC)
        # What each replica's operator does at start: the first mints, the second reads it.
        cas = [
            await shared_authority(kube, "podscaler", now=now, common_name="podscaler-webhook-ca")
            for _ in range(2)
        ]
        assert cas[0].pem == cas[1].pem
        servers: list[SecureServer] = []
        tasks = []
        for ca in cas:
            ready: asyncio.Future[SecureServer] = asyncio.get_running_loop().create_future()
            tasks.append(
                asyncio.create_task(
                    serve_admission_webhook(
                        kube,
                        host="127.0.0.1",
                        port=0,
                        certificates=CertificateOptions(ca=ca),
                        configuration=CONFIGURATION,
                        service=WEBHOOK_SERVICE,
                        on_ready=ready.set_result,
                    )
                )
            )
            servers.append(await asyncio.wait_for(ready, 30))
        try:
            stored = await kube.request(
                "GET",
                f"/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/{CONFIGURATION}",
            )
            bundle = base64.b64decode(stored["webhooks"][0]["clientConfig"]["caBundle"])
            assert bundle == cas[0].pem
            for index, server in enumerate(servers):
                apiserver_tls.register_service_endpoint(*WEBHOOK_SERVICE, "127.0.0.1", server.port)
                created = await kube.request("POST", PODS, body=pod(f"hamster-{index}", "hamster"))
                requests = created["spec"]["containers"][0]["resources"]["requests"]
                assert requests == {"cpu": "587m", "memory": "262144k"}, f"replica {index}"
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
