"""Who is asking: the kube-aggregator's front-proxy certificate, a client certificate, or a token.

Shared by every server podscaler runs behind kube-apiserver (the external metrics API, the
admission webhook). An extension API server behind the kube-aggregator never sees the end user's
credentials. The aggregator authenticates the user, then connects with its own *front-proxy*
client certificate and names the user in request headers (``X-Remote-User``, ``X-Remote-Group``,
``X-Remote-Extra-*`` by default). Those headers are only believable on a connection whose client
certificate chains to the requestheader CA and, when a list of allowed names is configured,
whose common name is on it; on any other connection they are ignored. kube-apiserver publishes
all of this in the ``kube-system/extension-apiserver-authentication`` ConfigMap, which is what
:func:`read_authentication_config` reads (our service account reads it through the
``extension-apiserver-authentication-reader`` Role).

The authenticators are tried in kube-apiserver's order, the first that recognises the request
wins, and a request none recognises is a 401:

1. front proxy: a certificate signed by the requestheader CA, an allowed name, a user header;
2. client certificate: signed by the ``client-ca-file`` CA; the user is the CN, groups the Os;
3. bearer token: checked with a TokenReview (``authentication.k8s.io/v1``), whose answers are
   cached briefly, keyed by a hash of the token (the token itself is never kept, logged or
   echoed).

OpenSSL has already verified the presented chain against the union of both CAs during the
handshake (see :mod:`podscaler.serving.tls`); here we decide which CA issued the leaf. Only
certificates issued directly by a configured CA are recognised: Python 3.11 does not expose the
verified chain, and both kube-apiserver CAs sign their client certificates directly.

The configuration comes from the ConfigMap or, for clusters that mount it elsewhere, from a
file holding the ConfigMap (or just its ``data``): :func:`load_authentication_config`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import NameOID
from multidict import CIMultiDictProxy

from podscaler.kube.clients import Kube
from podscaler.kube.errors import KubeError

__all__ = [
    "AUTHENTICATION_CONFIGMAP",
    "AuthenticationConfig",
    "Authenticator",
    "RequestHeaderConfig",
    "TokenReviewer",
    "Unauthenticated",
    "UserInfo",
    "authentication_config_from_file",
    "load_authentication_config",
    "read_authentication_config",
]

log = logging.getLogger(__name__)

#: Where kube-apiserver publishes its client CAs and requestheader settings.
AUTHENTICATION_CONFIGMAP: Final = ("kube-system", "extension-apiserver-authentication")

#: How long TokenReview answers are reused (the generic apiserver's delegated default is 10 s).
TOKEN_CACHE_TTL_SECONDS: Final = 10.0
#: Failed reviews are remembered only briefly, so a token that just became valid works at once,
#: while a client hammering with a bad token does not turn into a TokenReview per request.
TOKEN_FAILURE_CACHE_TTL_SECONDS: Final = 1.0
_TOKEN_CACHE_SIZE: Final = 4096
_CERTIFICATE_CACHE_SIZE: Final = 256


class Unauthenticated(Exception):
    """No authenticator recognised the request: a 401. The message never names a credential."""


@dataclass(frozen=True, slots=True)
class UserInfo:
    """The authenticated user, as SubjectAccessReview and TokenReview spell it."""

    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def _json_list(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    try:
        value = json.loads(text)
    except ValueError:
        # Older clusters wrote a bare comma-separated list; accept that too.
        return tuple(part.strip() for part in text.split(",") if part.strip())
    if not isinstance(value, list):
        return ()
    return tuple(str(v) for v in value if str(v))


@dataclass(frozen=True, slots=True)
class RequestHeaderConfig:
    """The front-proxy settings (``requestheader-*`` keys of the ConfigMap)."""

    client_ca_pem: bytes
    allowed_names: frozenset[str] = frozenset()
    username_headers: tuple[str, ...] = ("X-Remote-User",)
    group_headers: tuple[str, ...] = ("X-Remote-Group",)
    extra_headers_prefixes: tuple[str, ...] = ("X-Remote-Extra-",)


@dataclass(frozen=True, slots=True)
class AuthenticationConfig:
    """Everything certificate authentication needs; either part may be absent."""

    requestheader: RequestHeaderConfig | None = None
    client_ca_pem: bytes = b""

    @classmethod
    def from_configmap_data(cls, data: Mapping[str, str]) -> AuthenticationConfig:
        """Parse the ConfigMap's ``data`` as kube-apiserver writes it (lists are JSON)."""
        requestheader = None
        ca = data.get("requestheader-client-ca-file", "")
        if ca.strip():
            requestheader = RequestHeaderConfig(
                client_ca_pem=ca.encode(),
                allowed_names=frozenset(_json_list(data.get("requestheader-allowed-names"))),
                username_headers=_json_list(data.get("requestheader-username-headers")),
                group_headers=_json_list(data.get("requestheader-group-headers")),
                extra_headers_prefixes=_json_list(data.get("requestheader-extra-headers-prefix")),
            )
        return cls(
            requestheader=requestheader, client_ca_pem=data.get("client-ca-file", "").encode()
        )

    @property
    def trusted_pem(self) -> bytes:
        """Every CA a client certificate may chain to (for the TLS layer)."""
        rh_ca = self.requestheader.client_ca_pem if self.requestheader is not None else b""
        parts = [p.strip() for p in (rh_ca, self.client_ca_pem) if p.strip()]
        return b"\n".join(parts) + b"\n" if parts else b""


