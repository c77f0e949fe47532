"""What kube-apiserver refuses, refused by the embedded server too (issue 17, item 8).

Over HTTP: names per kind (DNS-1123 subdomain, label for Namespaces, DNS-1035 for Services,
52 characters for CronJobs, subdomains for custom resources) with upstream's messages;
metadata of the wrong JSON type (an integer name) is a 400 as from upstream's decoder;
custom resources are pruned and validated against their CRD's openAPIV3Schema (types,
required, enum, bounds, lengths, patterns, items) with upstream's field paths; and
``kubectl apply`` of a ``v1 List`` creates and updates every item.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from podscaler.sim.apiserver.server import ApiServer
from tests.integration.sim.conftest import Kubectl
from tests.integration.sim.test_apiserver_http import Http

CM = "/api/v1/namespaces/default/configmaps"
WIDGETS = "/apis/example.com/v1/namespaces/default/widgets"
SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


@pytest.fixture
async def http(apiserver: ApiServer) -> AsyncIterator[Http]:
    async with aiohttp.ClientSession() as session:
        yield Http(apiserver, session)


def _causes(answer: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["field"], c["message"]) for c in answer["details"]["causes"]]


@pytest.mark.parametrize(
    ("path", "name", "field", "message"),
    [
        (CM, "Web", "metadata.name", f'Invalid value: "Web": {SUBDOMAIN}'),
        (CM, "x" * 254, "metadata.name", "must be no more than 253 characters"),
        (
            "/api/v1/namespaces",
            "a.b",
            "metadata.name",
            "a lowercase RFC 1123 label must consist of",
        ),
        (
            "/api/v1/namespaces/default/services",
            "1web",
            "metadata.name",
            "a DNS-1035 label must consist of",
        ),
        (
            "/apis/batch/v1/namespaces/default/cronjobs",
            "c" * 53,
            "metadata.name",
            "must be no more than 52 characters",
        ),
    ],
)
async def test_names_are_validated_per_kind(
    http: Http, path: str, name: str, field: str, message: str
) -> None:
    body: dict[str, Any] = {"metadata": {"name": name}}
    if path.endswith("services"):
        body["spec"] = {"ports": [{"port": 80}]}
    status, answer = await http.call("POST", path, body)
    assert status == 422, answer
    assert answer["reason"] == "Invalid"
    assert any(f == field and message in m for f, m in _causes(answer)), answer


async def test_generate_name_is_checked_as_a_prefix(http: Http) -> None:
    created = await http.ok("POST", CM, {"metadata": {"generateName": "web-"}})
    assert created["metadata"]["name"].startswith("web-")
    status, answer = await http.call("POST", CM, {"metadata": {"generateName": "Web-"}})
    assert status == 422
    assert "metadata.generateName" in [f for f, _m in _causes(answer)]


@pytest.mark.parametrize(
    ("metadata", "text"),
    [
        ({"name": 5}, "cannot unmarshal number into Go struct field ObjectMeta.metadata.name"),
        ({"name": "a", "labels": {"x": 1}}, "cannot unmarshal number"),
        ({"name": "a", "labels": ["x"]}, "cannot unmarshal array"),
        ({"name": "a", "finalizers": "x"}, "cannot unmarshal string"),
    ],
)
async def test_metadata_of_the_wrong_type_is_a_400(
    http: Http, metadata: dict[str, Any], text: str
) -> None:
    status, answer = await http.call("POST", CM, {"metadata": metadata})
    assert status == 400, answer
    assert answer["reason"] == "BadRequest"
    assert 'ConfigMap in version "v1" cannot be handled as a ConfigMap' in answer["message"]
    assert text in answer["message"]


async def _post_large(http: Http, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    # A file-like body: aiohttp warns (an error here) about large bytes sent in one piece.
    data = io.BytesIO(json.dumps(body).encode())
    headers = {"Content-Type": "application/json"}
    async with http.session.post(http.url + path, data=data, headers=headers) as resp:
        return resp.status, await resp.json()


async def test_configmap_and_secret_data_over_one_mebibyte_is_422(http: Http) -> None:
    big = "x" * (1024 * 1024 + 1)
    status, answer = await _post_large(http, CM, {"metadata": {"name": "big"}, "data": {"k": big}})
    assert status == 422
    assert _causes(answer) == [("[]", "Too long: must have at most 1048576 bytes")]
    status, answer = await _post_large(
        http,
        "/api/v1/namespaces/default/secrets",
        {"metadata": {"name": "big"}, "stringData": {"k": big}},
    )
    assert status == 422
    assert _causes(answer) == [("data", "Too long: must have at most 1048576 bytes")]
    status, _ = await _post_large(
        http, CM, {"metadata": {"name": "fits"}, "data": {"k": "x" * 1024 * 1024}}
    )
    assert status == 201


WIDGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["spec"],
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": 1, "maximum": 10},
                "color": {"type": "string", "enum": ["red", "blue"]},
                "code": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 5},
                "ratio": {"type": "number", "exclusiveMinimum": True, "minimum": 0},
                "port": {"x-kubernetes-int-or-string": True},
                "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "optional": {"type": "string", "nullable": True},
            },
        },
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
    },
}


@pytest.fixture
async def widgets(http: Http) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": WIDGET_SCHEMA},
                }
            ],
        },
    }
    await http.ok("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)


def widget(name: str = "w", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"size": 3, **spec},
    }


@pytest.mark.usefixtures("widgets")
@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        (
            {"size": "thirty"},
            "spec.size",
            'Invalid value: "string": spec.size in body must be of type integer: "string"',
        ),
        (
            {"size": 0},
            "spec.size",
            "Invalid value: 0: spec.size in body should be greater than or equal to 1",
        ),
        (
            {"size": 11},
            "spec.size",
            "Invalid value: 11: spec.size in body should be less than or equal to 10",
        ),
        (
            {"color": "green"},
            "spec.color",
            'Unsupported value: "green": supported values: "red", "blue"',
        ),
        (
            {"code": "ABC"},
            "spec.code",
            "Invalid value: \"ABC\": spec.code in body should match '^[a-z]+$'",
        ),
        ({"code": "abcdef"}, "spec.code", "Too long: may not be longer than 5"),
        (
            {"ratio": 0},
            "spec.ratio",
            "Invalid value: 0: spec.ratio in body should be greater than 0",
        ),
        (
            {"port": True},
            "spec.port",
            'Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"',
        ),
        ({"tags": ["a", "b", "c"]}, "spec.tags", "Too many: 3: must have at most 2 items"),
        (
            {"tags": [1]},
            "spec.tags[0]",
            'Invalid value: "integer": spec.tags[0] in body must be of type string: "integer"',
        ),
        (
            {"labels": {"k": 1}},
            "spec.labels[k]",
            'Invalid value: "integer": spec.labels[k] in body must be of type string: "integer"',
        ),
        (
            {"color": None},
            "spec.color",
            'Invalid value: "null": spec.color in body must be of type string: "null"',
        ),
    ],
)
async def test_custom_resources_are_validated_against_their_schema(
    http: Http, spec: dict[str, Any], field: str, message: str
) -> None:
    status, answer = await http.call("POST", WIDGETS, widget(**spec))
    assert status == 422, answer
    assert answer["message"].startswith('Widget.example.com "w" is invalid: ')
    assert (field, message) in _causes(answer), answer


@pytest.mark.usefixtures("widgets")
async def test_required_fields_and_updates_and_status_are_validated(http: Http) -> None:
    status, answer = await http.call("POST", WIDGETS, {**widget(), "spec": {}})
    assert status == 422
    assert ("spec.size", "Required value") in _causes(answer)
    status, answer = await http.call(
        "POST", WIDGETS, {k: v for k, v in widget().items() if k != "spec"}
    )
    assert status == 422
    assert ("spec", "Required value") in _causes(answer)

    created = await http.ok("POST", WIDGETS, widget(port="http", optional=None))
    status, answer = await http.call(
        "PATCH", f"{WIDGETS}/w", {"spec": {"size": "big"}}, ctype="application/merge-patch+json"
    )
    assert status == 422
    created["spec"]["size"] = 20
    status, answer = await http.call("PUT", f"{WIDGETS}/w", created)
    assert status == 422
    status, answer = await http.call(
        "PATCH",
        f"{WIDGETS}/w/status",
        {"status": {"ready": "yes"}},
        ctype="application/merge-patch+json",
    )
    assert status == 422
    assert answer["details"]["causes"][0]["field"] == "status.ready"
    await http.ok(
        "PATCH",
        f"{WIDGETS}/w/status",
        {"status": {"ready": True, "extra": 1}},
        ctype="application/merge-patch+json",
    )
    stored = await http.ok("GET", f"{WIDGETS}/w")
    assert stored["status"] == {"ready": True}  # pruned


@pytest.mark.usefixtures("widgets")
async def test_unknown_fields_are_pruned_unless_preserved(http: Http) -> None:
    body = widget(unknown="x", free={"anything": {"goes": 1}}, labels={"a": "b"})
    body["extra"] = {"top": 1}
    body["metadata"]["labels"] = {"keep": "me"}
    created = await http.ok("POST", WIDGETS, body)
    assert created["spec"] == {
        "size": 3,
        "free": {"anything": {"goes": 1}},
        "labels": {"a": "b"},
    }
    assert "extra" not in created
    assert created["metadata"]["labels"] == {"keep": "me"}


LIST = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: one
  data:
    a: "{value}"
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: two
"""


@pytest.mark.kubectl
async def test_kubectl_apply_accepts_a_v1_list(kubectl: Kubectl, tmp_path: Path) -> None:
    manifest = tmp_path / "list.yaml"
    manifest.write_text(LIST.format(value="1"))
    assert (await kubectl("apply", "-f", str(manifest))).split() == [
        "configmap/one",
        "created",
        "configmap/two",
        "created",
    ]
    manifest.write_text(LIST.format(value="2"))
    assert "configmap/one configured" in await kubectl("apply", "-f", str(manifest))
    stored = json.loads(await kubectl("get", "configmap", "one", "-o", "json"))
    assert stored["data"] == {"a": "2"}
    # An invalid item is refused by the server, with its reason.
    manifest.write_text(LIST.format(value="3").replace("name: two", "name: Two"))
    answer = await kubectl("apply", "-f", str(manifest), ok=False)
    assert "a lowercase RFC 1123 subdomain" in answer
