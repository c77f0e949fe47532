"""Label and field selectors: the string grammar kubectl sends, the structured
metav1.LabelSelector, matching, canonical strings, and which field labels each kind accepts."""

from __future__ import annotations

import contextlib
import string
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podscaler.api.selectors import (
    FieldSelector,
    LabelSelector,
    Operator,
    Requirement,
    SelectorError,
    field_set,
    parse_field_selector,
    parse_label_selector,
    supported_fields,
)

# --- label selector string form ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("", {}, True),
        ("   ", {"a": "b"}, True),
        ("app=web", {"app": "web"}, True),
        ("app==web", {"app": "web"}, True),
        ("app=web", {"app": "db"}, False),
        ("app=web", {}, False),
        ("app!=web", {}, True),
        ("app!=web", {"app": "web"}, False),
        ("tier in (front, back)", {"tier": "back"}, True),
        ("tier in (front,back)", {"tier": "db"}, False),
        ("tier notin (front)", {}, True),
        ("tier notin (front)", {"tier": "front"}, False),
        ("tier", {"tier": ""}, True),
        ("!tier", {"tier": ""}, False),
        ("!tier", {}, True),
        ("app=web,tier!=db", {"app": "web", "tier": "front"}, True),
        ("app=web , tier!=db", {"app": "web", "tier": "db"}, False),
        ("app=", {"app": ""}, True),
        ("app=", {}, False),
        ("example.com/role=x", {"example.com/role": "x"}, True),
        ("a=in", {"a": "in"}, True),
        ("a in (notin)", {"a": "notin"}, True),
        ("replicas>3", {"replicas": "4"}, True),
        ("replicas>3", {"replicas": "3"}, False),
        ("replicas<3", {"replicas": "x"}, False),
        ("replicas<3", {}, False),
    ],
)
def test_label_selector_matches_like_kubernetes(
    text: str, labels: dict[str, str], expected: bool
) -> None:
    assert parse_label_selector(text).matches(labels) is expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a b", "found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("a=b,", "identifier after ','"),
        ("a=b c", "expected: ',' or 'end of string'"),
        (",a", "expected: !, identifier, or 'end of string'"),
        ("in=x", "found 'in', expected: identifier"),
        ("a in x", "expected: '('"),
        ("a in ()", "values set can't be empty"),
        ("a in (b", "expected: ',' or ')'"),
        ("!a=b", "expected: ',' or 'end of string'"),
        ("a=(", "found '(', expected: identifier"),
        ("Foo_=x", "name part must consist of alphanumeric"),
        ("a=b_", "a valid label must be an empty string"),
        ("x" * 64 + "=y", "name part must be no more than 63 characters"),
        ("a=" + "v" * 64, "must be no more than 63 characters"),
        ("Example.com/a=b", "prefix part a lowercase RFC 1123 subdomain"),
        ("/a=b", "prefix part must be non-empty"),
        ("a/b/c=d", "a qualified name must consist"),
        ("a>x", "the value must be an integer"),
    ],
)
def test_label_selector_errors_name_the_offending_part(text: str, fragment: str) -> None:
    with pytest.raises(SelectorError, match="unable to parse requirement") as info:
        parse_label_selector(text)
    assert fragment in str(info.value)


def test_label_selector_string_is_canonical() -> None:
    s = parse_label_selector("z notin (b,a,a), !y,  x==1 ,w")
    assert str(s) == "w,x=1,!y,z notin (a,b)"
    assert parse_label_selector(str(s)) == s
    assert parse_label_selector("b=1,a=2") == parse_label_selector("a=2,b=1")


def test_everything_and_is_empty() -> None:
    assert LabelSelector.everything().is_empty
    assert parse_label_selector("").is_empty
    assert str(LabelSelector.everything()) == ""
    assert not parse_label_selector("a").is_empty
    assert LabelSelector.everything().matches(None)


# --- structured metav1.LabelSelector ------------------------------------------------------------


def test_from_dict_combines_match_labels_and_expressions() -> None:
    s = LabelSelector.from_dict(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["front", "edge"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "env", "operator": "NotIn", "values": ["dev"]},
                {"key": "owner", "operator": "Exists"},
            ],
        }
    )
    assert str(s) == "app=web,!canary,env notin (dev),owner,tier in (edge,front)"
    assert s.matches({"app": "web", "tier": "edge", "owner": "me"})
    assert not s.matches({"app": "web", "tier": "edge", "owner": "me", "canary": "1"})
    assert LabelSelector.from_dict({}) == LabelSelector.everything()
    assert LabelSelector.from_dict({"matchLabels": None, "matchExpressions": None}).is_empty


