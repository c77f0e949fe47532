"""kafka ``aws_msk_iam``: the MSK IAM token is a SigV4 presigned ``kafka-cluster:Connect``
request, checked here by an independent SigV4 query-string verifier (not botocore's)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from urllib.parse import quote, unquote, urlsplit

import pytest

from scalers.contract import ScalerConfigError, ScaleTrigger
from scalers.kafka import KAFKA, KafkaConfig, _client_kwargs
from scalers.kafka_msk import MskIamTokenProvider, msk_token

KEY_ID, SECRET = "AKIDPODSCALERMSK", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYMSKSECRET"
REGION = "eu-central-1"


def _decode(token: str) -> str:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def verify_presigned(url: str, secrets: dict[str, str], region: str) -> str | None:
    """Why *url* fails a SigV4 query-string check for ``kafka-cluster``, or ``None``."""
    parts = urlsplit(url)
    pairs = [p.partition("=") for p in parts.query.split("&") if p]
    params = {unquote(k): unquote(v) for k, _, v in pairs}
    if params.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
        return "not presigned"
    key_id, date, scope_region, service, terminal = params["X-Amz-Credential"].split("/")
    if (scope_region, service, terminal) != (region, "kafka-cluster", "aws4_request"):
        return f"wrong scope {params['X-Amz-Credential']}"
    if key_id not in secrets:
        return "unknown key"
    signed = params["X-Amz-SignedHeaders"].split(";")
    if signed != ["host"]:
        return f"unexpected signed headers {signed}"
    # The signature covers every parameter but itself and the User-Agent added after signing.
    canonical_query = "&".join(
        sorted(
            f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
            for k, v in params.items()
            if k not in ("X-Amz-Signature", "User-Agent")
        )
    )
    canonical = "\n".join(
        [
            "GET",
            parts.path or "/",
            canonical_query,
            f"host:{parts.netloc}\n",
            "host",
            hashlib.sha256(b"").hexdigest(),
        ]
    )
    scope = f"{date}/{region}/kafka-cluster/aws4_request"
    to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            params["X-Amz-Date"],
            scope,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    key = _hmac(f"AWS4{secrets[key_id]}".encode(), date)
    for part in (region, "kafka-cluster", "aws4_request"):
        key = _hmac(key, part)
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, params["X-Amz-Signature"]):
        return "signature does not match"
    return None


def test_the_token_is_a_presigned_connect_request() -> None:
    url = _decode(msk_token(REGION, KEY_ID, SECRET, None))
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc) == ("https", f"kafka.{REGION}.amazonaws.com")
    query = dict(p.split("=", 1) for p in parts.query.split("&"))
    assert unquote(query["Action"]) == "kafka-cluster:Connect"
    assert query["X-Amz-Expires"] == "900"
    assert query["User-Agent"] == "podscaler"
    assert verify_presigned(url, {KEY_ID: SECRET}, REGION) is None
    assert verify_presigned(url, {KEY_ID: "not the secret"}, REGION) == "signature does not match"
    assert verify_presigned(url, {KEY_ID: SECRET}, "us-east-1") is not None
    assert SECRET not in url


def test_a_session_token_is_signed_too() -> None:
    url = _decode(msk_token(REGION, KEY_ID, SECRET, "session-token-value"))
    assert "X-Amz-Security-Token=session-token-value" in url
    assert verify_presigned(url, {KEY_ID: SECRET}, REGION) is None


def _config(auth: dict[str, str], metadata: dict[str, str] | None = None) -> KafkaConfig:
    meta = {"bootstrapServers": "b-1.msk:9098", "consumerGroup": "g", "topic": "t"}
    config = KAFKA.parse(
        ScaleTrigger(type="kafka", metadata={**meta, **(metadata or {})}),
        {},
        {"sasl": "oauthbearer", "saslTokenProvider": "aws_msk_iam", "tls": "enable", **auth},
    )
    KAFKA.check_buildable(config)
    assert isinstance(config, KafkaConfig)
    return config


def test_the_trigger_signs_with_the_trigger_authentications_keys() -> None:
    config = _config(
        {"awsAccessKeyID": KEY_ID, "awsSecretAccessKey": SECRET}, {"awsRegion": REGION}
    )
    kwargs = _client_kwargs(config.identity(), config.auth)
    assert (kwargs["security_protocol"], kwargs["sasl_mechanism"]) == ("SASL_SSL", "OAUTHBEARER")
    provider = kwargs["sasl_oauth_token_provider"]
    assert isinstance(provider, MskIamTokenProvider)
    url = _decode(asyncio.run(provider.token()))
    assert verify_presigned(url, {KEY_ID: SECRET}, REGION) is None
    assert SECRET not in repr(config)
    assert SECRET not in repr(provider)
    assert SECRET not in repr(config.identity())


def test_aws_msk_iam_needs_a_region_and_credentials() -> None:
    with pytest.raises(ScalerConfigError, match="awsRegion"):
        _config({"awsAccessKeyID": KEY_ID, "awsSecretAccessKey": SECRET})
    with pytest.raises(ScalerConfigError, match="awsSecretAccessKey"):
        _config({"awsAccessKeyID": KEY_ID}, {"awsRegion": REGION})
