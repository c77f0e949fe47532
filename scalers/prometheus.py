"""The ``prometheus`` trigger: one instant PromQL query, compared with a threshold.

As KEDA's ``pkg/scalers/prometheus_scaler.go``: ``GET {serverAddress}/api/v1/query`` with
``query``, ``time`` (now, UTC, RFC 3339), ``namespace`` when set (Thanos querier / tenancy
proxies read it) and ``queryParameters``; ``customHeaders`` and the auth headers on top. The
query must return at most one sample. Its value drives an ``AverageValue`` (or ``Value``)
External metric ``s{i}-prometheus`` with target ``threshold``; the trigger is active when the
value is strictly greater than ``activationThreshold``.

Response handling is the pure :func:`parse_query_response`, which follows KEDA case by case
(empty results, several series, missing values, ``NaN``/``±Inf``, JSON ``null``) including
the decoding rules of Go's ``encoding/json``, so a response that KEDA accepts is accepted
here with the same value, and one that KEDA rejects is a :class:`ScalerError` here.

Amazon Managed Prometheus: as KEDA's ``NewSigV4RoundTripper``, when no ``authModes`` are set and
the trigger's AWS authorization resolves (``podIdentity.provider: aws``, ``awsRoleArn`` or AWS
keys; see :mod:`scalers.aws_credentials`), every request is signed with SigV4 for service
``aps`` in ``awsRegion``. Signed query strings are encoded per RFC 3986 (``%20``, not ``+``):
that is the form SigV4 canonicalizes to, so botocore's signature is the one AWS recomputes.

Connections: every scaler of a loop shares one :class:`aiohttp.ClientSession` through an
:class:`~scalers.contract.HTTPSessionPool` (``ScalerEnvironment.extras["http_sessions"]``, or the
running loop's pool), acquired on the first poll and released by :meth:`PrometheusScaler.close`.
Each request carries the trigger's own headers, TLS context and proxy, so nothing secret sits
in shared state. The proxy for ``serverAddress`` is read from ``HTTP(S)_PROXY`` / ``NO_PROXY``
once, when the scaler is built (as Go's ``ProxyFromEnvironment`` caches it), not in a thread on
every request as a ``trust_env`` session would.
"""

from __future__ import annotations

import inspect
import json
import math
import re
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

import aiohttp
from pydantic import ConfigDict
from yarl import URL

from podscaler.api.metrictarget import MetricTargetType
from podscaler.api.timestamps import format_time
from scalers.aws_credentials import AWSAuth, parse_aws_auth, resolve_credentials
from scalers.contract import (
    ExternalMetricSpec,
    HTTPSessionPool,
    MetricSpec,
    MetricValue,
    ScalerConfig,
    ScalerConfigError,
    ScalerEnvironment,
    ScalerError,
    ScalerFactoryBase,
    TriggerInput,
    exported_metric_value,
)
from scalers.http_auth import AuthMode, HTTPAuth, parse_http_auth, ssl_context
from scalers.metadata import (
    MetadataReader,
    Source,
    external_metric_target_milli,
    external_target_type,
    metric_name,
    normalize_metric_name,
)

__all__ = [
    "PROMETHEUS",
    "UNSUPPORTED_AUTH_MODES",
    "UNSUPPORTED_POD_IDENTITIES",
    "PrometheusConfig",
    "PrometheusFactory",
    "PrometheusResponseError",
    "PrometheusScaler",
    "parse_query_response",
    "parse_range_response",
    "prometheus_activity",
]

#: Largest response body read; an instant query for one sample is a few hundred bytes.
MAX_BODY_BYTES = 8 * 1024 * 1024

#: Prometheus refuses range queries of more points than this (``exceeded maximum resolution``).
MAX_RANGE_POINTS = 11_000

#: podIdentity providers KEDA's prometheus trigger accepts and podscaler's cannot use yet.
UNSUPPORTED_POD_IDENTITIES: Final = ("azure", "azure-workload", "gcp")
#: The SigV4 service name of Amazon Managed Prometheus.
AMP_SERVICE: Final = "aps"
#: ``authModes`` values KEDA accepts and podscaler's prometheus trigger cannot use yet.
UNSUPPORTED_AUTH_MODES: Final = (AuthMode.OAUTH,)


