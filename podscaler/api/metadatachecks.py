"""What kube-apiserver refuses in an object's ``metadata``, checked offline by ``podscaler
validate``.

The API server checks a custom resource's metadata before any schema or admission webhook sees
it: the name is a DNS-1123 subdomain (so are a ``generateName`` prefix's characters), the
namespace a DNS-1123 label, label keys and annotation keys qualified names, label values at
most 63 characters of a small alphabet, and all annotations together at most 256 KiB. Manifests
in the wild break these mostly by leftovers of a template that was never rendered
(``name: ${APP}-scaler``, ``namespace: {{ .Release.Namespace }}`` quoted away, ``"<queue>"``),
which every other check here would otherwise let through; the message then says so.

Empty maps written as nothing (``annotations:`` followed by nothing, a YAML null) are fine, as
for the API server.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from podscaler.api.placeholders import placeholder_hint
from podscaler.api.selectors import label_key_problems, label_value_problems
from podscaler.api.validation import Problem

__all__ = ["metadata_problems"]

_LABEL: Final = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN: Final = _LABEL + r"(\." + _LABEL + r")*"
_LABEL_RE: Final = re.compile(_LABEL)
_SUBDOMAIN_RE: Final = re.compile(_SUBDOMAIN)
_SUBDOMAIN_MAX: Final = 253
_LABEL_MAX: Final = 63
#: kube-apiserver's limit on the total size of an object's annotations (keys and values).
_ANNOTATIONS_MAX_BYTES: Final = 256 * 1024

_SUBDOMAIN_MESSAGE: Final = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    f"used for validation is '{_SUBDOMAIN}')"
)
_LABEL_MESSAGE: Final = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    f"regex used for validation is '{_LABEL}')"
)


def _invalid(path: str, value: str, problems: list[str]) -> Problem:
    return Problem(
        path, f'Invalid value: "{value}": {"; ".join(problems)}{placeholder_hint(value)}'
    )


def _subdomain_problems(value: str) -> list[str]:
    problems = []
    if len(value) > _SUBDOMAIN_MAX:
        problems.append(f"must be no more than {_SUBDOMAIN_MAX} characters")
    if not _SUBDOMAIN_RE.fullmatch(value):
        problems.append(_SUBDOMAIN_MESSAGE)
    return problems


def _label_problems(value: str) -> list[str]:
    problems = []
    if len(value) > _LABEL_MAX:
        problems.append(f"must be no more than {_LABEL_MAX} characters")
    if not _LABEL_RE.fullmatch(value):
        problems.append(_LABEL_MESSAGE)
    return problems


def _name_problems(metadata: Mapping[str, Any]) -> list[Problem]:
    name = metadata.get("name")
    generate_name = metadata.get("generateName")
    if name is None and isinstance(generate_name, str) and generate_name:
        # A prefix: the server appends 5 characters, so a trailing '-' stands for one of them
        # (upstream masks it with an 'a' before checking).
        prefix = generate_name[:-1] + "a" if generate_name.endswith("-") else generate_name
        problems = _subdomain_problems(prefix)
        return [_invalid("metadata.generateName", generate_name, problems)] if problems else []
    if not isinstance(name, str) or not name.strip():
        return [Problem("metadata.name", "is required (the API server refuses an object without)")]
    problems = _subdomain_problems(name)
    return [_invalid("metadata.name", name, problems)] if problems else []


def _namespace_problems(metadata: Mapping[str, Any]) -> list[Problem]:
    namespace = metadata.get("namespace")
    if not isinstance(namespace, str) or not namespace:
        return []  # absent or empty: the client's namespace; a non-string is a schema error
    problems = _label_problems(namespace)
    return [_invalid("metadata.namespace", namespace, problems)] if problems else []


def _labels_problems(labels: Any) -> list[Problem]:
    if not isinstance(labels, Mapping):
        return []  # null is empty; any other type is the schema's error
    found: list[Problem] = []
    for key, value in labels.items():
        path = f"metadata.labels['{key}']"
        key_problems = label_key_problems(str(key))
        if key_problems:
            found.append(_invalid(path, str(key), key_problems))
        if isinstance(value, str):
            value_problems = label_value_problems(value)
            if value_problems:
                found.append(_invalid(path, value, value_problems))
    return found


def _annotations_problems(annotations: Any) -> list[Problem]:
    if not isinstance(annotations, Mapping):
        return []
    found: list[Problem] = []
    total = 0
    for key, value in annotations.items():
        # Annotation keys are compared in lower case (upstream lowers them before checking).
        key_problems = label_key_problems(str(key).lower())
        if key_problems:
            found.append(_invalid(f"metadata.annotations['{key}']", str(key), key_problems))
        total += len(str(key).encode()) + (len(value.encode()) if isinstance(value, str) else 0)
    if total > _ANNOTATIONS_MAX_BYTES:
        found.append(
            Problem(
                "metadata.annotations",
                f"Too long: must have at most {_ANNOTATIONS_MAX_BYTES} bytes (has {total})",
            )
        )
    return found


def metadata_problems(metadata: Any, *, namespaced: bool = True) -> list[Problem]:
    """What the API server would refuse in ``metadata``, before any of our checks ran.

    ``namespaced`` is False for cluster-scoped kinds, whose namespace the server ignores.
    """
    if metadata is None:
        return [Problem("metadata", "is missing; an object needs metadata.name")]
    if not isinstance(metadata, Mapping):
        return [Problem("metadata", "must be a mapping with a name")]
    return [
        *_name_problems(metadata),
        *(_namespace_problems(metadata) if namespaced else []),
        *_labels_problems(metadata.get("labels")),
        *_annotations_problems(metadata.get("annotations")),
    ]
