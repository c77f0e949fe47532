"""``podscaler validate`` for the vertical kinds, and the note for upstream VPA manifests.

An ``autoscaling.k8s.io`` VerticalPodAutoscaler is checked with the VerticalScaler's rules and
earns one warning saying what to change (apiVersion and kind), so a user learns in one run both
that the port is two lines and whether the rest of the manifest will work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import pydantic

from podscaler.api.meta import GROUP_VERSION
from podscaler.api.validation import Problem, pydantic_problems
from podscaler.api.verticalcheckpoint import VerticalScalerCheckpoint
from podscaler.api.verticalscaler import (
    UPSTREAM_GROUP,
    UPSTREAM_KIND,
    vertical_scaler_problems,
    vertical_scaler_warnings,
)

__all__ = [
    "is_upstream_vpa",
    "upstream_vpa_port_note",
    "vertical_scaler_checkpoint_findings",
    "vertical_scaler_findings",
]

_KIND: Final = "VerticalScaler"


def is_upstream_vpa(api_version: str, kind: str) -> bool:
    return api_version.split("/", 1)[0] == UPSTREAM_GROUP and kind == UPSTREAM_KIND


def upstream_vpa_port_note(api_version: str) -> str:
    return (
        f"{api_version} {UPSTREAM_KIND} is the upstream VPA; it ports to podscaler by changing "
        f"apiVersion to {GROUP_VERSION} and kind to {_KIND} (the rest of the schema is the "
        "same, and the rest of this manifest is checked as one)"
    )


def vertical_scaler_findings(obj: Mapping[str, Any]) -> tuple[list[Problem], list[Problem]]:
    """Errors and warnings of a VerticalScaler (or of an upstream VPA read as one)."""
    problems: list[Problem] = []
    api_version = obj.get("apiVersion")
    upstream = isinstance(api_version, str) and is_upstream_vpa(api_version, str(obj.get("kind")))
    if api_version != GROUP_VERSION and not upstream:
        problems.append(Problem("apiVersion", f"must be {GROUP_VERSION}, got {api_version!r}"))
    parsed, found = vertical_scaler_problems(obj)
    problems.extend(found)
    warnings = vertical_scaler_warnings(parsed.spec) if parsed is not None else []
    return problems, warnings


def vertical_scaler_checkpoint_findings(
    obj: Mapping[str, Any],
) -> tuple[list[Problem], list[Problem]]:
    """Checkpoints are written by podscaler; checking one only confirms it parses."""
    problems: list[Problem] = []
    if obj.get("apiVersion") != GROUP_VERSION:
        problems.append(
            Problem("apiVersion", f"must be {GROUP_VERSION}, got {obj.get('apiVersion')!r}")
        )
    try:
        VerticalScalerCheckpoint.model_validate(dict(obj))
    except pydantic.ValidationError as error:
        problems.extend(pydantic_problems(error))
    return problems, []
