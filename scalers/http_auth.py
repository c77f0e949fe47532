"""Authentication of HTTP-based triggers, as KEDA's ``authentication.Config`` declares it.

One block of parameters shared by the HTTP scalers (prometheus today): ``authModes`` picks
any of ``basic, bearer, tls, custom, apiKey, oauth`` (at most one of ``bearer``, ``basic``,
``oauth``); each mode's parameters come from the TriggerAuthentication (``authParams``).
Secrets are :class:`pydantic.SecretStr` so that no repr, log line or error message built from
the config can show them; :meth:`HTTPAuth.secrets` lists them for redacting messages that
come from elsewhere (the HTTP client's exceptions).

Turning the parsed block into headers and an :class:`ssl.SSLContext` happens at build time
(:func:`ssl_context`), never while parsing.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from enum import StrEnum
from typing import Final

from pydantic import ConfigDict, SecretStr

from podscaler.api.sharedfields import SharedFieldsSet
from scalers.contract import ScalerConfigError
from scalers.metadata import AUTH_PARAMS, MetadataReader, Source

__all__ = ["AuthMode", "HTTPAuth", "parse_http_auth", "ssl_context"]

_META_THEN_AUTH = (Source.TRIGGER_METADATA, Source.AUTH_PARAMS)


class AuthMode(StrEnum):
    """Values of ``authModes``."""

    API_KEY = "apiKey"
    BASIC = "basic"
    TLS = "tls"
    BEARER = "bearer"
    CUSTOM = "custom"
    OAUTH = "oauth"


class HTTPAuth(SharedFieldsSet):
    """The parsed authentication block. Empty ``modes`` means no authentication."""

    model_config = ConfigDict(frozen=True)

    modes: tuple[AuthMode, ...] = ()
    bearer_token: SecretStr | None = None
    username: str = ""
    password: SecretStr | None = None
    cert: SecretStr | None = None
    key: SecretStr | None = None
    ca: str = ""
    custom_auth_header: str = ""
    custom_auth_value: SecretStr | None = None
    api_key: SecretStr | None = None
    api_key_method: str = "header"
    key_param_name: str = ""
    oauth_token_uri: str = ""
    scopes: tuple[str, ...] = ()
    client_id: str = ""
    client_secret: SecretStr | None = None

    def enabled(self, mode: AuthMode) -> bool:
        return mode in self.modes

    def headers(self) -> dict[str, str]:
        """Request headers for the enabled header-based mode (KEDA applies one: bearer,
        else basic, else custom)."""
        if self.enabled(AuthMode.BEARER) and self.bearer_token is not None:
            return {"Authorization": f"Bearer {self.bearer_token.get_secret_value()}"}
        if self.enabled(AuthMode.BASIC):
            password = self.password.get_secret_value() if self.password else ""
            token = base64.b64encode(f"{self.username}:{password}".encode()).decode("ascii")
            return {"Authorization": f"Basic {token}"}
        if self.enabled(AuthMode.CUSTOM) and self.custom_auth_value is not None:
            return {self.custom_auth_header: self.custom_auth_value.get_secret_value()}
        return {}

    def secrets(self) -> list[str]:
        """Every secret value, for redaction of text this package did not build."""
        fields = (
            self.bearer_token,
            self.password,
            self.key,
            self.custom_auth_value,
            self.api_key,
            self.client_secret,
        )
        return [s.get_secret_value() for s in fields if s is not None and s.get_secret_value()]


def parse_http_auth(reader: MetadataReader) -> HTTPAuth:
    """Read the authentication block and validate it as KEDA's ``Config.Validate`` does."""
    modes = reader.string_list(
        ("authModes", "authMode"),
        _META_THEN_AUTH,
        allowed=[m.value for m in AuthMode],
        exclusive=("bearer", "basic", "oauth"),
    )
    # KEDA reads the apiKey block whether or not the mode is on, so a bad method fails.
    method = reader.enum(
        "method", ("header", "query"), _META_THEN_AUTH, default="header", required=False
    )
    api_key = reader.string("apiKey", _META_THEN_AUTH, required=False)
    key_param_name = reader.string("keyParamName", _META_THEN_AUTH, required=False)

    def secret(name: str | tuple[str, ...]) -> SecretStr | None:
        value = reader.string(name, AUTH_PARAMS, required=False)
        return SecretStr(value) if value is not None else None

    auth = HTTPAuth(
        modes=tuple(AuthMode(m) for m in modes or ()),
        bearer_token=secret(("bearerToken", "token")),
        username=reader.string("username", AUTH_PARAMS, required=False) or "",
        password=secret("password"),
        cert=secret("cert"),
        key=secret("key"),
        ca=reader.string("ca", AUTH_PARAMS, required=False) or "",
        custom_auth_header=reader.string("customAuthHeader", AUTH_PARAMS, required=False) or "",
        custom_auth_value=secret("customAuthValue"),
        api_key=SecretStr(api_key) if api_key is not None else None,
        api_key_method=method or "header",
        key_param_name=key_param_name or "",
        oauth_token_uri=reader.string("oauthTokenURI", AUTH_PARAMS, required=False) or "",
        scopes=tuple(reader.string_list("scopes", AUTH_PARAMS) or ()),
        client_id=reader.string("clientID", AUTH_PARAMS, required=False) or "",
        client_secret=secret("clientSecret"),
    )
    reader.mark_known("endpointParams")
    _validate(auth)
    # Most triggers have no authentication: they all share one empty block (memory).
    return _NO_AUTH if auth == _NO_AUTH else auth


