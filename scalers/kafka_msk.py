"""SASL ``oauthbearer`` with KEDA's ``aws_msk_iam`` token provider (Amazon MSK IAM auth).

The token MSK accepts is a SigV4 *presigned* request: ``GET
https://kafka.<region>.amazonaws.com/?Action=kafka-cluster:Connect`` signed in the query
string for the service ``kafka-cluster`` (valid 15 minutes), with a ``User-Agent`` parameter
added after signing, the whole URL base64url-encoded without padding. That is what AWS's
signer libraries (and so KEDA) produce; the signing here is botocore's ``SigV4QueryAuth``.
The credentials are KEDA's ``GetAwsAuthorization`` ones (:mod:`scalers.aws_credentials`:
static keys, a role to assume, or the operator's identity).

SigV4 signs with the current UTC time (AWS checks it), so :func:`msk_token` takes it from
botocore at signing time; the provider signs a new token for each SASL handshake, which the
broker accepts for 15 minutes.
"""

from __future__ import annotations

import base64
from typing import Any, Final

from aiokafka.abc import AbstractTokenProvider

from scalers.aws_credentials import AWSAuth, resolve_credentials
from scalers.contract import ScalerError

__all__ = ["MSK_SERVICE", "MskIamTokenProvider", "msk_token"]

MSK_SERVICE: Final = "kafka-cluster"
TOKEN_LIFETIME_SECONDS: Final = 900
USER_AGENT: Final = "podscaler"


def msk_token(region: str, access_key: str, secret_key: str, session_token: str | None) -> str:
    """An MSK IAM auth token for *region* signed with the given credentials."""
    from botocore.auth import SigV4QueryAuth  # type: ignore[import-untyped]
    from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
    from botocore.credentials import Credentials  # type: ignore[import-untyped]

    url = f"https://kafka.{region}.amazonaws.com/?Action=kafka-cluster%3AConnect"
    request = AWSRequest(method="GET", url=url)
    signer = SigV4QueryAuth(
        Credentials(access_key, secret_key, session_token),
        MSK_SERVICE,
        region,
        expires=TOKEN_LIFETIME_SECONDS,
    )
    signer.add_auth(request)
    signed = f"{request.url}&User-Agent={USER_AGENT}"
    return base64.urlsafe_b64encode(signed.encode()).decode().rstrip("=")


class MskIamTokenProvider(AbstractTokenProvider):  # type: ignore[misc]
    """Signs an MSK IAM token for each SASL handshake."""

    def __init__(self, region: str, auth: AWSAuth) -> None:
        self.region = region
        self._auth = auth
        self._credentials: Any = None

    def __repr__(self) -> str:
        return f"MskIamTokenProvider({self.region!r}, {self._auth.kind.value})"

    async def token(self) -> str:
        if self._credentials is None:
            self._credentials = await resolve_credentials(self._auth, self.region)
        if self._credentials is None:
            raise ScalerError(
                "aws_msk_iam: no AWS credentials found (set awsAccessKeyID/awsSecretAccessKey, "
                "awsRoleArn or podIdentity aws in the TriggerAuthentication)"
            )
        frozen = self._credentials.get_frozen_credentials()
        if hasattr(frozen, "__await__"):
            frozen = await frozen
        return msk_token(self.region, frozen.access_key, frozen.secret_key, frozen.token)
