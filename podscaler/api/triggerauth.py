"""TriggerAuthentication and ClusterTriggerAuthentication: where trigger credentials come from.

Both kinds share one spec (as in KEDA); the cluster-scoped one reads its Secrets from the
operator's namespace. Secret *values* never appear in these models, only references to them
(DESIGN.md: secrets never reach logs, Events, status or metrics).
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import ConfigDict, Field

from podscaler.api.conditions import StatusCondition
from podscaler.api.meta import GROUP_VERSION, ApiModel, ObjectMeta, SpecModel

__all__ = [
    "UNSUPPORTED_AUTH_SOURCES",
    "AuthPodIdentity",
    "ClusterTriggerAuthentication",
    "TriggerAuthentication",
    "TriggerAuthenticationSpec",
    "TriggerAuthenticationStatus",
]


class AuthPodIdentity(SpecModel):
    """Workload identity of the operator used instead of static credentials."""

    provider: Literal["none", "azure-workload", "gcp", "aws", "aws-eks"] = Field(
        description="Identity provider: none, azure-workload, gcp, aws or aws-eks."
    )
    identity_id: str | None = Field(
        default=None, alias="identityId", description="Azure: client id of the identity."
    )
    identity_tenant_id: str | None = Field(
        default=None, alias="identityTenantId", description="Azure: tenant id of the identity."
    )
    identity_authority_host: str | None = Field(
        default=None, alias="identityAuthorityHost", description="Azure: authority host."
    )
    role_arn: str | None = Field(default=None, description="AWS: role to assume.")
    external_id: str | None = Field(
        default=None, alias="externalID", description="AWS: external id for the role assumption."
    )
    identity_owner: Literal["keda", "workload", "operator"] | None = Field(
        default=None,
        description="AWS: use the operator's identity (keda, operator) or the workload's.",
    )


class SecretTargetRef(SpecModel):
    """A Secret key that becomes an authentication parameter."""

    parameter: str = Field(min_length=1, description="Authentication parameter to set.")
    name: str = Field(min_length=1, description="Name of the Secret.")
    key: str = Field(min_length=1, description="Key in the Secret.")


class ConfigMapTargetRef(SpecModel):
    """A ConfigMap key that becomes an authentication parameter."""

    parameter: str = Field(min_length=1, description="Authentication parameter to set.")
    name: str = Field(min_length=1, description="Name of the ConfigMap.")
    key: str = Field(min_length=1, description="Key in the ConfigMap.")


class AuthEnvironment(SpecModel):
    """An environment variable of the scale target that becomes an authentication parameter."""

    parameter: str = Field(min_length=1, description="Authentication parameter to set.")
    name: str = Field(min_length=1, description="Name of the environment variable.")
    container_name: str | None = Field(
        default=None, description="Container to read it from (default: the first)."
    )


class BoundServiceAccountToken(SpecModel):
    """A freshly requested token of a ServiceAccount as an authentication parameter."""

    parameter: str = Field(min_length=1, description="Authentication parameter to set.")
    service_account_name: str = Field(min_length=1, description="ServiceAccount to request for.")


class VaultCredential(SpecModel):
    """How podscaler logs in to Vault."""

    token: str | None = Field(default=None, description="Vault token (token authentication).")
    service_account: str | None = Field(
        default=None, description="Path of a service account token file (kubernetes auth)."
    )
    service_account_name: str | None = Field(
        default=None, description="ServiceAccount whose token is requested (kubernetes auth)."
    )


class VaultSecret(SpecModel):
    """One Vault secret field that becomes an authentication parameter."""

    parameter: str = Field(min_length=1, description="Authentication parameter to set.")
    path: str = Field(min_length=1, description="Path of the secret in Vault.")
    key: str = Field(min_length=1, description="Key in the secret.")
    type: str | None = Field(default=None, description="Secret engine type, e.g. secretV2, pki.")
    pki_data: dict[str, str] | None = Field(
        default=None, description="PKI engine request parameters (commonName, ttl, …)."
    )


class HashiCorpVault(SpecModel):
    """Authentication parameters read from HashiCorp Vault."""

    address: str = Field(min_length=1, description="Vault address, e.g. https://vault:8200.")
    namespace: str | None = Field(default=None, description="Vault Enterprise namespace.")
    authentication: Literal["token", "kubernetes"] = Field(
        description="How podscaler authenticates to Vault: token or kubernetes."
    )
    role: str | None = Field(default=None, description="Vault role (kubernetes authentication).")
    mount: str | None = Field(default=None, description="Mount path of the auth method.")
    credential: VaultCredential | None = Field(default=None, description="Login credential.")
    secrets: list[VaultSecret] = Field(description="Secrets to read.")


class ProviderSecret(SpecModel):
    """One secret of a cloud secret manager that becomes an authentication parameter."""

    model_config = ConfigDict(extra="allow")

    parameter: str = Field(min_length=1, description="Authentication parameter to set.")
    name: str | None = Field(default=None, description="Name of the secret (Azure, AWS).")
    id: str | None = Field(default=None, description="Id of the secret (GCP).")
    version: str | None = Field(default=None, description="Version of the secret.")


class SecretManager(SpecModel):
    """A cloud secret manager (Azure Key Vault, GCP Secret Manager, AWS Secrets Manager).

    Provider-specific settings (vault URI, region, credentials references) are kept as given.
    """

    model_config = ConfigDict(
        extra="allow", json_schema_extra={"x-kubernetes-preserve-unknown-fields": True}
    )

    secrets: list[ProviderSecret] = Field(description="Secrets to read.")
    pod_identity: AuthPodIdentity | None = Field(
        default=None, description="Identity used to reach the secret manager."
    )


#: TriggerAuthentication sources KEDA reads and podscaler cannot yet (spec field names).
UNSUPPORTED_AUTH_SOURCES: Final = (
    "hashiCorpVault",
    "azureKeyVault",
    "gcpSecretManager",
    "awsSecretManager",
    "boundServiceAccountToken",
    "filePath",
)


class TriggerAuthenticationSpec(SpecModel):
    """Sources of authentication parameters for triggers; each maps to named parameters."""

    pod_identity: AuthPodIdentity | None = Field(
        default=None, description="Use a workload identity instead of static credentials."
    )
    secret_target_ref: list[SecretTargetRef] | None = Field(
        default=None, description="Parameters from Secret keys."
    )
    env: list[AuthEnvironment] | None = Field(
        default=None, description="Parameters from the scale target's environment."
    )
    config_map_target_ref: list[ConfigMapTargetRef] | None = Field(
        default=None, description="Parameters from ConfigMap keys."
    )
    file_path: str | None = Field(
        default=None,
        description="Path of a file on the operator holding the parameters (cluster-scoped only).",
    )
    bound_service_account_token: list[BoundServiceAccountToken] | None = Field(
        default=None, description="Parameters from requested ServiceAccount tokens."
    )
    hashi_corp_vault: HashiCorpVault | None = Field(
        default=None, alias="hashiCorpVault", description="Parameters from HashiCorp Vault."
    )
    azure_key_vault: SecretManager | None = Field(
        default=None, description="Parameters from Azure Key Vault."
    )
    gcp_secret_manager: SecretManager | None = Field(
        default=None, description="Parameters from GCP Secret Manager."
    )
    aws_secret_manager: SecretManager | None = Field(
        default=None, description="Parameters from AWS Secrets Manager."
    )

    def unsupported_sources(self) -> list[str]:
        """The sources set here that podscaler cannot read yet (KEDA can): the operator
        refuses the TriggerAuthentication naming them, and ``podscaler validate`` says so."""
        dumped = self.model_dump(by_alias=True, exclude_none=True)
        return [source for source in UNSUPPORTED_AUTH_SOURCES if dumped.get(source)]

    def parameter_names(self) -> list[str]:
        """Every authentication parameter this spec provides, in declaration order."""
        names: list[str] = []
        for group in (
            self.secret_target_ref,
            self.env,
            self.config_map_target_ref,
            self.bound_service_account_token,
        ):
            names.extend(ref.parameter for ref in group or [])
        if self.hashi_corp_vault is not None:
            names.extend(secret.parameter for secret in self.hashi_corp_vault.secrets)
        for manager in (self.azure_key_vault, self.gcp_secret_manager, self.aws_secret_manager):
            if manager is not None:
                names.extend(secret.parameter for secret in manager.secrets)
        return names


class TriggerAuthenticationStatus(ApiModel):
    """Which objects use this authentication; written only by podscaler."""

    scaled_objects: str | None = Field(
        default=None, alias="scaledobjects", description="Comma-separated ScaledObjects using it."
    )
    scaled_jobs: str | None = Field(
        default=None, alias="scaledjobs", description="Comma-separated ScaledJobs using it."
    )
    conditions: list[StatusCondition] | None = Field(
        default=None, description="Conditions (podscaler addition)."
    )
    observed_generation: int | None = Field(
        default=None, description="metadata.generation this status reflects (podscaler addition)."
    )


class TriggerAuthentication(ApiModel):
    """Credentials for triggers in one namespace (kubectl short name: ta)."""

    api_version: str = Field(default=GROUP_VERSION, description="autoscaling.podscaler.io/v1alpha1")
    kind: Literal["TriggerAuthentication"] = Field(
        default="TriggerAuthentication", description="TriggerAuthentication"
    )
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, description="Standard metadata.")
    spec: TriggerAuthenticationSpec = Field(description="Sources of authentication parameters.")
    status: TriggerAuthenticationStatus | None = Field(default=None, description="Observed state.")


class ClusterTriggerAuthentication(ApiModel):
    """Credentials for triggers in any namespace (cluster-scoped; kubectl short name: cta)."""

    api_version: str = Field(default=GROUP_VERSION, description="autoscaling.podscaler.io/v1alpha1")
    kind: Literal["ClusterTriggerAuthentication"] = Field(
        default="ClusterTriggerAuthentication", description="ClusterTriggerAuthentication"
    )
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, description="Standard metadata.")
    spec: TriggerAuthenticationSpec = Field(description="Sources of authentication parameters.")
    status: TriggerAuthenticationStatus | None = Field(default=None, description="Observed state.")