@pytest.mark.parametrize(
    ("obj", "fragment"),
    [
        ({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}, "operator"),
        ({"matchExpressions": [{"key": "a", "operator": "In"}]}, "must be specified"),
        (
            {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
            "may not be specified",
        ),
        ({"matchExpressions": [{"operator": "Exists"}]}, "matchExpressions[0].key"),
        ({"matchLabels": {"a": "b c"}}, "a valid label"),
        ({"matchLabels": {"-a": "b"}}, "name part"),
        ({"matchLabels": ["a"]}, "matchLabels"),
        ({"matchExpressions": {"a": 1}}, "matchExpressions"),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": "x"}]}, "values"),
    ],
)
def test_from_dict_rejects_what_apimachinery_rejects(obj: dict[str, Any], fragment: str) -> None:
    with pytest.raises(SelectorError) as info:
        LabelSelector.from_dict(obj)
    assert fragment in str(info.value)


def test_from_labels_is_the_equality_selector() -> None:
    assert LabelSelector.from_labels({"b": "2", "a": "1"}) == parse_label_selector("a=1,b=2")


# --- hypothesis: round trip, reference model, robustness ----------------------------------------

_ALNUM = string.ascii_letters + string.digits
_name = st.builds(
    lambda first, middle, last: first + middle + last if middle or last else first,
    st.sampled_from(_ALNUM),
    st.text(_ALNUM + "-_.", max_size=8),
    st.sampled_from(_ALNUM),
).filter(lambda n: n not in ("in", "notin"))
_prefix = st.lists(
    st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=5), min_size=1, max_size=3
).map(".".join)
_key = st.one_of(_name, st.builds(lambda p, n: f"{p}/{n}", _prefix, _name))
_value = st.one_of(st.just(""), _name)


@st.composite
def _requirements(draw: st.DrawFn) -> Requirement:
    key = draw(_key)
    op = draw(st.sampled_from(list(Operator)))
    if op in (Operator.IN, Operator.NOT_IN):
        values = draw(st.lists(_value, min_size=1, max_size=4))
    elif op in (Operator.EQUALS, Operator.NOT_EQUALS):
        values = [draw(_value)]
    elif op in (Operator.GREATER_THAN, Operator.LESS_THAN):
        values = [str(draw(st.integers(0, 10**6)))]
    else:
        values = []
    return Requirement.build(key, op, values)


_selectors = st.lists(_requirements(), max_size=5).map(lambda rs: LabelSelector(tuple(rs)))


@given(_selectors)
def test_string_form_round_trips(selector: LabelSelector) -> None:
    assert parse_label_selector(str(selector)) == selector


def _reference(req: Requirement, labels: dict[str, str]) -> bool:
    """Kubernetes' matching rules, written out case by case rather than as the implementation."""
    value = labels.get(req.key)
    op = req.operator
    if op is Operator.EXISTS:
        return value is not None
    if op is Operator.DOES_NOT_EXIST:
        return value is None
    if value is None:
        return op in (Operator.NOT_EQUALS, Operator.NOT_IN)
    if op in (Operator.EQUALS, Operator.IN):
        return value in req.values
    if op in (Operator.NOT_EQUALS, Operator.NOT_IN):
        return value not in req.values
    if not value.isdigit():
        return False
    if op is Operator.GREATER_THAN:
        return int(value) > int(req.values[0])
    return int(value) < int(req.values[0])


@given(_selectors, st.dictionaries(_key, st.one_of(_value, st.integers(0, 99).map(str))))
def test_matching_agrees_with_the_reference_model(
    selector: LabelSelector, labels: dict[str, str]
) -> None:
    expected = all(_reference(r, labels) for r in selector.requirements)
    assert selector.matches(labels) is expected


@given(st.text(alphabet=st.sampled_from("ab=!,() \t-_./in<>xyz\\é"), max_size=30) | st.text())
def test_arbitrary_text_raises_only_selector_error(text: str) -> None:
    for parse in (parse_label_selector, parse_field_selector):
        with contextlib.suppress(SelectorError):
            parse(text)


# --- field selectors ------------------------------------------------------------------------------