class PrometheusConfig(ScalerConfig):
    """A validated ``prometheus`` trigger."""

    model_config = ConfigDict(frozen=True)

    server_address: str
    query: str
    threshold: float
    activation_threshold: float = 0.0
    query_parameters: dict[str, str] = {}
    namespace: str = ""
    custom_headers: dict[str, str] = {}
    ignore_null_values: bool = True
    unsafe_ssl: bool = False
    aws_region: str = ""
    identity_owner: str = ""
    #: Per-request timeout; ``None`` (or 0) means the environment's default.
    timeout_seconds: float | None = None
    auth: HTTPAuth = HTTPAuth()
    pod_identity_provider: str = ""
    #: AWS credentials to sign every request with (SigV4, service ``aps``: Amazon Managed
    #: Prometheus), as KEDA does when no authModes are set and AWS credentials are given.
    aws_auth: AWSAuth | None = None
    metric_type: MetricTargetType = MetricTargetType.AVERAGE_VALUE

    @property
    def metric_name(self) -> str:
        return metric_name(self.trigger_index, normalize_metric_name("prometheus"))


class PrometheusFactory(ScalerFactoryBase[PrometheusConfig]):
    """Parses and builds ``prometheus`` triggers."""

    trigger_types: tuple[str, ...] = ("prometheus",)
    config_type = PrometheusConfig

    def parse_input(self, given: TriggerInput) -> PrometheusConfig:
        trigger = given.trigger
        r = MetadataReader.for_input(given, "prometheus")
        auth = parse_http_auth(r)
        server_address = r.required_string("serverAddress")
        query = r.required_string("query")
        query_parameters = r.mapping("queryParameters") or {}
        threshold = r.number("threshold")
        activation = r.number("activationThreshold", required=False)
        namespace = r.string("namespace", required=False) or ""
        custom_headers = r.mapping("customHeaders") or {}
        ignore_null = r.boolean("ignoreNullValues", default=True)
        unsafe_ssl = r.boolean("unsafeSsl", default=False)
        aws_region = r.string(
            "awsRegion", (Source.TRIGGER_METADATA, Source.AUTH_PARAMS), required=False
        )
        timeout = r.duration_seconds("timeout", required=False)
        identity_owner = r.string("identityOwner", required=False) or ""
        metric_type = external_target_type(trigger.metric_type)
        assert threshold is not None
        assert ignore_null is not None
        assert unsafe_ssl is not None
        if auth.modes and given.pod_identity_provider not in ("", "none"):
            raise ScalerConfigError(
                "pod identity cannot be enabled with other auth types", parameter="authModes"
            )
        aws_auth = None if auth.modes else _aws_signing(r, given.pod_identity_provider)
        if aws_auth is not None and not aws_region:
            raise ScalerConfigError(
                "no awsRegion given: it is needed to sign requests for Amazon Managed Prometheus",
                parameter="awsRegion",
            )
        return PrometheusConfig(
            **given.base_fields(r.unexpected(), r.known()),
            server_address=server_address,
            query=query,
            threshold=threshold,
            activation_threshold=activation or 0.0,
            query_parameters=query_parameters,
            namespace=namespace,
            custom_headers=custom_headers,
            ignore_null_values=ignore_null,
            unsafe_ssl=unsafe_ssl,
            aws_region=aws_region or "",
            identity_owner=identity_owner,
            timeout_seconds=timeout or None,
            auth=auth,
            pod_identity_provider=given.pod_identity_provider,
            aws_auth=aws_auth,
            metric_type=metric_type,
        )

    def check_buildable(self, config: ScalerConfig) -> None:
        """What parses (KEDA accepts it) but podscaler cannot build; pure, so ``podscaler
        validate`` reports it offline exactly as the operator does."""
        checked = self.config_of(config)
        check_buildable(checked)

    def build(self, config: ScalerConfig, env: ScalerEnvironment) -> PrometheusScaler:
        checked = self.config_of(config)
        return PrometheusScaler(checked, env)


def _aws_signing(reader: MetadataReader, pod_identity_provider: str) -> AWSAuth | None:
    """KEDA's ``NewSigV4RoundTripper``: requests are signed when ``podIdentity.provider`` is
    aws, or when the trigger's AWS authorization resolves (``identityOwner: operator``,
    ``awsRoleArn``, or static keys); a trigger without any of them is not signed."""
    if pod_identity_provider in ("aws", "aws-eks"):
        return parse_aws_auth(reader, pod_identity_provider)
    try:
        return parse_aws_auth(reader, pod_identity_provider)
    except ScalerConfigError:
        return None


