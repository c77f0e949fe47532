"""podscaler's own resource types in ``kube.kinds`` are the ones ``api.crds`` installs."""

from __future__ import annotations

import pytest

from podscaler.api.crds import crd_manifests
from podscaler.kube.kinds import OURS
from podscaler.kube.resources import Resource

CRDS = {crd["spec"]["names"]["kind"]: crd["spec"] for crd in crd_manifests()}


@pytest.mark.parametrize("resource", OURS, ids=lambda r: r.kind)
def test_each_of_our_kinds_is_declared_as_its_crd_installs_it(resource: Resource) -> None:
    crd = CRDS[resource.kind]
    version = crd["versions"][0]
    assert (resource.group, resource.version) == (crd["group"], version["name"])
    assert resource.plural == crd["names"]["plural"]
    assert resource.namespaced == (crd["scope"] == "Namespaced")
    assert set(resource.subresources) <= set(version.get("subresources") or {})
