"""Where trigger inputs come from: the target's container env and TriggerAuthentications.

Scalers parse metadata without I/O (``scalers.contract``); they get two ready-made maps:

* ``resolved_env`` — the environment of the scale target's container
  (``scaleTargetRef.envSourceContainerName``, else the first container), for ``xxxFromEnv``
  metadata. Plain ``value`` entries, ``valueFrom.secretKeyRef`` / ``configMapKeyRef`` and
  ``envFrom`` are resolved through the API, as KEDA's ``ResolveContainerEnv`` does;
* ``auth_params`` — from the trigger's ``authenticationRef``: ``secretTargetRef``,
  ``configMapTargetRef`` and ``env`` entries (others — vault, cloud secret managers, pod
  identity — are a later issue; an object using them gets a clear error naming the source);
  ``podIdentity`` gives its provider, and for AWS its ``roleArn``/``externalID``/
  ``identityOwner`` under the ``podIdentity.*`` auth-param keys ``scalers.aws_sqs_queue``
  reads.

Values read here are secrets more often than not: they are handed to the scaler and never
logged, put in an Event, a status, a decision record or a metric label. Errors name the
Secret/ConfigMap and key, never a value. Every Secret value read is also taught to the
process's redactor (``observability.redaction.PROCESS_SECRETS``, which the log formatters
apply), and :attr:`ResolvedAuth.secrets` lists the values a trigger's own error texts are
redacted of — in case an upstream echoes them back.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from podscaler.api.triggerauth import TriggerAuthenticationSpec
from podscaler.api.triggers import AuthenticationRef
from podscaler.controllers.triggers.refresh import note_read
from podscaler.kube.clients import Kube
from podscaler.kube.errors import KubeError, NotFound
from podscaler.observability.redaction import PROCESS_SECRETS
from scalers.aws_sqs_queue import (
    POD_IDENTITY_EXTERNAL_ID,
    POD_IDENTITY_IDENTITY_OWNER,
    POD_IDENTITY_ROLE_ARN,
)

__all__ = [
    "AuthError",
    "ResolvedAuth",
    "container_of",
    "resolve_auth",
    "resolve_container_env",
]

AUTH_GROUP_VERSION = "autoscaling.podscaler.io/v1alpha1"


class AuthError(Exception):
    """A trigger's inputs cannot be resolved (missing Secret, key, container …)."""


@dataclass(frozen=True)
class ResolvedAuth:
    params: Mapping[str, str] = field(default_factory=dict)
    pod_identity_provider: str = ""
    kind: str = ""
    #: the values that came from Secrets or the target's env (ConfigMap values and pod
    #: identity names are not secret)
    secrets: tuple[str, ...] = ()


def _user_password_pairs(values: Mapping[str, str]) -> list[tuple[str, str]]:
    """(user, password) pairs a Secret holds side by side, for the Basic-header form."""
    users = [v for k, v in values.items() if "user" in k.lower()]
    passwords = [v for k, v in values.items() if "pass" in k.lower()]
    return [(user, password) for user in users for password in passwords]