def check_buildable(config: PrometheusConfig) -> None:
    """Raise :class:`ScalerConfigError` for a parsed config podscaler cannot act on (auth
    modes and pod identities not implemented, a server address that is no URL). Pure."""
    for mode in UNSUPPORTED_AUTH_MODES:
        if config.auth.enabled(mode):
            raise ScalerConfigError(
                f"authModes {mode.value!r} is not supported by podscaler's prometheus trigger yet",
                parameter="authModes",
            )
    if config.pod_identity_provider in UNSUPPORTED_POD_IDENTITIES:
        raise ScalerConfigError(
            f"pod identity provider {config.pod_identity_provider!r} is not supported by "
            "podscaler's prometheus trigger; use bearer, basic, custom or tls auth",
            parameter="podIdentity",
        )
    try:
        URL(config.server_address)
    except ValueError as exc:
        raise ScalerConfigError(
            "parameter 'serverAddress' is not a valid URL", parameter="serverAddress"
        ) from exc


# -------------------------------------------------------------------------------- the scaler


class PrometheusScaler:
    """A built ``prometheus`` trigger."""

    def __init__(self, config: PrometheusConfig, env: ScalerEnvironment) -> None:
        check_buildable(config)
        self.config = config
        self._env = env
        self._ssl = ssl_context(config.auth, unsafe_ssl=config.unsafe_ssl)
        self._timeout = config.timeout_seconds or env.http_timeout_seconds
        self._client_timeout = aiohttp.ClientTimeout(total=self._timeout)
        pool = env.extras.get("http_sessions")
        if pool is not None and not isinstance(pool, HTTPSessionPool):
            raise TypeError("extras['http_sessions'] must be an HTTPSessionPool")
        self._pool: HTTPSessionPool | None = pool
        self._session: aiohttp.ClientSession | None = None
        self._session_pool: HTTPSessionPool | None = None
        self._proxy, self._proxy_auth = _env_proxy(config.server_address)
        secrets = config.auth.secrets() + (config.aws_auth.secrets() if config.aws_auth else [])
        self._redactions = [s for s in secrets if len(s) >= 3]
        self._aws_credentials: Any = None
        password = urlsplit(config.server_address).password
        if password:
            self._redactions.append(password)
        self._where = _without_userinfo(config.server_address)

    def metric_specs(self) -> list[MetricSpec]:
        target = external_metric_target_milli(self.config.metric_type, self.config.threshold)
        return [ExternalMetricSpec(metric_name=self.config.metric_name, target=target)]

    def request_url(self) -> URL:
        """The query URL for now (injected clock), parameters in KEDA's order."""
        now = format_time(self._env.now())
        params = [("query", self.config.query), ("time", now)]
        if self.config.namespace:
            params.append(("namespace", self.config.namespace))
        params.extend(self.config.query_parameters.items())
        base = self.config.server_address.rstrip("/")
        return URL(f"{base}/api/v1/query?{self._encode(params)}", encoded=True)

    def _encode(self, params: list[tuple[str, str]]) -> str:
        """The query string as KEDA's ``url.Values.Encode`` writes it (``+`` for spaces);
        RFC 3986 (``%20``) when the request is signed, the form SigV4 canonicalizes to, so
        the signature botocore computes is the one AWS recomputes."""
        if self.config.aws_auth is not None:
            return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in params)
        return "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in params)

    def request_headers(self) -> dict[str, str]:
        headers = dict(self.config.custom_headers)
        headers.update(self.config.auth.headers())
        return headers

    def range_request_url(self, start: datetime, end: datetime, step_seconds: float) -> URL:
        """The range-query URL for ``[start, end]`` every ``step_seconds`` (Unix seconds, as
        Prometheus accepts them), with the same ``namespace`` and ``queryParameters``."""
        params = [
            ("query", self.config.query),
            ("start", _unix(start)),
            ("end", _unix(end)),
            ("step", f"{step_seconds:g}s"),
        ]
        if self.config.namespace:
            params.append(("namespace", self.config.namespace))
        params.extend(self.config.query_parameters.items())
        base = self.config.server_address.rstrip("/")
        return URL(f"{base}/api/v1/query_range?{self._encode(params)}", encoded=True)

    async def execute_query(self) -> float:
        """Run the query once; the value as KEDA's ``ExecutePromQuery`` returns it."""
        body = await self._fetch(self.request_url(), "query")
        return parse_query_response(
            body, ignore_null_values=self.config.ignore_null_values, query=self.config.query
        )

    async def execute_range_query(
        self, start: datetime, end: datetime, step_seconds: float
    ) -> list[tuple[float, float]]:
        """The query's samples over ``[start, end]`` as ``(unix seconds, value)`` pairs (see
        :func:`parse_range_response`). One request: keep ``(end - start) / step`` within
        Prometheus' 11,000 points per query (:data:`MAX_RANGE_POINTS`)."""
        body = await self._fetch(self.range_request_url(start, end, step_seconds), "range query")
        return parse_range_response(body, query=self.config.query)

    async def _fetch(self, url: URL, what: str) -> bytes:
        """GET ``url`` with the trigger's headers, TLS and proxy; the body of a 2xx answer,
        else a :class:`ScalerError` naming the server (without credentials)."""
        session = self._ensure_session()
        headers = self.request_headers()
        if self.config.aws_auth is not None:
            headers.update(await self._sigv4_headers(url))
        try:
            async with session.get(
                url,
                headers=headers,
                timeout=self._client_timeout,
                ssl=self._ssl if self._ssl is not None else True,
                proxy=self._proxy,
                proxy_auth=self._proxy_auth,
            ) as response:
                body = await _read_bounded(response.content, MAX_BODY_BYTES + 1)
                status = response.status
        except TimeoutError as exc:
            raise ScalerError(
                f"prometheus {what} to {self._where} timed out after {self._timeout:g}s"
            ) from exc
        except aiohttp.ClientError as exc:
            reason = self._redact(str(exc) or type(exc).__name__)
            raise ScalerError(f"prometheus {what} to {self._where} failed: {reason}") from exc
        if not 200 <= status <= 299:
            detail = _error_detail(body)
            raise ScalerError(
                f"prometheus {what} api at {self._where} returned error. status: {status}"
                + (f" ({self._redact(detail)})" if detail else "")
            )
        if len(body) > MAX_BODY_BYTES:
            raise ScalerError(
                f"prometheus response from {self._where} exceeds {MAX_BODY_BYTES} bytes"
            )
        return body

    async def get_metrics_and_activity(self, metric_name: str) -> tuple[list[MetricValue], bool]:
        now = self._env.now()
        value = await self.execute_query()
        exported, active = prometheus_activity(value, self.config.activation_threshold)
        sample = MetricValue(metric_name=metric_name, value=exported, raw=value, timestamp=now)
        return [sample], active

    async def close(self) -> None:
        pool, self._session_pool = self._session_pool, None
        self._session = None
        if pool is not None:
            await pool.release()

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            if self._session_pool is None:
                self._session_pool = self._pool or HTTPSessionPool.for_running_loop()
                self._session = self._session_pool.acquire()
            else:  # the pool's owner closed it under us: take the pool's next session
                self._session = self._session_pool.reacquire()
        return self._session

    async def _sigv4_headers(self, url: URL) -> dict[str, str]:
        """``Authorization``, ``X-Amz-Date`` (and ``X-Amz-Security-Token``) for a GET of *url*
        (SigV4, service ``aps``). The signing time is the wall clock, through botocore: AWS
        checks it against its own, so a simulated clock could never sign."""
        from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
        from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
        from botocore.credentials import Credentials  # type: ignore[import-untyped]

        assert self.config.aws_auth is not None
        try:
            if self._aws_credentials is None:
                self._aws_credentials = await resolve_credentials(
                    self.config.aws_auth, self.config.aws_region
                )
            if self._aws_credentials is None:
                raise ScalerError(
                    f"prometheus query to {self._where}: no AWS credentials found to sign with "
                    "(podIdentity aws uses the operator's identity: environment, web identity "
                    "or instance role)"
                )
            frozen = self._aws_credentials.get_frozen_credentials()
            if inspect.isawaitable(frozen):
                frozen = await frozen
        except ScalerError:
            raise
        except Exception as exc:  # botocore's credential errors: the next poll may succeed
            self._aws_credentials = None
            reason = self._redact(str(exc) or type(exc).__name__)
            raise ScalerError(
                f"prometheus query to {self._where}: AWS credentials: {reason}"
            ) from exc
        request = AWSRequest(method="GET", url=str(url), headers={})
        credentials = Credentials(frozen.access_key, frozen.secret_key, frozen.token)
        SigV4Auth(credentials, AMP_SERVICE, self.config.aws_region).add_auth(request)
        return {k: str(v) for k, v in request.headers.items() if k.lower() != "host"}

    def _redact(self, text: str) -> str:
        for secret in self._redactions:
            text = text.replace(secret, "***")
        return text


