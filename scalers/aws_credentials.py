"""AWS credentials of a trigger, as KEDA's ``GetAwsAuthorization`` reads them: shared by the
``aws-sqs-queue`` trigger and the prometheus trigger's SigV4 signing (Amazon Managed
Prometheus).

A TriggerAuthentication with ``podIdentity.provider: aws`` uses the operator's own identity (the
standard chain, which includes web identity through ``AWS_ROLE_ARN`` /
``AWS_WEB_IDENTITY_TOKEN_FILE``), assuming ``podIdentity.roleArn`` when one is given; otherwise
``awsRoleArn`` is assumed with the operator's identity; otherwise static keys
(``awsAccessKeyID``/``awsAccessKeyId``, ``awsSecretAccessKey``, ``awsSessionToken``) are
required. Parsing is pure; :func:`install_assume_role` and :func:`resolve_credentials` do the
I/O.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr

from scalers.contract import ScalerConfigError
from scalers.metadata import AUTH_PARAMS, MetadataReader, Source

__all__ = [
    "POD_IDENTITY_EXTERNAL_ID",
    "POD_IDENTITY_IDENTITY_OWNER",
    "POD_IDENTITY_ROLE_ARN",
    "AWSAuth",
    "AWSCredentialKind",
    "install_assume_role",
    "parse_aws_auth",
    "resolve_credentials",
]

#: Auth-param keys under which the TriggerAuthentication resolver hands over the fields of
#: ``podIdentity`` that AWS triggers need (the factory contract carries only the provider
#: name). A dot cannot appear in a KEDA parameter name users write, so these never collide.
POD_IDENTITY_ROLE_ARN = "podIdentity.roleArn"
POD_IDENTITY_EXTERNAL_ID = "podIdentity.externalID"
POD_IDENTITY_IDENTITY_OWNER = "podIdentity.identityOwner"


class AWSCredentialKind(StrEnum):
    """Where the credentials of a trigger come from."""

    STATIC = "static"  # access key + secret (+ session token) from the TriggerAuthentication
    ASSUME_ROLE = "assume-role"  # the operator's identity, then sts:AssumeRole
    OPERATOR = "operator"  # the operator's identity as is (env, web identity, instance role)


class AWSAuth(BaseModel):
    """Parsed AWS credentials of one trigger. Secrets are :class:`SecretStr`."""

    model_config = ConfigDict(frozen=True)

    kind: AWSCredentialKind
    access_key_id: str = ""
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = None
    role_arn: str = ""
    external_id: str = ""

    def secrets(self) -> list[str]:
        """Secret values, for redacting messages that come from elsewhere."""
        return [s.get_secret_value() for s in (self.secret_access_key, self.session_token) if s]


def parse_aws_auth(reader: MetadataReader, pod_identity_provider: str) -> AWSAuth:
    """KEDA's ``GetAwsAuthorization`` for one trigger. Pure.

    ``aws-eks`` (removed from KEDA in favour of ``aws``) is read as ``aws``.
    """
    reader.mark_known("identityOwner", "awsAccessKeyID", "awsSecretAccessKey")
    if pod_identity_provider in ("aws", "aws-eks"):
        role_arn = reader.string(POD_IDENTITY_ROLE_ARN, AUTH_PARAMS, required=False) or ""
        owner = reader.string(POD_IDENTITY_IDENTITY_OWNER, AUTH_PARAMS, required=False) or ""
        if role_arn and owner not in ("keda", "operator"):
            external_id = reader.string(POD_IDENTITY_EXTERNAL_ID, AUTH_PARAMS, required=False) or ""
            return AWSAuth(
                kind=AWSCredentialKind.ASSUME_ROLE, role_arn=role_arn, external_id=external_id
            )
        return AWSAuth(kind=AWSCredentialKind.OPERATOR)
    identity_owner = reader.enum(
        "identityOwner", ("pod", "operator"), default="pod", required=False
    )
    if identity_owner == "operator":
        return AWSAuth(kind=AWSCredentialKind.OPERATOR)
    assume = reader.string("awsRoleArn", AUTH_PARAMS, required=False)
    if assume:
        external_id = reader.string("awsExternalID", AUTH_PARAMS, required=False) or ""
        return AWSAuth(kind=AWSCredentialKind.ASSUME_ROLE, role_arn=assume, external_id=external_id)
    key_id = reader.lookup(("awsAccessKeyID", "awsAccessKeyId"), AUTH_PARAMS) or reader.lookup(
        "awsAccessKeyID", (Source.TRIGGER_METADATA, Source.RESOLVED_ENV)
    )
    if key_id is None:
        raise ScalerConfigError(
            "awsAccessKeyID not found: set it (or awsRoleArn, or podIdentity aws) in the "
            "TriggerAuthentication",
            parameter="awsAccessKeyID",
            missing_from=("authParams", "triggerMetadata", "resolvedEnv"),
        )
    secret = reader.lookup("awsSecretAccessKey", AUTH_PARAMS) or reader.lookup(
        "awsSecretAccessKey", (Source.RESOLVED_ENV,)
    )
    if secret is None:
        raise ScalerConfigError(
            "awsSecretAccessKey not found: set it in the TriggerAuthentication",
            parameter="awsSecretAccessKey",
            missing_from=("authParams", "resolvedEnv"),
        )
    token = reader.lookup("awsSessionToken", AUTH_PARAMS)
    return AWSAuth(
        kind=AWSCredentialKind.STATIC,
        access_key_id=key_id[0],
        secret_access_key=SecretStr(secret[0]),
        session_token=SecretStr(token[0]) if token else None,
    )


def install_assume_role(session: Any, region: str, auth: AWSAuth) -> None:
    """Make ``session`` resolve credentials by assuming ``auth.role_arn`` with the operator's
    identity, refreshed before they expire (aiobotocore's refreshable credentials)."""
    from aiobotocore.credentials import AioDeferredRefreshableCredentials
    from aiobotocore.session import AioSession
    from botocore.credentials import CredentialProvider  # type: ignore[import-untyped]

    source = AioSession()

    async def refresh() -> dict[str, Any]:
        args: dict[str, Any] = {
            "RoleArn": auth.role_arn,
            "RoleSessionName": "podscaler",
            "DurationSeconds": 900,
        }
        if auth.external_id:
            args["ExternalId"] = auth.external_id
        async with source.create_client("sts", region_name=region) as sts:
            answer = await sts.assume_role(**args)
        creds = answer["Credentials"]
        expiry = creds["Expiration"]
        if isinstance(expiry, datetime):
            expiry = expiry.astimezone(UTC).isoformat()
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": expiry,
        }

    class _AssumeRole(CredentialProvider):  # type: ignore[misc]
        METHOD = "podscaler-assume-role"
        CANONICAL_NAME = "podscaler-assume-role"

        async def load(self) -> Any:
            return AioDeferredRefreshableCredentials(refresh_using=refresh, method=self.METHOD)

    resolver = session.get_component("credential_provider")
    resolver.insert_before("env", _AssumeRole())


async def resolve_credentials(auth: AWSAuth, region: str) -> Any:
    """botocore credentials for *auth* (refreshable ones refresh themselves): the static keys,
    the operator's identity from the standard chain, or a role assumed with it. ``None`` when
    the chain finds nothing."""
    from aiobotocore.session import AioSession
    from botocore.credentials import Credentials

    if auth.kind is AWSCredentialKind.STATIC:
        secret = auth.secret_access_key.get_secret_value() if auth.secret_access_key else ""
        token = auth.session_token.get_secret_value() if auth.session_token else None
        return Credentials(auth.access_key_id, secret, token)
    session = AioSession()
    if auth.kind is AWSCredentialKind.ASSUME_ROLE:
        install_assume_role(session, region, auth)
    return await session.get_credentials()
