"""``kubectl create ...`` sends protobuf; the server stores what the JSON path stores.

Each command runs twice against the embedded API server: as typed (kubectl sends its object
as ``application/vnd.kubernetes.protobuf``) in namespace ``pb``, and as ``--dry-run=client -o
json`` piped into ``kubectl create -f -`` (plain JSON) in namespace ``js``. The two stored
objects must be equal but for what the server assigns (uid, resourceVersion, timestamps) and
the namespace. The JSON path is the reference: it is kubectl's own rendering of the object.
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podscaler.sim.apiserver.protobuf import MAGIC
from podscaler.sim.apiserver.server import ApiServer
from tests.integration.sim.conftest import Kubectl
from tests.unit.sim.test_protobuf import fuzzed_object

pytestmark = pytest.mark.kubectl

PROTOBUF = "application/vnd.kubernetes.protobuf"


def _commands(files: Path) -> list[list[str]]:
    return [
        ["deployment", "web", "--image=nginx"],
        ["deployment", "quiet", "--image=busybox", "--replicas=0", "--", "sleep", "3600"],
        ["deployment", "ported", "--image=nginx:1.27", "--replicas=3", "--port=8080"],
        ["configmap", "cm", "--from-literal=a=b", f"--from-file={files / 'blob.bin'}"],
        ["secret", "generic", "s1", "--from-literal=password=hunter2", "--type=Opaque"],
        [
            "secret",
            "docker-registry",
            "s2",
            "--docker-server=registry.example",
            "--docker-username=u",
            "--docker-password=p",
        ],
        ["secret", "tls", "s3", f"--cert={files / 'tls.crt'}", f"--key={files / 'tls.key'}"],
        ["service", "clusterip", "c1", "--tcp=80:8080", "--tcp=443:8443"],
        ["service", "clusterip", "headless", "--clusterip=None"],
        ["service", "nodeport", "c2", "--tcp=80:8080", "--node-port=30080"],
        ["service", "loadbalancer", "c3", "--tcp=80"],
        ["service", "externalname", "c4", "--external-name=example.com"],
        ["serviceaccount", "sa1"],
        ["job", "j1", "--image=busybox", "--", "echo", "hi"],
        ["cronjob", "cj1", "--image=busybox", "--schedule=*/5 * * * *", "--", "date"],
        ["job", "from-cron", "--from=cronjob/cj1"],
        ["poddisruptionbudget", "pdb1", "--selector=app=web", "--min-available=50%"],
    ]


def _comparable(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    uid = meta.get("uid")
    for key in ("resourceVersion", "creationTimestamp", "namespace", "generation"):
        meta.pop(key, None)
    for ref in meta.get("ownerReferences") or []:
        ref.pop("uid", None)  # the owning CronJob of each namespace has its own uid
    spec = obj.get("spec") or {}
    for key in ("clusterIP", "clusterIPs"):  # allocated per Service
        if spec.get("clusterIP") != "None":
            spec.pop(key, None)
    for port in spec.get("ports") or []:
        port.pop("nodePort", None)  # unique in the cluster: each twin has its own
    if obj["kind"] == "Job":  # the generated selector and labels carry the Job's own uid
        obj = json.loads(json.dumps(obj).replace(str(uid), "UID"))
    obj["metadata"].pop("uid", None)
    return obj


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "blob.bin").write_bytes(bytes(range(256)))  # not UTF-8: lands in binaryData
    cert = trustme.CA().issue_cert("web.example")
    (tmp_path / "tls.crt").write_bytes(cert.cert_chain_pems[0].bytes())
    (tmp_path / "tls.key").write_bytes(cert.private_key_pem.bytes())
    return tmp_path


async def test_created_objects_equal_their_json_twins(kubectl: Kubectl, files: Path) -> None:
    assert "namespace/pb created" in await kubectl("create", "namespace", "pb")
    await kubectl("create", "namespace", "js")
    for command in _commands(files):
        cut = command.index("--") if "--" in command else len(command)
        head, tail = command[:cut], command[cut:]
        typed = await kubectl("create", *head, "-n", "pb", *tail)
        assert "created" in typed
        dry = ["--dry-run=client", "-o", "json", "-n", "js"]
        rendered = await kubectl("create", *head, *dry, *tail)
        # a node port is taken once in a cluster: the twin asks for the next one
        rendered = rendered.replace('"nodePort": 30080', '"nodePort": 30081')
        await kubectl("create", "-f", "-", stdin=rendered)
    for namespace, port in (("pb", 30080), ("js", 30081)):
        service = json.loads(await kubectl("get", "svc", "c2", "-n", namespace, "-o", "json"))
        assert service["spec"]["ports"][0]["nodePort"] == port
    for resource in ("deploy", "cm", "secret", "svc", "sa", "job", "cronjob", "pdb"):
        got = json.loads(await kubectl("get", resource, "-n", "pb", "-o", "json"))["items"]
        want = json.loads(await kubectl("get", resource, "-n", "js", "-o", "json"))["items"]
        assert got, resource
        assert [_comparable(o) for o in got] == [_comparable(o) for o in want], resource


async def test_create_namespace_and_deployment_as_people_type_them(
    kubectl: Kubectl, apiserver: ApiServer
) -> None:
    assert "namespace/x created" in await kubectl("create", "namespace", "x")
    namespaces = await kubectl("get", "ns", "x")
    assert namespaces.splitlines()[1].split()[:2] == ["x", "Active"]
    created = await kubectl("create", "deployment", "web", "--image=nginx", "-n", "x")
    assert "deployment.apps/web created" in created
    rt = apiserver.table.get("apps", "v1", "deployments")
    assert rt is not None
    stored = apiserver.store.get(rt, "x", "web").obj
    assert stored["spec"]["replicas"] == 1
    assert stored["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert stored["spec"]["template"]["spec"]["containers"] == [
        {
            "name": "nginx",
            "image": "nginx",
            "resources": {},
            # kube-apiserver's defaults for a container of an untagged image
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
            "imagePullPolicy": "Always",
        }
    ]
    # Already there: the same 409 text a real server gives.
    again = await kubectl("create", "namespace", "x", ok=False)
    assert 'namespaces "x" already exists' in again


def _envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    def ld(number: int, data: bytes) -> bytes:
        return bytes([number << 3 | 2, len(data)]) + data

    return MAGIC + ld(1, ld(1, api_version.encode()) + ld(2, kind.encode())) + ld(2, raw)


async def test_kinds_without_a_protobuf_table_get_415_and_advice(apiserver: ApiServer) -> None:
    body = _envelope("apiextensions.k8s.io/v1", "CustomResourceDefinition", b"")
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{apiserver.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            data=body,
            headers={"Content-Type": PROTOBUF},
        ) as response,
    ):
        status = await response.json()
    assert response.status == 415
    assert status["reason"] == "UnsupportedMediaType"
    assert "kubectl apply -f" in status["message"]
    assert "CustomResourceDefinition" in status["message"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"not protobuf at all", 400),
        (MAGIC + b"\x0a\x7f", 400),
        (_envelope("apps/v1", "Deployment", b"\x0a\x05\x0a\x03web\x12\x02\x08"), 400),
        (_envelope("v1", "ConfigMap", b"\x0a\x03\x0a\x01x"), 400),  # kind of another resource
        (_envelope("storage.k8s.io/v1", "StorageClass", b""), 415),  # no table
    ],
)
async def test_bad_protobuf_is_a_clear_client_error(
    apiserver: ApiServer, body: bytes, code: int
) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{apiserver.url}/apis/apps/v1/namespaces/default/deployments",
            data=body,
            headers={"Content-Type": PROTOBUF},
        ) as response,
    ):
        status = await response.json()
    assert response.status == code, status
    assert status["kind"] == "Status"
    assert status["code"] == code


@pytest.fixture(scope="module")
def server_in_a_thread() -> Iterator[str]:
    """An API server on its own loop in a thread, for synchronous hypothesis tests."""
    loop = asyncio.new_event_loop()
    server = ApiServer(install_crds=False)
    loop.run_until_complete(server.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def _post(url: str, body: bytes) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": PROTOBUF}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        with err:
            return err.code, json.loads(err.read())


_PATHS = {
    "v1/Namespace": "/api/v1/namespaces",
    "v1/Secret": "/api/v1/namespaces/default/secrets",
    "v1/Pod": "/api/v1/namespaces/default/pods",
    "apps/v1/Deployment": "/apis/apps/v1/namespaces/default/deployments",
    "batch/v1/CronJob": "/apis/batch/v1/namespaces/default/cronjobs",
    "events.k8s.io/v1/Event": "/apis/events.k8s.io/v1/namespaces/default/events",
}


@settings(
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.sampled_from(sorted(_PATHS)), st.data())
def test_fuzzed_protobuf_bodies_never_make_a_500(
    server_in_a_thread: str, kind: str, data: st.DataObject
) -> None:
    """Schema-guided fuzz (mostly right fields, sometimes wrong wire types) and raw garbage
    through HTTP: a 201 or a client error with a Status, never a 500."""
    api_version, _, kind_name = kind.rpartition("/")
    if data.draw(st.booleans()):
        body = data.draw(fuzzed_object(api_version, kind_name))
    else:
        body = MAGIC + data.draw(st.binary(max_size=64))
    code, status = _post(server_in_a_thread + _PATHS[kind], body)
    assert code in (201, 400, 404, 409, 415, 422), status
    if code != 201:
        assert status["kind"] == "Status"
        assert status["code"] == code


async def test_protobuf_delete_options_are_honoured(apiserver: ApiServer) -> None:
    """A typed client-go DELETE carries protobuf DeleteOptions: its precondition counts."""

    def ld(number: int, data: bytes) -> bytes:
        return bytes([number << 3 | 2, len(data)]) + data

    url = f"{apiserver.url}/api/v1/namespaces/default/configmaps"
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json={"metadata": {"name": "cm"}}) as response:
            assert response.status == 201
        wrong_uid = _envelope("v1", "DeleteOptions", ld(2, ld(1, b"not-the-uid")))
        headers = {"Content-Type": PROTOBUF}
        async with session.delete(f"{url}/cm", data=wrong_uid, headers=headers) as response:
            status = await response.json()
        assert response.status == 409, status
        assert "Precondition failed" in status["message"]
        async with session.delete(
            f"{url}/cm", data=_envelope("v1", "DeleteOptions", b""), headers=headers
        ) as response:
            assert response.status == 200
