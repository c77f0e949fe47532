"""The prometheus trigger signs its queries with SigV4 for Amazon Managed Prometheus.

A real HTTP server stands in for AMP and checks each request's signature the way AWS does:
with its own implementation of the SigV4 algorithm (canonical request from what arrived on the
wire, string to sign, HMAC chain from the secret key), independent of botocore, which signs.
Covered: static keys from a TriggerAuthentication, the operator's identity (``podIdentity``
aws, from the standard chain's environment variables, with a session token), the RFC 3986
query encoding that signing needs (a query with spaces and brackets), a wrong secret refused,
and a trigger without AWS credentials left unsigned as in KEDA.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, unquote

import pytest
from aiohttp import web

from scalers.contract import ScalerEnvironment, ScaleTrigger
from scalers.prometheus import PrometheusScaler
from scalers.registry import default_registry

KEY_ID, SECRET = "AKIDPODSCALERTEST", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYPODSCALER"
REGION = "eu-west-1"
QUERY = 'sum by (job) (rate(http_requests_total{job="api"}[2m]))'
BODY = '{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"7"]}]}}'


def _aws_encode(text: str) -> str:
    return quote(text, safe="-_.~")


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def verify_sigv4(request: web.Request, secrets: dict[str, str], region: str) -> str | None:
    """Why *request* fails AWS's SigV4 check for service ``aps``, or ``None`` if it passes."""
    authorization = request.headers.get("Authorization", "")
    if not authorization.startswith("AWS4-HMAC-SHA256 "):
        return "not signed"
    fields = dict(
        part.strip().split("=", 1) for part in authorization[len("AWS4-HMAC-SHA256 ") :].split(",")
    )
    key_id, date, scope_region, service, terminal = fields["Credential"].split("/")
    if (scope_region, service, terminal) != (region, "aps", "aws4_request"):
        return f"wrong scope {fields['Credential']}"
    if key_id not in secrets:
        return "unknown key"
    amz_date = request.headers["X-Amz-Date"]
    signed = fields["SignedHeaders"].split(";")
    canonical_headers = "".join(f"{h}:{request.headers[h].strip()}\n" for h in signed)
    # AWS decodes each name and value (a "+" stays a "+") and re-encodes them per RFC 3986.
    raw_query = request.raw_path.partition("?")[2]
    pairs = sorted(
        (_aws_encode(unquote(k)), _aws_encode(unquote(v)))
        for k, _, v in (p.partition("=") for p in raw_query.split("&") if p)
    )
    canonical_query = "&".join(f"{k}={v}" for k, v in pairs)
    canonical = "\n".join(
        [
            request.method,
            request.raw_path.partition("?")[0],
            canonical_query,
            canonical_headers,
            fields["SignedHeaders"],
            hashlib.sha256(b"").hexdigest(),
        ]
    )
    scope = f"{date}/{region}/aps/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _hmac(f"AWS4{secrets[key_id]}".encode(), date)
    for part in (region, "aps", "aws4_request"):
        key = _hmac(key, part)
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, fields["Signature"]):
        return "signature does not match"
    return None


class FakeAmp:
    """An AMP workspace query endpoint that answers only correctly signed requests."""

    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets
        self.seen: list[dict[str, Any]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        problem = verify_sigv4(request, self.secrets, REGION)
        self.seen.append(
            {
                "problem": problem,
                "query": request.query.get("query"),
                "token": request.headers.get("X-Amz-Security-Token"),
                "authorization": request.headers.get("Authorization"),
            }
        )
        if problem is not None:
            return web.json_response({"message": problem}, status=403)
        return web.Response(text=BODY, content_type="application/json")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/workspaces/ws-1/api/v1/query", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/workspaces/ws-1"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def amp() -> AsyncIterator[FakeAmp]:
    server = FakeAmp({KEY_ID: SECRET, "ASIAOPERATOR": "operator-secret/abc+def"})
    await server.start()
    yield server
    await server.stop()


async def _query(
    amp: FakeAmp, auth_params: dict[str, str], provider: str = "", **metadata: str
) -> tuple[float | None, str]:
    meta = {"serverAddress": amp.url, "query": QUERY, "threshold": "5", **metadata}
    registry = default_registry()
    config = registry.check(
        ScaleTrigger(type="prometheus", metadata=meta), {}, auth_params,
        pod_identity_provider=provider,
    )  # fmt: skip
    scaler = registry.build("prometheus", config, ScalerEnvironment())
    assert isinstance(scaler, PrometheusScaler)
    try:
        return await scaler.execute_query(), ""
    except Exception as exc:
        return None, str(exc)
    finally:
        await scaler.close()


async def test_static_keys_sign_every_query(amp: FakeAmp) -> None:
    keys = {"awsAccessKeyID": KEY_ID, "awsSecretAccessKey": SECRET}
    value, error = await _query(amp, keys, awsRegion=REGION)
    assert (value, error) == (7.0, "")
    [seen] = amp.seen
    assert seen["problem"] is None
    assert seen["query"] == QUERY  # the RFC 3986 encoding round-trips through the server


async def test_a_wrong_secret_is_refused_and_never_shown(amp: FakeAmp) -> None:
    keys = {"awsAccessKeyID": KEY_ID, "awsSecretAccessKey": "not-the-secret-value"}
    value, error = await _query(amp, keys, awsRegion=REGION)
    assert value is None
    assert "403" in error
    assert "not-the-secret-value" not in error
    assert amp.seen[0]["problem"] == "signature does not match"


async def test_pod_identity_aws_signs_with_the_operators_identity(
    amp: FakeAmp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """podIdentity aws: the standard chain (here its environment variables, with a session
    token, as web identity would give) signs; the token travels as X-Amz-Security-Token."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ASIAOPERATOR")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "operator-secret/abc+def")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token-1")
    for name in ("AWS_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    value, error = await _query(amp, {}, "aws", awsRegion=REGION)
    assert (value, error) == (7.0, "")
    assert amp.seen[0]["token"] == "session-token-1"
    assert "ASIAOPERATOR/" in amp.seen[0]["authorization"]


async def test_without_aws_credentials_nothing_is_signed(amp: FakeAmp) -> None:
    """KEDA signs only when the AWS authorization resolves; a plain trigger is sent as is."""
    value, error = await _query(amp, {}, awsRegion=REGION)
    assert value is None
    assert amp.seen[0]["problem"] == "not signed"
    assert "403" in error


def test_signing_needs_a_region() -> None:
    from scalers.contract import ScalerConfigError

    with pytest.raises(ScalerConfigError, match="awsRegion"):
        default_registry().check(
            ScaleTrigger(
                type="prometheus",
                metadata={"serverAddress": "http://amp", "query": "up", "threshold": "1"},
            ),
            {},
            {"awsAccessKeyID": KEY_ID, "awsSecretAccessKey": SECRET},
        )
