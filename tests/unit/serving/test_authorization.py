"""SubjectAccessReview attributes and denial messages, as kube-apiserver words them (no server;
the reviews themselves are tested over HTTP in ``tests/integration/serving``)."""

from __future__ import annotations

from podscaler.serving.authentication import UserInfo
from podscaler.serving.authorization import Attributes, forbidden_message

ALICE = UserInfo(name="alice", groups=("readers",))


def test_resource_attributes_leave_out_what_is_empty() -> None:
    attributes = Attributes(
        verb="list", group="external.metrics.k8s.io", version="v1beta1", resource="m", namespace="a"
    )
    assert attributes.spec() == {
        "resourceAttributes": {
            "verb": "list",
            "group": "external.metrics.k8s.io",
            "version": "v1beta1",
            "resource": "m",
            "namespace": "a",
        }
    }
    assert Attributes(verb="get", path="/apis").spec() == {
        "nonResourceAttributes": {"path": "/apis", "verb": "get"}
    }


def test_denials_read_like_kube_apiservers() -> None:
    namespaced = Attributes(verb="list", group="g.io", resource="things", namespace="team-a")
    assert forbidden_message(ALICE, namespaced) == (
        'User "alice" cannot list resource "things" in API group "g.io" in the namespace "team-a"'
    )
    cluster = Attributes(verb="create", group="admission.k8s.io", resource="admissionreviews")
    assert forbidden_message(ALICE, cluster) == (
        'User "alice" cannot create resource "admissionreviews" in API group '
        '"admission.k8s.io" at the cluster scope'
    )
    assert forbidden_message(ALICE, Attributes(verb="get", path="/apis")) == (
        'User "alice" cannot get path "/apis"'
    )