def prometheus_activity(value: float, activation_threshold: float) -> tuple[float, bool]:
    """The exported metric value and the activity for a query result. Pure.

    Activity uses the raw value (strictly greater than the activation threshold); the
    exported value maps NaN/±Inf/negatives to 0, as KEDA's ``GenerateMetricInMili``.
    """
    return exported_metric_value(value), value > activation_threshold


# -------------------------------------------------------------------------------- responses


class PrometheusResponseError(ScalerError):
    """The response body is not one KEDA would turn into a value."""


def parse_query_response(body: bytes | str, *, ignore_null_values: bool, query: str = "") -> float:
    """The value of an instant-query response, as KEDA's ``ExecutePromQuery`` computes it.

    Zero samples: 0 (or an error when ``ignore_null_values`` is false); more than one: error;
    an empty ``value``: like zero samples; a one-element ``value``: error; a JSON ``null``
    sample value: -1 (no error: exported as 0, inactive); ``NaN``/``±Inf``: 0 (or error);
    anything Go's ``strconv.ParseFloat`` would refuse: error.
    """
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise PrometheusResponseError(f"prometheus response is not valid JSON: {exc}") from exc
    top = _decode_struct(document, ("status", "data"), "response")
    _expect_string(top.get("status"), "status")
    data = _decode_struct(top.get("data"), ("resultType", "result"), "data")
    _expect_string(data.get("resultType"), "data.resultType")
    results = _decode_list(data.get("result"), "data.result")
    samples = [_decode_struct(item, ("metric", "value"), "data.result[]") for item in results]
    for sample in samples:
        _decode_struct(sample.get("metric"), (), "data.result[].metric")
        _decode_list(sample.get("value"), "data.result[].value")

    if not samples:
        if ignore_null_values:
            return 0.0
        raise PrometheusResponseError(
            "prometheus metrics 'prometheus' target may be lost, the result is empty"
        )
    if len(samples) > 1:
        raise PrometheusResponseError(
            f"prometheus query {query} returned multiple elements ({len(samples)})"
        )
    pair = _decode_list(samples[0].get("value"), "data.result[0].value")
    if not pair:
        if ignore_null_values:
            return 0.0
        raise PrometheusResponseError(
            "prometheus metrics 'prometheus' target may be lost, the value list is empty"
        )
    if len(pair) < 2:
        raise PrometheusResponseError(f"prometheus query {query} didn't return enough values")
    raw = pair[1]
    value = -1.0
    if raw is not None:
        if not isinstance(raw, str):
            raise PrometheusResponseError(
                f"prometheus sample value must be a string, got {type(raw).__name__}"
            )
        parsed = parse_go_float(raw)
        if parsed is None:
            raise PrometheusResponseError(f"error converting prometheus value {raw[:64]!r}")
        value = parsed
    if math.isinf(value) or math.isnan(value):
        if ignore_null_values:
            return 0.0
        raise PrometheusResponseError(f"prometheus query returns {_go_format(value)}")
    return value


