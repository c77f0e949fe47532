"""One serving CA for every replica, kept in a Secret (issue 17 item 10).

The APIService has one ``caBundle``; with each replica minting its own CA, each replaced the
bundle with its own and the aggregator refused every other replica ("x509: certificate signed
by unknown authority"). So the CA lives in the Secret ``podscaler-metrics-api-ca`` of the
Service's namespace (``ca.crt``, ``ca.key``), and each replica issues its own serving
certificate from it: all of them publish the same bundle.

Minted once: the first replica to find no Secret creates it with a POST; the API server lets
exactly one create succeed (the same arbiter a Lease election uses: a conflicting write fails),
and a replica that loses the race reads the winner's. A Secret that does not hold a usable CA is
an error the operator reports (it is never overwritten: another replica may be serving it).
Rotation goes through the Secret too, in three steps with overlap, by the leader
(:mod:`.carotation`); every replica re-reads the Secret and follows.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
from typing import Final

from podscaler.kube.clients import Kube
from podscaler.kube.errors import AlreadyExists, NotFound
from podscaler.pki import Authority
from podscaler.serving.certificates import DEFAULT_CA_VALIDITY

__all__ = ["SHARED_CA_SECRET", "SharedCaError", "decode_authority", "shared_authority"]

log = logging.getLogger(__name__)

SHARED_CA_SECRET: Final = "podscaler-metrics-api-ca"


class SharedCaError(Exception):
    """The shared CA Secret exists but holds no usable CA."""


def decode_authority(secret: dict[str, object]) -> Authority:
    """The signing CA (``ca.crt``, ``ca.key``) of the Secret; :class:`SharedCaError` if none."""
    data = secret.get("data")
    if not isinstance(data, dict) or "ca.crt" not in data or "ca.key" not in data:
        raise SharedCaError(f"Secret {SHARED_CA_SECRET} lacks ca.crt or ca.key")
    try:
        return Authority.from_pem(
            base64.b64decode(str(data["ca.crt"])), base64.b64decode(str(data["ca.key"]))
        )
    except ValueError as exc:
        raise SharedCaError(f"Secret {SHARED_CA_SECRET} holds no usable CA: {exc}") from exc


async def shared_authority(
    kube: Kube, namespace: str, *, now: dt.datetime, common_name: str
) -> Authority:
    """The replicas' CA: read from the Secret, or minted and stored there by the first
    replica. :class:`SharedCaError` for a Secret that is not a CA; ``KubeError`` when the
    Secret can be neither read nor created (RBAC)."""
    path = f"/api/v1/namespaces/{namespace}/secrets"
    try:
        authority = decode_authority(await kube.request("GET", f"{path}/{SHARED_CA_SECRET}"))
    except NotFound:
        minted = Authority.create(
            f"{common_name}@{int(now.timestamp())}", now=now, validity=DEFAULT_CA_VALIDITY
        )
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {
                "name": SHARED_CA_SECRET,
                "namespace": namespace,
                "labels": {"app.kubernetes.io/managed-by": "podscaler"},
            },
            "data": {
                "ca.crt": base64.b64encode(minted.pem).decode(),
                "ca.key": base64.b64encode(minted.key_pem).decode(),
            },
        }
        try:
            await kube.request("POST", path, body=body)
        except AlreadyExists:  # another replica won the race: use its CA
            return decode_authority(await kube.request("GET", f"{path}/{SHARED_CA_SECRET}"))
        log.info("metrics API: minted the replicas' serving CA into Secret %s", SHARED_CA_SECRET)
        return minted
    return authority
