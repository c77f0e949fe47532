"""The CRDs in manifests/crds are generated from the models, and are structural.

If a test here fails after a model change, regenerate with the command the failure prints and
commit the result; never edit the YAML by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from podscaler.api.crds import REGENERATE_COMMAND, crd_file_name, crd_manifests, render_crd

ROOT = Path(__file__).resolve().parents[3]
CRD_DIR = ROOT / "manifests" / "crds"
CRDS = crd_manifests()
IDS = [crd["spec"]["names"]["kind"] for crd in CRDS]


@pytest.mark.parametrize("crd", CRDS, ids=IDS)
def test_committed_crd_matches_the_models(crd: dict[str, Any]) -> None:
    path = CRD_DIR / crd_file_name(crd)
    assert path.exists(), f"{path} is missing; run `{REGENERATE_COMMAND}`"
    assert path.read_text(encoding="utf-8") == render_crd(crd), (
        f"{path.name} has drifted from podscaler.api's models; run `{REGENERATE_COMMAND}`"
    )


def test_no_stray_files_in_the_crd_directory() -> None:
    expected = {crd_file_name(crd) for crd in CRDS}
    assert {path.name for path in CRD_DIR.glob("*.yaml")} == expected


def test_committed_files_parse_back_to_the_same_objects() -> None:
    for crd in CRDS:
        assert yaml.safe_load((CRD_DIR / crd_file_name(crd)).read_text()) == crd


def _schema(crd: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def _nodes(node: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from _nodes(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from _nodes(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from _nodes(node["additionalProperties"], f"{path}{{}}")


@pytest.mark.parametrize("crd", CRDS, ids=IDS)
def test_schema_is_structural(crd: dict[str, Any]) -> None:
    for path, node in _nodes(_schema(crd), "root"):
        assert "$ref" not in node, path
        assert "nullable" not in node, path
        assert "title" not in node, path
        if node.get("x-kubernetes-int-or-string"):
            assert "type" not in node, path
            assert node.get("anyOf") == [{"type": "integer"}, {"type": "string"}], path
            continue
        for combinator in ("anyOf", "oneOf", "allOf", "not"):
            assert combinator not in node, path
        assert node.get("type") in {"object", "array", "string", "integer", "number", "boolean"}, (
            f"{path} has no type"
        )
        if node["type"] == "array":
            assert "items" in node, path
        if "properties" in node:
            assert "additionalProperties" not in node, path


@pytest.mark.parametrize("crd", CRDS, ids=IDS)
def test_every_field_has_a_description(crd: dict[str, Any]) -> None:
    for path, node in _nodes(_schema(crd), "root"):
        if path in {"root.metadata"} or path.endswith(("[]", "{}")):
            continue
        assert node.get("description"), f"{path} has no description"


@pytest.mark.parametrize("crd", CRDS, ids=IDS)
def test_unknown_fields_are_kept_only_where_the_models_keep_them(crd: dict[str, Any]) -> None:
    preserved = {
        path
        for path, node in _nodes(_schema(crd), "root")
        if node.get("x-kubernetes-preserve-unknown-fields")
    }
    allowed = {
        "root.spec.jobTargetRef",
        "root.spec.jobTargetRef.template",
        "root.spec.azureKeyVault",
        "root.spec.gcpSecretManager",
        "root.spec.awsSecretManager",
        # Provider-specific secret fields (versionId, secretKey, ...) are kept as given.
        "root.spec.azureKeyVault.secrets[]",
        "root.spec.gcpSecretManager.secrets[]",
        "root.spec.awsSecretManager.secrets[]",
    }
    assert preserved <= allowed


def test_trigger_metadata_is_a_map_of_strings() -> None:
    spec = _schema(CRDS[0])["properties"]["spec"]
    metadata = spec["properties"]["triggers"]["items"]["properties"]["metadata"]
    assert metadata["type"] == "object"
    assert metadata["additionalProperties"] == {"type": "string"}


def test_quantities_are_int_or_string() -> None:
    spec = _schema(CRDS[0])["properties"]["spec"]
    behavior = spec["properties"]["advanced"]["properties"]["horizontalPodAutoscalerConfig"][
        "properties"
    ]["behavior"]
    tolerance = behavior["properties"]["scaleUp"]["properties"]["tolerance"]
    assert tolerance["x-kubernetes-int-or-string"] is True


def test_names_scope_and_categories() -> None:
    names = {crd["spec"]["names"]["kind"]: crd for crd in CRDS}
    assert {kind: crd["spec"]["names"]["shortNames"] for kind, crd in names.items()} == {
        "ScaledObject": ["so"],
        "ScaledJob": ["sj"],
        "TriggerAuthentication": ["ta"],
        "ClusterTriggerAuthentication": ["cta"],
        "ProportionalScaler": ["ps"],
        "VerticalScaler": ["vsc"],
        "VerticalScalerCheckpoint": ["vsccheckpoint"],
    }
    assert names["ClusterTriggerAuthentication"]["spec"]["scope"] == "Cluster"
    assert {
        crd["spec"]["scope"]
        for kind, crd in names.items()
        if kind != "ClusterTriggerAuthentication"
    } == {"Namespaced"}
    for crd in CRDS:
        assert (
            crd["metadata"]["name"] == f"{crd['spec']['names']['plural']}.autoscaling.podscaler.io"
        )
        assert crd["spec"]["names"]["categories"] == ["podscaler"]
        version = crd["spec"]["versions"][0]
        assert version["name"] == "v1alpha1"
        assert version["subresources"] == {"status": {}}


def test_scaled_object_printer_columns_read_the_conditions() -> None:
    columns = {
        c["name"]: c["jsonPath"] for c in CRDS[0]["spec"]["versions"][0]["additionalPrinterColumns"]
    }
    assert columns["Ready"] == '.status.conditions[?(@.type=="Ready")].status'
    assert columns["Triggers"] == ".spec.triggers[*].type"
    assert list(columns)[:4] == ["ScaleTargetKind", "ScaleTargetName", "Min", "Max"]
    assert {"Active", "Fallback", "Paused", "Age"} <= set(columns)


def test_every_status_has_conditions_and_observed_generation() -> None:
    for crd in CRDS:
        status = _schema(crd)["properties"]["status"]["properties"]
        assert "conditions" in status
        assert "observedGeneration" in status


def test_generator_writes_the_files(tmp_path: Path) -> None:
    from podscaler.api.crds import main

    assert main([str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(crd_file_name(c) for c in CRDS)