async def read_authentication_config(
    kube: Kube, *, component: str = "server"
) -> AuthenticationConfig:
    """Read ``kube-system/extension-apiserver-authentication``; an absent ConfigMap means no
    certificate authentication (bearer tokens still work)."""
    namespace, name = AUTHENTICATION_CONFIGMAP
    try:
        configmap = await kube.request("GET", f"/api/v1/namespaces/{namespace}/configmaps/{name}")
    except KubeError as exc:
        if getattr(exc, "status", None) == 404:
            log.warning(
                "%s: ConfigMap %s/%s not found; only bearer tokens will authenticate",
                component,
                namespace,
                name,
            )
            return AuthenticationConfig()
        raise
    data = configmap.get("data") or {}
    return AuthenticationConfig.from_configmap_data(
        {str(k): str(v) for k, v in data.items() if isinstance(v, str)}
    )


def authentication_config_from_file(path: Path) -> AuthenticationConfig:
    """The configuration from a YAML file: the ConfigMap as ``kubectl get -o yaml`` prints it,
    or only its ``data`` mapping."""
    import yaml

    loaded = yaml.safe_load(path.read_text()) or {}
    data = loaded.get("data", loaded) if isinstance(loaded, dict) else {}
    return AuthenticationConfig.from_configmap_data({str(k): str(v) for k, v in data.items()})


async def load_authentication_config(
    kube: Kube, file: Path | None = None, *, component: str = "server"
) -> AuthenticationConfig:
    """From ``file`` when one is configured, otherwise from the cluster's ConfigMap."""
    if file is not None:
        return authentication_config_from_file(file)
    return await read_authentication_config(kube, component=component)


def _load_bundle(pem: bytes, component: str) -> list[x509.Certificate]:
    if not pem.strip():
        return []
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError:
        log.warning("%s: a configured client CA bundle does not parse; ignoring it", component)
        return []


def _issued_by(cert: x509.Certificate, cas: list[x509.Certificate]) -> bool:
    for ca in cas:
        if ca.subject != cert.issuer:
            continue
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return True
    return False


def _attribute_values(name: x509.Name, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(attr.value) for attr in name.get_attributes_for_oid(oid)]


@dataclass(frozen=True, slots=True)
class _Certificate:
    """What authentication needs to know of a peer certificate."""

    common_names: tuple[str, ...]
    organizations: tuple[str, ...]
    by_requestheader_ca: bool
    by_client_ca: bool


class TokenReviewer:
    """Bearer tokens checked with TokenReview, answers cached briefly (positive and negative)."""

    def __init__(
        self,
        kube: Kube,
        *,
        audiences: tuple[str, ...] = (),
        ttl_seconds: float = TOKEN_CACHE_TTL_SECONDS,
        failure_ttl_seconds: float = TOKEN_FAILURE_CACHE_TTL_SECONDS,
    ) -> None:
        self.kube = kube
        self.audiences = audiences
        self.ttl_seconds = ttl_seconds
        self.failure_ttl_seconds = failure_ttl_seconds
        self._cache: dict[str, tuple[float, UserInfo | None]] = {}

    async def review(self, token: str) -> UserInfo | None:
        """The user the token belongs to, or None when the API server does not accept it.

        Raises ``KubeError`` when the review itself fails (the caller answers 401 then too).
        """
        key = hashlib.sha256(token.encode()).hexdigest()
        now = asyncio.get_running_loop().time()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        spec: dict[str, Any] = {"token": token}
        if self.audiences:
            spec["audiences"] = list(self.audiences)
        answer = await self.kube.request(
            "POST",
            "/apis/authentication.k8s.io/v1/tokenreviews",
            body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec},
        )
        status = answer.get("status") or {}
        user: UserInfo | None = None
        if status.get("authenticated") is True:
            info = status.get("user") or {}
            extra = info.get("extra") or {}
            user = UserInfo(
                name=str(info.get("username") or ""),
                uid=str(info.get("uid") or ""),
                groups=tuple(str(g) for g in info.get("groups") or ()),
                extra={str(k): tuple(str(x) for x in v or ()) for k, v in extra.items()},
            )
            if not user.name:
                user = None
        ttl = self.ttl_seconds if user is not None else self.failure_ttl_seconds
        if ttl > 0:
            if len(self._cache) >= _TOKEN_CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = (now + ttl, user)
        return user


