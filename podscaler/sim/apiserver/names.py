"""Object names as kube-apiserver validates them, per kind, with upstream's messages.

Most kinds take a DNS-1123 *subdomain* (lowercase alphanumerics, ``-`` and ``.``, at most 253
characters), and so do custom resources; Namespaces take a DNS-1123 *label* (no dots, at most
63); Services a DNS-1035 label (a label that starts with a letter, since the name becomes a DNS
name and an environment variable prefix); CronJobs at most 52 characters (their Jobs append an
11-character suffix). ``generateName`` is checked as a prefix (a trailing ``-`` is fine).

Why it matters beyond tidiness: names flow into other objects' names (Events, ReplicaSets,
Pods, Leases); a server that accepts ``Web`` accepts an object whose Events it then refuses.
"""

from __future__ import annotations

import re
from typing import Final

from podscaler.sim.apiserver.resources import ResourceType

__all__ = ["Cause", "name_problems", "namespace_problems"]

#: (field, reason, message) as :func:`podscaler.sim.apiserver.errors.invalid` takes them.
Cause = tuple[str, str, str]

_LABEL: Final = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN: Final = _LABEL + r"(\." + _LABEL + r")*"
_DNS1035: Final = r"[a-z]([-a-z0-9]*[a-z0-9])?"

_LABEL_RE: Final = re.compile(f"^{_LABEL}$")
_SUBDOMAIN_RE: Final = re.compile(f"^{_SUBDOMAIN}$")
_DNS1035_RE: Final = re.compile(f"^{_DNS1035}$")

_LABEL_MESSAGE: Final = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    f"regex used for validation is '{_LABEL}')"
)
_SUBDOMAIN_MESSAGE: Final = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    f"used for validation is '{_SUBDOMAIN}')"
)
_DNS1035_MESSAGE: Final = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    f"'abc-123', regex used for validation is '{_DNS1035}')"
)
#: CronJob names leave room for the 11-character suffix of the Jobs they create.
_CRONJOB_MAX: Final = 52


def _label(value: str) -> list[str]:
    problems = []
    if len(value) > 63:
        problems.append("must be no more than 63 characters")
    if not _LABEL_RE.match(value):
        problems.append(_LABEL_MESSAGE)
    return problems


def _subdomain(value: str) -> list[str]:
    problems = []
    if len(value) > 253:
        problems.append("must be no more than 253 characters")
    if not _SUBDOMAIN_RE.match(value):
        problems.append(_SUBDOMAIN_MESSAGE)
    return problems


def _dns1035(value: str) -> list[str]:
    problems = []
    if len(value) > 63:
        problems.append("must be no more than 63 characters")
    if not _DNS1035_RE.match(value):
        problems.append(_DNS1035_MESSAGE)
    return problems


def _rule(rt: ResourceType) -> tuple[str, int | None]:
    """The kind's rule (``label``, ``dns1035``, ``subdomain``) and any extra length limit."""
    if not rt.group and rt.resource == "namespaces":
        return "label", None
    if not rt.group and rt.resource == "services":
        return "dns1035", None
    if rt.group == "batch" and rt.resource == "cronjobs":
        return "subdomain", _CRONJOB_MAX
    return "subdomain", None


def _problems(rt: ResourceType, value: str, *, prefix: bool) -> list[str]:
    rule, limit = _rule(rt)
    if prefix and value.endswith("-"):
        # Upstream masks a prefix's trailing dash with "a" before checking it.
        value = value[:-1] + "a"
    check = {"label": _label, "dns1035": _dns1035, "subdomain": _subdomain}[rule]
    problems = check(value)
    if limit is not None and len(value) > limit:
        problems.append(f"must be no more than {limit} characters")
    return problems


def name_problems(rt: ResourceType, name: str, *, generate_name: str = "") -> list[Cause]:
    """Why ``name`` (and ``generateName``, when given) is not a valid name for ``rt``."""
    causes: list[Cause] = []
    if generate_name:
        causes.extend(
            ("metadata.generateName", "FieldValueInvalid", f'Invalid value: "{generate_name}": {p}')
            for p in _problems(rt, generate_name, prefix=True)
        )
    causes.extend(
        ("metadata.name", "FieldValueInvalid", f'Invalid value: "{name}": {p}')
        for p in _problems(rt, name, prefix=False)
    )
    return causes


def namespace_problems(namespace: str) -> list[Cause]:
    """Why ``namespace`` cannot name a namespace (``metadata.namespace`` of any object)."""
    return [
        ("metadata.namespace", "FieldValueInvalid", f'Invalid value: "{namespace}": {p}')
        for p in _label(namespace)
    ]
