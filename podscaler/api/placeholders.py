"""Template placeholders left in a manifest that was never rendered.

Manifests copied from Helm charts, Terraform templates, shell heredocs and blog posts often
reach ``podscaler validate`` with a placeholder still in a value: ``{{ .Values.name }}`` (Go
templates), ``${NAMESPACE}`` or ``$NAMESPACE`` (envsubst, Terraform), ``{queue_name}``
(Python's ``format``) or ``<your-queue-url>`` (documentation). Where the value has a syntax (a
name, a quantity) the syntax check already refuses it and the hint here says why; where it has
none (a trigger's ``queueURL``, a target's name) nothing else would notice before the operator
fails at run time, so each such value gets a warning.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

__all__ = ["placeholder_hint", "placeholder_paths"]

#: Go/Helm ``{{ }}``, shell/Terraform ``${ }`` and ``$NAME`` (upper case, as environment
#: variables are written), Grafana's ``$__interval``-style variables (in queries copied from a
#: dashboard; Prometheus knows none of them), Python's ``{name}`` and documentation's ``<name>``
#: (a word inside angle brackets, so a PromQL comparison is not one).
_PLACEHOLDER: Final = re.compile(
    r"\{\{.*?\}\}|\$\{[^}]*\}|\$[A-Z][A-Z0-9_]*\b|\$__[a-z_]+"
    r"|\{[A-Za-z_][A-Za-z0-9_]*\}|<[A-Za-z][A-Za-z0-9_ .-]*>"
)
_PLAIN_KEY: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def placeholder_hint(value: str) -> str:
    """`` (… looks like a template placeholder …)`` when *value* holds one, else ``""``."""
    match = _PLACEHOLDER.search(value)
    if match is None:
        return ""
    return f" ({match.group(0)!r} looks like a template placeholder that was never filled in)"


def placeholder_paths(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """``(path, placeholder)`` for each string under *value* (at *path*) holding a
    placeholder, paths written as the findings write them (``spec.triggers[0].metadata.x``)."""
    if isinstance(value, str):
        match = _PLACEHOLDER.search(value)
        if match is not None:
            yield path, match.group(0)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            text = str(key)
            child = f"{path}.{text}" if _PLAIN_KEY.fullmatch(text) else f"{path}['{text}']"
            yield from placeholder_paths(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from placeholder_paths(item, f"{path}[{index}]")