def parse_range_response(body: bytes | str, *, query: str = "") -> list[tuple[float, float]]:
    """The samples of a range-query (``matrix``) response, as ``(unix seconds, value)``.

    History for forecasting, so the rules differ from the instant query's on purpose: no
    series is an empty history (not an error); more than one is an error (the query must
    aggregate, as the instant query must); ``NaN`` and ``±Inf`` are kept as such for the
    caller to drop; anything that is not a number is an error.
    """
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise PrometheusResponseError(f"prometheus response is not valid JSON: {exc}") from exc
    top = _decode_struct(document, ("status", "data"), "response")
    data = _decode_struct(top.get("data"), ("resultType", "result"), "data")
    kind = data.get("resultType")
    if kind is not None and kind != "matrix":
        raise PrometheusResponseError(
            f"prometheus range query {query} returned {kind!r}, expected a matrix"
        )
    series = _decode_list(data.get("result"), "data.result")
    if not series:
        return []
    if len(series) > 1:
        raise PrometheusResponseError(
            f"prometheus query {query} returned multiple series ({len(series)}); "
            "aggregate it to one (sum, max ...)"
        )
    values = _decode_list(_decode_struct(series[0], ("values",), "data.result[]").get("values"),
                          "data.result[0].values")  # fmt: skip
    out: list[tuple[float, float]] = []
    for pair in values:
        if not isinstance(pair, list) or len(pair) != 2:
            raise PrometheusResponseError("prometheus range samples must be [time, value] pairs")
        stamp, raw = pair
        if isinstance(stamp, bool) or not isinstance(stamp, int | float):
            raise PrometheusResponseError("prometheus range sample time must be a number")
        value = parse_go_float(raw) if isinstance(raw, str) else None
        if value is None:
            raise PrometheusResponseError(f"error converting prometheus value {str(raw)[:64]!r}")
        out.append((float(stamp), value))
    return out