class Authenticator:
    """Tries front proxy, client certificate and bearer token, in that order."""

    def __init__(
        self,
        config: AuthenticationConfig,
        token_reviewer: TokenReviewer | None = None,
        *,
        component: str = "server",
    ) -> None:
        self.token_reviewer = token_reviewer
        #: Prefixes the log lines (``metrics API``, ``admission webhook``).
        self.component = component
        self.configure(config)

    def configure(self, config: AuthenticationConfig) -> None:
        """Adopt a new configuration (the ConfigMap changed)."""
        self.config = config
        rh = config.requestheader
        self._requestheader_cas = (
            _load_bundle(rh.client_ca_pem, self.component) if rh is not None else []
        )
        self._client_cas = _load_bundle(config.client_ca_pem, self.component)
        self._certificates: dict[bytes, _Certificate | None] = {}

    async def authenticate(
        self, peer_certificate_der: bytes | None, headers: CIMultiDictProxy[str]
    ) -> UserInfo:
        """The user of one request, or :class:`Unauthenticated`."""
        reasons: list[str] = []
        if peer_certificate_der:
            user = self._from_certificate(peer_certificate_der, headers, reasons)
            if user is not None:
                return user
        authorization = headers.get("Authorization", "")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer" and token:
            if self.token_reviewer is None:
                reasons.append("bearer tokens are not accepted by this server")
            else:
                try:
                    user = await self.token_reviewer.review(token)
                except KubeError as exc:
                    log.warning("%s: TokenReview failed: %s", self.component, type(exc).__name__)
                    reasons.append("the token could not be reviewed")
                else:
                    if user is not None:
                        return user
                    reasons.append("invalid bearer token")
        raise Unauthenticated("; ".join(reasons) or "no credentials")

    def _classify(self, der: bytes) -> _Certificate | None:
        """Parse a peer certificate and find its issuer, once per distinct certificate.

        The aggregator presents the same certificate on every connection, and parsing plus a
        signature check costs more than the rest of a request; the cache is emptied whenever
        the configuration changes.
        """
        cached = self._certificates.get(der)
        if cached is not None or der in self._certificates:
            return cached
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            found = None
        else:
            found = _Certificate(
                common_names=tuple(_attribute_values(cert.subject, NameOID.COMMON_NAME)),
                organizations=tuple(_attribute_values(cert.subject, NameOID.ORGANIZATION_NAME)),
                by_requestheader_ca=_issued_by(cert, self._requestheader_cas),
                by_client_ca=_issued_by(cert, self._client_cas),
            )
        if len(self._certificates) >= _CERTIFICATE_CACHE_SIZE:
            self._certificates.pop(next(iter(self._certificates)))
        self._certificates[der] = found
        return found

    def _from_certificate(
        self, der: bytes, headers: CIMultiDictProxy[str], reasons: list[str]
    ) -> UserInfo | None:
        cert = self._classify(der)
        if cert is None:
            reasons.append("the client certificate does not parse")
            return None
        rh = self.config.requestheader
        if rh is not None and cert.by_requestheader_ca:
            if rh.allowed_names and not set(cert.common_names) & rh.allowed_names:
                reasons.append("the front-proxy certificate's name is not allowed")
            else:
                user = _user_from_headers(rh, headers)
                if user is not None:
                    return user
                reasons.append("the front-proxy request names no user")
        if cert.by_client_ca and cert.common_names and cert.common_names[0]:
            return UserInfo(name=cert.common_names[0], groups=cert.organizations)
        if not reasons:
            reasons.append("the client certificate is not signed by a trusted client CA")
        return None


def _user_from_headers(rh: RequestHeaderConfig, headers: CIMultiDictProxy[str]) -> UserInfo | None:
    name = ""
    for header in rh.username_headers:
        value = headers.get(header, "").strip()
        if value:
            name = value
            break
    if not name:
        return None
    groups: list[str] = []
    for header in rh.group_headers:
        groups.extend(v for v in headers.getall(header, ()) if v)
    extra: dict[str, list[str]] = {}
    prefixes = tuple(p.lower() for p in rh.extra_headers_prefixes)
    for header, value in headers.items():
        lowered = header.lower()
        for prefix in prefixes:
            if lowered.startswith(prefix) and len(lowered) > len(prefix):
                key = urllib.parse.unquote(lowered[len(prefix) :])
                extra.setdefault(key, []).append(value)
                break
    return UserInfo(name=name, groups=tuple(groups), extra={k: tuple(v) for k, v in extra.items()})