_NO_AUTH: Final = HTTPAuth()


def _validate(auth: HTTPAuth) -> None:
    if auth.enabled(AuthMode.BEARER) and auth.bearer_token is None:
        raise ScalerConfigError(
            "bearer token is required when bearer auth is enabled", parameter="bearerToken"
        )
    if auth.enabled(AuthMode.BASIC) and not auth.username:
        raise ScalerConfigError(
            "username is required when basic auth is enabled", parameter="username"
        )
    if auth.enabled(AuthMode.TLS) and (auth.cert is None or auth.key is None):
        missing = "cert" if auth.cert is None else "key"
        raise ScalerConfigError(
            "cert and key are required when tls auth is enabled (ca is optional)",
            parameter=missing,
        )
    if auth.enabled(AuthMode.OAUTH) and not (
        auth.oauth_token_uri and auth.client_id and auth.client_secret
    ):
        raise ScalerConfigError(
            "oauthTokenURI, clientID and clientSecret are required when oauth is enabled",
            parameter="oauthTokenURI",
        )
    if auth.enabled(AuthMode.CUSTOM) and not (auth.custom_auth_header and auth.custom_auth_value):
        missing = "customAuthHeader" if not auth.custom_auth_header else "customAuthValue"
        raise ScalerConfigError(
            "customAuthHeader and customAuthValue are required when custom auth is enabled",
            parameter=missing,
        )
    if auth.enabled(AuthMode.API_KEY) and auth.api_key is None:
        raise ScalerConfigError(
            "apiKey is required when apiKey auth is enabled", parameter="apiKey"
        )


def ssl_context(
    auth: HTTPAuth, *, unsafe_ssl: bool, key_password: SecretStr | None = None
) -> ssl.SSLContext | None:
    """The TLS settings for the client, or ``None`` for the library default.

    ``ca`` (PEM text) replaces the trust roots when given; ``tls`` mode adds the client
    certificate and key (PEM text; Python can only load those from files, so they pass
    through a private temporary file that is removed at once), the key decrypted with
    *key_password* when it is encrypted (kafka's ``keyPassword``: PKCS#8 or legacy PEM
    encryption); ``unsafeSsl`` disables verification, as in KEDA.
    """
    uses_tls = auth.enabled(AuthMode.TLS)
    if not (unsafe_ssl or uses_tls or (auth.modes and auth.ca)):
        return None
    context = ssl.create_default_context()
    if auth.modes and auth.ca:
        try:
            context.load_verify_locations(cadata=auth.ca)
        except (ssl.SSLError, ValueError) as exc:
            raise ScalerConfigError("parameter 'ca' is not a valid PEM CA bundle") from exc
    if unsafe_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if uses_tls and auth.cert is not None and auth.key is not None:
        _load_client_certificate(context, auth.cert, auth.key, key_password)
    return context


def _load_client_certificate(
    context: ssl.SSLContext, cert: SecretStr, key: SecretStr, password: SecretStr | None
) -> None:
    with tempfile.TemporaryDirectory(prefix="podscaler-tls-") as directory:
        cert_path = os.path.join(directory, "cert.pem")
        key_path = os.path.join(directory, "key.pem")
        for path, text in ((cert_path, cert), (key_path, key)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(text.get_secret_value())
        secret = password.get_secret_value() if password is not None else None
        try:
            # Without a password, an encrypted key must fail here, not prompt on a terminal.
            context.load_cert_chain(cert_path, key_path, password=secret if secret else "")
        except (ssl.SSLError, ValueError, OSError) as exc:
            if password is not None:
                raise ScalerConfigError(
                    "parameters 'cert'/'key'/'keyPassword': the key cannot be decrypted with "
                    "keyPassword, or is not the certificate's key",
                    parameter="keyPassword",
                ) from exc
            raise ScalerConfigError(
                "parameters 'cert'/'key' are not a valid PEM certificate and matching key "
                "(an encrypted key needs keyPassword)",
                parameter="cert",
            ) from exc