def test_field_selector_terms_and_escapes() -> None:
    s = parse_field_selector(r"metadata.name=a\,b\=c\\d,status.phase!=Running,,spec.nodeName==")
    assert s.requirements == (
        ("metadata.name", "=", "a,b=c\\d"),
        ("spec.nodeName", "=", ""),
        ("status.phase", "!=", "Running"),
    )
    assert parse_field_selector(str(s)) == s
    assert s.matches({"metadata.name": "a,b=c\\d", "status.phase": "Pending"})
    assert not s.matches({"metadata.name": "a,b=c\\d", "status.phase": "Running"})
    assert not s.matches({"metadata.name": "a,b=c\\d", "spec.nodeName": "n1"})
    assert parse_field_selector("").is_empty
    assert FieldSelector.everything().matches({})


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("metadata.name", "can't understand 'metadata.name'"),
        (r"a=b\x", r"invalid escape sequence: \x"),
        ("a=b\\", "invalid escape sequence"),
        ("a=b=c", "unescaped character in value: ="),
    ],
)
def test_field_selector_errors(text: str, fragment: str) -> None:
    with pytest.raises(SelectorError) as info:
        parse_field_selector(text)
    assert fragment in str(info.value)


def test_field_labels_are_checked_per_kind() -> None:
    sel = parse_field_selector("spec.host=n1,status.phase=Running")
    assert sel.for_kind("Pod").requirements == (
        ("spec.nodeName", "=", "n1"),
        ("status.phase", "=", "Running"),
    )
    with pytest.raises(SelectorError, match=r"field label not supported: spec\.host"):
        sel.for_kind("ConfigMap")
    with pytest.raises(SelectorError, match=r"field label not supported: metadata\.namespace"):
        parse_field_selector("metadata.namespace=x").for_kind("Node")
    assert "spec.unschedulable" in supported_fields("Node")
    assert "regarding.name" in supported_fields("Event", "events.k8s.io")
    assert "involvedObject.name" in supported_fields("Event")
    assert supported_fields("ScaledObject", "autoscaling.podscaler.io") == {
        "metadata.name",
        "metadata.namespace",
    }


def test_pod_field_set_feeds_the_usual_controller_queries() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "default"},
        "spec": {"nodeName": "n1", "schedulerName": "default-scheduler"},
        "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.7"}]},
    }
    fields = field_set(pod, "Pod")
    assert fields["status.podIP"] == "10.0.0.7"
    assert fields["spec.hostNetwork"] == "false"
    assert fields["spec.serviceAccountName"] == ""
    assert parse_field_selector("spec.nodeName=n1,status.phase!=Failed").matches(fields)
    assert not parse_field_selector("spec.nodeName=").matches(fields)


def test_event_field_set_answers_kubectl_describe() -> None:
    core = {
        "apiVersion": "v1",
        "metadata": {"name": "web.1", "namespace": "default"},
        "involvedObject": {
            "kind": "Deployment",
            "name": "web",
            "namespace": "default",
            "uid": "u-1",
        },
        "reason": "ScalingReplicaSet",
        "source": {"component": "deployment-controller"},
        "reportingComponent": "deployment-controller",
        "type": "Normal",
    }
    describe = parse_field_selector(
        "involvedObject.name=web,involvedObject.namespace=default,"
        "involvedObject.kind=Deployment,involvedObject.uid=u-1"
    ).for_kind("Event")
    fields = field_set(core, "Event")
    assert describe.matches(fields)
    assert fields["source"] == "deployment-controller"
    new = {
        "apiVersion": "events.k8s.io/v1",
        "metadata": {"name": "web.2", "namespace": "default"},
        "regarding": {"kind": "Deployment", "name": "web"},
        "reportingController": "podscaler",
        "type": "Warning",
    }
    fields = field_set(new, "Event")
    assert fields["regarding.kind"] == "Deployment"
    assert fields["reportingController"] == "podscaler"
    assert "involvedObject.kind" not in fields


@pytest.mark.parametrize(
    ("obj", "kind", "group", "field", "value"),
    [
        ({"spec": {"unschedulable": True}}, "Node", "", "spec.unschedulable", "true"),
        ({}, "Node", "", "spec.unschedulable", "false"),
        ({"type": "kubernetes.io/tls"}, "Secret", "", "type", "kubernetes.io/tls"),
        ({"status": {"phase": "Active"}}, "Namespace", "", "status.phase", "Active"),
        ({"status": {"replicas": 3}}, "ReplicaSet", "apps", "status.replicas", "3"),
        ({}, "ReplicaSet", "apps", "status.replicas", "0"),
        ({"status": {"succeeded": 2}}, "Job", "batch", "status.successful", "2"),
        ({"spec": {"type": "ClusterIP"}}, "Service", "", "spec.type", "ClusterIP"),
    ],
)
def test_field_set_per_kind(
    obj: dict[str, Any], kind: str, group: str, field: str, value: str
) -> None:
    fields = field_set(obj, kind, group)
    assert fields[field] == value
    assert set(fields) <= supported_fields(kind, group) | {"metadata.namespace"}
