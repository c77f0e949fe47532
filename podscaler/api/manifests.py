"""Offline validation of manifest files, for ``podscaler validate FILE...``.

A file is a YAML stream of documents. Each document of one of our kinds is validated with the
same rules the operator applies; other kinds are reported as skipped (info), so piping a whole
kustomize build through it works. Findings carry the line of the field they are about where the
YAML says it, so an editor can jump there.

Upstream VerticalPodAutoscalers (``autoscaling.k8s.io``) are validated as VerticalScalers, with a
warning that apiVersion and kind are the two changes a port needs.

KEDA manifests (``apiVersion: keda.sh/v1alpha1``) are validated too, with a warning that the
apiVersion must become ``autoscaling.podscaler.io/v1alpha1`` for podscaler to act on them: the
schemas are the same, so this is the one change a port needs, and checking everything else at the
same time tells users whether the port will work.

Triggers are checked beyond their schema when the caller passes a :data:`TriggerChecker`: the
scalers' own parsers, which this layer cannot import (``podscaler validate`` passes
:func:`scalers.offline.check_triggers_offline`), so validate and the operator agree on them.

Nothing here raises on bad input: any text gives a list of findings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

import pydantic
import yaml

from podscaler.api.meta import GROUP_VERSION, KEDA_GROUP_VERSION
from podscaler.api.metadatachecks import metadata_problems
from podscaler.api.placeholders import placeholder_hint, placeholder_paths
from podscaler.api.proportionalscaler import proportional_scaler_problems
from podscaler.api.triggers import ScaleTrigger
from podscaler.api.validation import (
    Problem,
    name_warnings,
    scaled_job_problems,
    scaled_object_problems,
    scaled_object_warnings,
    trigger_authentication_problems,
)
from podscaler.api.verticalchecks import (
    is_upstream_vpa,
    upstream_vpa_port_note,
    vertical_scaler_checkpoint_findings,
    vertical_scaler_findings,
)

__all__ = [
    "ConfigMapChecker",
    "Finding",
    "PodIdentities",
    "Severity",
    "TriggerChecker",
    "pod_identities_of",
    "validate_documents",
]

Severity = Literal["error", "warning", "info"]


class TriggerChecker(Protocol):
    """Checks an object's triggers, given as ``(index in spec.triggers, trigger)``; returns
    ``(severity, problem)`` pairs with paths from the object's root (``spec.triggers[0]…``).
    ``pod_identities`` maps a trigger's index to the ``podIdentity.provider`` of the
    TriggerAuthentication it names, where that object was among the manifests checked."""

    def __call__(
        self,
        triggers: Sequence[tuple[int, ScaleTrigger]],
        /,
        *,
        pod_identities: Mapping[int, str] | None = None,
    ) -> list[tuple[Severity, Problem]]: ...


#: ``podIdentity.provider`` of each (Cluster)TriggerAuthentication in the manifests, by
#: ``(kind, name)``: a list of ``(namespace or None, provider)``, since a manifest without a
#: namespace lands in whichever the client uses.
PodIdentities = Mapping[tuple[str, str], Sequence[tuple[str | None, str]]]
_AUTH_KINDS: Final = ("TriggerAuthentication", "ClusterTriggerAuthentication")

#: Checks a ConfigMap of cluster-proportional-autoscaler parameters (``data.linear`` or
#: ``data.ladder``), as a ProportionalScaler's ``configMapRef`` reads it; problems have paths
#: from the object's root (``data.ladder``). ``podscaler validate`` passes the engine's parser.
ConfigMapChecker = Callable[[Mapping[str, Any]], list[Problem]]
#: The keys that make a ConfigMap one of cluster-proportional-autoscaler's.
_CPA_KEYS: Final = ("linear", "ladder")

#: Kinds whose ``spec.triggers`` are scaler triggers.
_TRIGGER_KINDS: Final = frozenset({"ScaledObject", "ScaledJob"})
#: Kinds without a namespace (the API server ignores one written on them).
_CLUSTER_SCOPED_KINDS: Final = frozenset({"ClusterTriggerAuthentication"})


@dataclass(frozen=True)
class Finding:
    """One thing to report about one document of a file.

    ``document_index`` counts documents in the stream from 0; ``line`` (1-based) is where the
    offending field (or the document) starts, when known.
    """

    source: str
    document_index: int
    kind: str
    name: str
    path: str
    message: str
    severity: Severity
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        subject = f"{self.kind}/{self.name}" if self.name else self.kind or "document"
        field = f" {self.path}:" if self.path else ""
        return f"{where}: {self.severity}: {subject}{field} {self.message}"


def _scaled_object(obj: Mapping[str, Any]) -> tuple[list[Problem], list[Problem]]:
    so, problems = scaled_object_problems(obj)
    warnings = [*scaled_object_warnings(so.spec), *name_warnings(so)] if so is not None else []
    return problems, warnings


_VALIDATORS: Final[
    dict[str, Callable[[Mapping[str, Any]], tuple[list[Problem], list[Problem]]]]
] = {
    "ScaledObject": _scaled_object,
    "ScaledJob": lambda obj: (scaled_job_problems(obj)[1], []),
    "TriggerAuthentication": lambda obj: (trigger_authentication_problems(obj)[1], []),
    "ClusterTriggerAuthentication": lambda obj: (
        trigger_authentication_problems(obj, cluster=True)[1],
        [],
    ),
    "ProportionalScaler": lambda obj: (proportional_scaler_problems(obj)[1], []),
    "VerticalScaler": vertical_scaler_findings,
    "VerticalScalerCheckpoint": vertical_scaler_checkpoint_findings,
}

_PATH_PART: Final = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]")


def _line_of(node: yaml.Node | None, path: str) -> int | None:
    """1-based line of the node at *path* (``spec.triggers[0].name``), or of its nearest parent."""
    if node is None:
        return None
    line: int = node.start_mark.line + 1
    for match in _PATH_PART.finditer(path):
        key, index, quoted = match.groups()
        child: yaml.Node | None = None
        if index is not None and isinstance(node, yaml.SequenceNode):
            position = int(index)
            child = node.value[position] if position < len(node.value) else None
        elif isinstance(node, yaml.MappingNode):
            wanted = key if key is not None else quoted
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == wanted:
                    child = value_node
                    line = key_node.start_mark.line + 1
                    break
        if child is None:
            break
        node = child
        if not isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            line = node.start_mark.line + 1
    return line


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _is_cpa_config_map(api_version: str, kind: str, data: Mapping[str, Any]) -> bool:
    content = data.get("data")
    return (
        api_version == "v1"
        and kind == "ConfigMap"
        and isinstance(content, Mapping)
        and any(key in content for key in _CPA_KEYS)
    )


def _cpa_config_map_findings(
    source: str,
    index: int,
    data: Mapping[str, Any],
    node: yaml.Node | None,
    checker: ConfigMapChecker,
) -> list[Finding]:
    """A ConfigMap holding ``linear`` or ``ladder``: checked as cluster-proportional-autoscaler
    would read it (and a ProportionalScaler's ``configMapRef`` does), so a port keeps it."""
    metadata = data.get("metadata")
    name = _text(metadata.get("name")) if isinstance(metadata, Mapping) else ""
    note = (
        "checked as cluster-proportional-autoscaler parameters (a ProportionalScaler's "
        "configMapRef reads this ConfigMap as it is)"
    )
    problems = [*metadata_problems(metadata), *checker(data)]
    return [
        Finding(source, index, "ConfigMap", name, "data", note, "info", _line_of(node, "data")),
        *(
            Finding(
                source,
                index,
                "ConfigMap",
                name,
                problem.path,
                problem.message,
                "error",
                _line_of(node, problem.path),
            )
            for problem in problems
        ),
    ]


def _not_a_mapping(data: Any) -> str:
    """The message for a document that is not an object; the subject already says
    "document". A lone word is most often a symbolic link checked out as a text file."""
    if isinstance(data, str) and "\n" not in data.strip() and len(data) <= 200:
        return (
            f"is the text {data!r}, not a mapping (an object); a symbolic link checked out "
            "as a plain file reads like this"
        )
    what = "a list" if isinstance(data, list) else f"a {type(data).__name__}"
    return f"is {what}, not a mapping (an object)"


def _placeholder_warnings(
    data: Mapping[str, Any], found: Sequence[tuple[Severity, Problem]]
) -> list[Problem]:
    """A warning for each value of ``spec`` still holding a template placeholder, unless a
    finding is already about that value (a quantity or an integer refused for its syntax)."""
    reported = {problem.path for _, problem in found}
    return [
        Problem(path, f"{placeholder!r} looks like a template placeholder that was never filled in")
        for path, placeholder in placeholder_paths(data.get("spec"), "spec")
        if path not in reported
    ]


def _namespace_of(data: Mapping[str, Any]) -> str | None:
    metadata = data.get("metadata")
    namespace = metadata.get("namespace") if isinstance(metadata, Mapping) else None
    return namespace if isinstance(namespace, str) and namespace else None


def pod_identities_of(texts: Sequence[str]) -> dict[tuple[str, str], list[tuple[str | None, str]]]:
    """The pod identity providers of the TriggerAuthentications in *texts* (YAML streams;
    unreadable ones are skipped: their syntax errors are reported where they are validated)."""
    found: dict[tuple[str, str], list[tuple[str | None, str]]] = {}
    for text in texts:
        try:
            documents = list(yaml.safe_load_all(text))
        except (yaml.YAMLError, ValueError, TypeError, RecursionError, OverflowError):
            continue
        for data in documents:
            if not isinstance(data, Mapping) or data.get("kind") not in _AUTH_KINDS:
                continue
            if data.get("apiVersion") not in (GROUP_VERSION, KEDA_GROUP_VERSION):
                continue
            metadata, spec = data.get("metadata"), data.get("spec")
            name = metadata.get("name") if isinstance(metadata, Mapping) else None
            identity = spec.get("podIdentity") if isinstance(spec, Mapping) else None
            provider = identity.get("provider") if isinstance(identity, Mapping) else None
            if isinstance(name, str):
                entry = (_namespace_of(data), provider if isinstance(provider, str) else "")
                found.setdefault((str(data["kind"]), name), []).append(entry)
    return found


def _trigger_pod_identities(
    data: Mapping[str, Any],
    triggers: Sequence[tuple[int, ScaleTrigger]],
    identities: PodIdentities,
) -> dict[int, str]:
    """For each trigger whose authenticationRef names a TriggerAuthentication among the
    manifests, that object's pod identity provider, as the operator would resolve it."""
    namespace = _namespace_of(data)
    out: dict[int, str] = {}
    for index, trigger in triggers:
        ref = trigger.authentication_ref
        if ref is None:
            continue
        cluster = ref.effective_kind == "ClusterTriggerAuthentication"
        for candidate, provider in identities.get((ref.effective_kind, ref.name), ()):
            if cluster or candidate is None or namespace is None or candidate == namespace:
                out[index] = provider
                break
    return out


def _auth_kind_mixups(
    triggers: Sequence[tuple[int, ScaleTrigger]], identities: PodIdentities | None
) -> list[Problem]:
    """An ``authenticationRef`` without ``kind`` names a TriggerAuthentication; when the
    manifests define no such object but a ClusterTriggerAuthentication of that name (or the
    other way round), the operator will not find it: say which ``kind`` was meant."""
    if not identities:
        return []
    problems: list[Problem] = []
    for index, trigger in triggers:
        ref = trigger.authentication_ref
        if ref is None or (ref.effective_kind, ref.name) in identities:
            continue
        other = next((k for k in _AUTH_KINDS if k != ref.effective_kind), "")
        if (other, ref.name) in identities:
            problems.append(
                Problem(
                    f"spec.triggers[{index}].authenticationRef",
                    f"names {ref.effective_kind} {ref.name!r}, but the manifests define a "
                    f"{other} of that name and no {ref.effective_kind}: set kind: {other}",
                )
            )
    return problems


def _triggers_of(data: Mapping[str, Any]) -> list[tuple[int, ScaleTrigger]]:
    """The triggers of ``spec.triggers`` that parse as triggers, with their indexes: the rest
    of the object may be invalid (reported already) and the triggers still worth checking."""
    spec = data.get("spec")
    raw = spec.get("triggers") if isinstance(spec, Mapping) else None
    if not isinstance(raw, list):
        return []
    out: list[tuple[int, ScaleTrigger]] = []
    for index, item in enumerate(raw):
        try:
            out.append((index, ScaleTrigger.model_validate(item)))
        except pydantic.ValidationError:
            continue  # the schema check reported it
    return out


def _validate_document(
    source: str,
    index: int,
    data: Any,
    node: yaml.Node | None,
    trigger_checker: TriggerChecker | None = None,
    identities: PodIdentities | None = None,
    config_map_checker: ConfigMapChecker | None = None,
) -> list[Finding]:
    doc_line = node.start_mark.line + 1 if node is not None else None
    if data is None:
        return []
    if not isinstance(data, Mapping):
        return [
            Finding(
                source,
                index,
                "",
                "",
                "",
                _not_a_mapping(data),
                "error",
                doc_line,
            )
        ]
    kind = _text(data.get("kind"))
    metadata = data.get("metadata")
    name = _text(metadata.get("name")) if isinstance(metadata, Mapping) else ""
    api_version = _text(data.get("apiVersion"))
    group = api_version.split("/", 1)[0] if "/" in api_version else ""
    ours = api_version in (GROUP_VERSION, KEDA_GROUP_VERSION)
    port_note = upstream_vpa_port_note(api_version) if is_upstream_vpa(api_version, kind) else None
    if port_note is not None:
        ours, kind = True, "VerticalScaler"
    if config_map_checker is not None and _is_cpa_config_map(api_version, kind, data):
        return _cpa_config_map_findings(source, index, data, node, config_map_checker)
    if not ours or kind not in _VALIDATORS:
        if group in ("autoscaling.podscaler.io", "keda.sh"):
            message = (
                f"unknown kind {kind!r} for {api_version}; expected one of "
                f"{', '.join(_VALIDATORS)} in {GROUP_VERSION}"
            )
            return [Finding(source, index, kind, name, "kind", message, "error", doc_line)]
        label = f"{api_version or '?'} {kind or '?'}"
        return [
            Finding(
                source,
                index,
                kind,
                name,
                "",
                f"skipped: {label} is not a podscaler resource",
                "info",
                doc_line,
            )
        ]
    findings: list[Finding] = []
    if port_note is not None:
        line = _line_of(node, "apiVersion")
        findings.append(
            Finding(source, index, kind, name, "apiVersion", port_note, "warning", line)
        )
    if api_version == KEDA_GROUP_VERSION:
        findings.append(
            Finding(
                source,
                index,
                kind,
                name,
                "apiVersion",
                f"{KEDA_GROUP_VERSION} is KEDA's API; change apiVersion to {GROUP_VERSION} for "
                "podscaler to act on it (the rest of the schema is the same)",
                "warning",
                _line_of(node, "apiVersion"),
            )
        )
    problems, warnings = _VALIDATORS[kind](data)
    problems = [
        *metadata_problems(metadata, namespaced=kind not in _CLUSTER_SCOPED_KINDS),
        *problems,
    ]
    found: list[tuple[Severity, Problem]] = [
        *(("error", problem) for problem in problems),
        *(("warning", problem) for problem in warnings),
    ]
    if trigger_checker is not None and kind in _TRIGGER_KINDS:
        triggers = _triggers_of(data)
        providers = _trigger_pod_identities(data, triggers, identities or {})
        found.extend(trigger_checker(triggers, pod_identities=providers))
        found.extend(("warning", problem) for problem in _auth_kind_mixups(triggers, identities))
    found.extend(("warning", problem) for problem in _placeholder_warnings(data, found))
    findings.extend(
        Finding(
            source,
            index,
            kind,
            name,
            problem.path,
            problem.message,
            severity,
            _line_of(node, problem.path),
        )
        for severity, problem in found
    )
    return findings


def validate_documents(
    text: str,
    source: str,
    *,
    trigger_checker: TriggerChecker | None = None,
    identities: PodIdentities | None = None,
    config_map_checker: ConfigMapChecker | None = None,
) -> list[Finding]:
    """Validate every document of the YAML stream *text* (read from *source*, for messages);
    ``trigger_checker`` adds what the scalers say about each trigger, knowing the pod identity
    of the TriggerAuthentications in ``identities`` (by default those of *text* itself; the
    command passes those of every file it reads, see :func:`pod_identities_of`); with
    ``config_map_checker``, ConfigMaps of cluster-proportional-autoscaler are checked too."""
    if identities is None and trigger_checker is not None:
        identities = pod_identities_of([text])
    findings: list[Finding] = []
    loader: yaml.SafeLoader | None = None
    index = 0
    try:
        # Only reading YAML is guarded here: a validator's own bug must surface as one, not
        # pass for a syntax error in the user's file.
        while True:
            try:
                if loader is None:
                    loader = yaml.SafeLoader(text)  # reads ahead: may find bad characters
                if not loader.check_node():
                    break
                node = loader.get_node()
                data = loader.construct_document(node) if node is not None else None
            except (yaml.YAMLError, ValueError, TypeError, RecursionError, OverflowError) as error:
                findings.append(_yaml_error(error, source, index, text))
                break
            findings.extend(
                _validate_document(
                    source, index, data, node, trigger_checker, identities, config_map_checker
                )
            )
            index += 1
    finally:
        if loader is not None:
            loader.dispose()
    return findings


def _yaml_error(error: Exception, source: str, index: int, text: str) -> Finding:
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        detail = " ".join(str(part) for part in (error.context, error.problem) if part)
        if mark is not None:
            # An unquoted ``{{ .Values.x }}`` or ``${x}`` is YAML flow syntax: the usual cause
            # of a syntax error in a template that was never rendered; say so.
            lines = text.splitlines()
            if mark.line < len(lines) and (hint := placeholder_hint(lines[mark.line])):
                detail += hint.replace(")", "; render the template, or quote the value)", 1)
        return Finding(source, index, "", "", "", f"YAML syntax error: {detail}", "error", line)
    # PyYAML raises plain ValueError and friends for some malformed scalars (e.g. a timestamp
    # with day 31 of February); they are syntax errors to the user all the same.
    return Finding(source, index, "", "", "", f"YAML could not be read: {error}", "error", None)