async def _read_bounded(stream: aiohttp.StreamReader, limit: int) -> bytes:
    """The body up to ``limit`` bytes. ``StreamReader.read(n)`` returns what has arrived so
    far (at most ``n``), not ``n`` bytes: a history of a few hundred kilobytes needs a loop."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await stream.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _unix(moment: datetime) -> str:
    """A time as Unix seconds, at most millisecond precision (Prometheus' own)."""
    return f"{moment.timestamp():.3f}".rstrip("0").rstrip(".")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON literal {name}")


def _decode_struct(value: Any, fields: tuple[str, ...], where: str) -> dict[str, Any]:
    """Go's decoding of a JSON value into a struct: ``null`` is the zero value, an object's
    keys match field names case-insensitively (last one wins), anything else is an error."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PrometheusResponseError(
            f"prometheus response: {where} must be an object, got {_json_kind(value)}"
        )
    out: dict[str, Any] = {}
    for key, item in value.items():
        for field in fields:
            if key == field or key.lower() == field.lower():
                out[field] = item
                break
    return out


def _decode_list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PrometheusResponseError(
            f"prometheus response: {where} must be an array, got {_json_kind(value)}"
        )
    return value


def _expect_string(value: Any, where: str) -> None:
    if value is not None and not isinstance(value, str):
        raise PrometheusResponseError(
            f"prometheus response: {where} must be a string, got {_json_kind(value)}"
        )


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


_GO_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_GO_HEX = re.compile(r"([+-]?)0[xX]([0-9a-fA-F_]*\.?[0-9a-fA-F_]*)[pP]([+-]?[0-9_]+)")
_GO_SPECIAL = {
    "inf": math.inf,
    "+inf": math.inf,
    "-inf": -math.inf,
    "infinity": math.inf,
    "+infinity": math.inf,
    "-infinity": -math.inf,
    "nan": math.nan,
}


def parse_go_float(text: str) -> float | None:
    """Go ``strconv.ParseFloat(text, 64)``: ``None`` where Go returns an error (syntax, or a
    finite literal out of range). Accepts Prometheus' ``NaN``, ``+Inf``, ``-Inf``."""
    special = _GO_SPECIAL.get(text.lower())
    if special is not None:
        return special
    if _GO_DECIMAL.fullmatch(text):
        value = float(text)
    else:
        match = _GO_HEX.fullmatch(text)
        if match is None or not any(c not in "._" for c in match.group(2)):
            return None
        try:
            value = float.fromhex(f"{match.group(1)}0x{match.group(2)}p{match.group(3)}")
        except (ValueError, OverflowError):
            return None
    return None if math.isinf(value) else value


def _go_format(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return "+Inf" if value > 0 else "-Inf"


def _error_detail(body: bytes) -> str:
    """Prometheus' own ``error`` text from a failed response, short, if there is one."""
    try:
        document = json.loads(body.decode("utf-8", errors="replace"))
    except ValueError:
        return ""
    if isinstance(document, dict) and isinstance(document.get("error"), str):
        return str(document["error"])[:200]
    return ""


def _env_proxy(address: str) -> tuple[URL | None, aiohttp.BasicAuth | None]:
    """The proxy ``HTTP(S)_PROXY`` / ``NO_PROXY`` choose for *address* (``None``: direct)."""
    try:
        return aiohttp.helpers.get_env_proxy_for_url(URL(address))
    except (LookupError, ValueError):
        return None, None


def _without_userinfo(address: str) -> str:
    """``serverAddress`` as shown in messages: credentials in the URL are dropped."""
    try:
        parts = urlsplit(address)
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
    except ValueError:
        return "<invalid serverAddress>"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


PROMETHEUS = PrometheusFactory()