def container_of(workload: Mapping[str, Any], name: str | None) -> Mapping[str, Any] | None:
    """The pod template container named *name* (or the first one) of a workload object."""
    template = ((workload.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = [c for c in template.get("containers") or [] if isinstance(c, Mapping)]
    if not containers:
        return None
    if not name:
        return containers[0]
    for container in containers:
        if container.get("name") == name:
            return container
    return None


class _Reader:
    """Reads Secrets and ConfigMaps of one namespace, each at most once per resolution."""

    def __init__(self, kube: Kube, namespace: str) -> None:
        self._kube = kube
        self._namespace = namespace
        self._cache: dict[tuple[str, str], dict[str, str]] = {}

    async def data(self, kind: str, name: str, namespace: str | None = None) -> dict[str, str]:
        ns = namespace or self._namespace
        key = (f"{kind}:{ns}", name)
        if key in self._cache:
            return self._cache[key]
        plural = "secrets" if kind == "Secret" else "configmaps"
        try:
            obj = await self._kube.request("GET", f"/api/v1/namespaces/{ns}/{plural}/{name}")
        except NotFound as exc:
            raise AuthError(f"{kind} {ns}/{name} not found") from exc
        except KubeError as exc:
            raise AuthError(f"cannot read {kind} {ns}/{name}: {type(exc).__name__}") from exc
        note_read(kind, ns, name, obj)  # so a rotation rebuilds the triggers (.refresh)
        values: dict[str, str] = {}
        if kind == "Secret":
            for k, v in (obj.get("data") or {}).items():
                try:
                    values[str(k)] = base64.b64decode(str(v)).decode()
                except (ValueError, UnicodeDecodeError):
                    continue
            for k, v in (obj.get("stringData") or {}).items():
                values[str(k)] = str(v)
            PROCESS_SECRETS.remember(
                ("Secret", ns, name), values.values(), _user_password_pairs(values)
            )
        else:
            values = {str(k): str(v) for k, v in (obj.get("data") or {}).items()}
        self._cache[key] = values
        return values

    async def value(self, kind: str, name: str, key: str, namespace: str | None = None) -> str:
        values = await self.data(kind, name, namespace)
        if key not in values:
            raise AuthError(
                f"key {key!r} not found in {kind} {namespace or self._namespace}/{name}"
            )
        return values[key]


async def resolve_container_env(
    kube: Kube, namespace: str, container: Mapping[str, Any] | None
) -> dict[str, str]:
    """The container's environment as the kubelet would build it (envFrom first, then env).

    Optional references that are missing are skipped; a required one is an :class:`AuthError`.
    """
    if container is None:
        return {}
    reader = _Reader(kube, namespace)
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = str(source.get("prefix") or "")
        for kind, ref_key in (("Secret", "secretRef"), ("ConfigMap", "configMapRef")):
            ref = source.get(ref_key)
            if not isinstance(ref, Mapping):
                continue
            try:
                values = await reader.data(kind, str(ref.get("name")))
            except AuthError:
                if ref.get("optional"):
                    continue
                raise
            env.update({prefix + k: v for k, v in values.items()})
    for entry in container.get("env") or []:
        name = str(entry.get("name") or "")
        if not name:
            continue
        if "value" in entry:
            env[name] = str(entry.get("value") or "")
            continue
        source = entry.get("valueFrom") or {}
        for kind, ref_key in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
            ref = source.get(ref_key)
            if not isinstance(ref, Mapping):
                continue
            try:
                env[name] = await reader.value(kind, str(ref.get("name")), str(ref.get("key")))
            except AuthError:
                if not ref.get("optional"):
                    raise
    return env


async def resolve_auth(
    kube: Kube,
    namespace: str,
    ref: AuthenticationRef | None,
    *,
    container_env: Mapping[str, str],
    workload: Mapping[str, Any] | None,
    operator_namespace: str,
) -> ResolvedAuth:
    """The auth params of a trigger's ``authenticationRef`` (empty without one)."""
    if ref is None:
        return ResolvedAuth()
    kind = ref.effective_kind
    name = ref.name
    cluster_scoped = kind == "ClusterTriggerAuthentication"
    plural = "clustertriggerauthentications" if cluster_scoped else "triggerauthentications"
    base = f"/apis/{AUTH_GROUP_VERSION}"
    path = (
        f"{base}/{plural}/{name}"
        if cluster_scoped
        else (f"{base}/namespaces/{namespace}/{plural}/{name}")
    )
    try:
        obj = await kube.request("GET", path)
    except NotFound as exc:
        where = name if cluster_scoped else f"{namespace}/{name}"
        raise AuthError(f"{kind} {where} not found") from exc
    except KubeError as exc:
        raise AuthError(f"cannot read {kind} {name}: {type(exc).__name__}") from exc
    note_read(kind, "" if cluster_scoped else namespace, name, obj)
    try:
        spec = TriggerAuthenticationSpec.model_validate(obj.get("spec") or {})
    except ValueError as exc:
        raise AuthError(f"{kind} {name} is invalid") from exc
    unsupported = spec.unsupported_sources()
    if unsupported:
        raise AuthError(f"{kind} {name}: {', '.join(unsupported)} not supported yet")
    # A ClusterTriggerAuthentication reads its Secrets from the operator's namespace (KEDA).
    reader = _Reader(kube, operator_namespace if cluster_scoped else namespace)
    params: dict[str, str] = {}
    secrets: list[str] = []
    for secret_ref in spec.secret_target_ref or []:
        params[secret_ref.parameter] = await reader.value("Secret", secret_ref.name, secret_ref.key)
        secrets.append(params[secret_ref.parameter])
    for cm_ref in spec.config_map_target_ref or []:
        params[cm_ref.parameter] = await reader.value("ConfigMap", cm_ref.name, cm_ref.key)
    for env_ref in spec.env or []:
        if env_ref.container_name and workload is not None:
            container = container_of(workload, env_ref.container_name)
            if container is None:
                raise AuthError(f"{kind} {name}: container {env_ref.container_name} not found")
            values = await resolve_container_env(kube, namespace, container)
        else:
            values = dict(container_env)
        if env_ref.name not in values:
            raise AuthError(f"{kind} {name}: env var {env_ref.name} not found in the target")
        params[env_ref.parameter] = values[env_ref.name]
        secrets.append(params[env_ref.parameter])
    provider = ""
    if spec.pod_identity is not None:
        provider = spec.pod_identity.provider
        # The factory contract carries only the provider's name; AWS triggers read the role
        # to assume (and its external id, and whose identity) from these reserved keys.
        identity = spec.pod_identity
        for key, value in (
            (POD_IDENTITY_ROLE_ARN, identity.role_arn),
            (POD_IDENTITY_EXTERNAL_ID, identity.external_id),
            (POD_IDENTITY_IDENTITY_OWNER, identity.identity_owner),
        ):
            if value:
                params[key] = value
    return ResolvedAuth(
        params=params, pod_identity_provider=provider, kind=kind, secrets=tuple(secrets)
    )
