"""Reading kube-apiserver's authentication ConfigMap and recognising certificates (no server).

Certificates come from trustme CAs; the bearer-token path needs a TokenReview server and lives
in the integration tests.
"""

from __future__ import annotations

import json

import pytest
import trustme
from multidict import CIMultiDict, CIMultiDictProxy

from podscaler.serving.authentication import (
    AuthenticationConfig,
    Authenticator,
    Unauthenticated,
    UserInfo,
)


def _headers(*pairs: tuple[str, str]) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict(pairs))


def _der(ca: trustme.CA, common_name: str, organization: str | None = None) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    leaf = ca.issue_cert("x.example", common_name=common_name, organization_name=organization)
    pem = leaf.cert_chain_pems[0].bytes()
    return x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)


@pytest.fixture(scope="module")
def cas() -> tuple[trustme.CA, trustme.CA, trustme.CA]:
    return trustme.CA(), trustme.CA(), trustme.CA()


def _config(front: trustme.CA, client: trustme.CA, allowed: list[str]) -> AuthenticationConfig:
    return AuthenticationConfig.from_configmap_data(
        {
            "client-ca-file": client.cert_pem.bytes().decode(),
            "requestheader-client-ca-file": front.cert_pem.bytes().decode(),
            "requestheader-allowed-names": json.dumps(allowed),
            "requestheader-username-headers": json.dumps(["X-Remote-User", "X-Other-User"]),
            "requestheader-group-headers": json.dumps(["X-Remote-Group"]),
            "requestheader-extra-headers-prefix": json.dumps(["X-Remote-Extra-"]),
        }
    )


def test_configmap_parsing(cas: tuple[trustme.CA, trustme.CA, trustme.CA]) -> None:
    front, client, _ = cas
    config = _config(front, client, ["front-proxy-client"])
    assert config.requestheader is not None
    assert config.requestheader.allowed_names == {"front-proxy-client"}
    assert config.requestheader.username_headers == ("X-Remote-User", "X-Other-User")
    assert config.trusted_pem.count(b"BEGIN CERTIFICATE") == 2
    assert AuthenticationConfig.from_configmap_data({}).trusted_pem == b""
    # Empty allowed names: any name the requestheader CA signed is accepted.
    assert _config(front, client, []).requestheader.allowed_names == frozenset()  # type: ignore[union-attr]


async def test_front_proxy_user_groups_and_extra(
    cas: tuple[trustme.CA, trustme.CA, trustme.CA],
) -> None:
    front, client, _ = cas
    auth = Authenticator(_config(front, client, ["front-proxy-client"]))
    user = await auth.authenticate(
        _der(front, "front-proxy-client"),
        _headers(
            ("X-Other-User", "bob"),
            ("X-Remote-Group", "a"),
            ("X-Remote-Group", "b"),
            ("X-Remote-Extra-Reason%2Fwhy", "because"),
            ("x-remote-extra-scopes", "s1"),
            ("x-remote-extra-scopes", "s2"),
        ),
    )
    assert user == UserInfo(
        name="bob",
        groups=("a", "b"),
        extra={"reason/why": ("because",), "scopes": ("s1", "s2")},
    )


async def test_empty_allowed_names_accept_any_front_proxy_name(
    cas: tuple[trustme.CA, trustme.CA, trustme.CA],
) -> None:
    front, client, _ = cas
    auth = Authenticator(_config(front, client, []))
    user = await auth.authenticate(_der(front, "anything"), _headers(("X-Remote-User", "u")))
    assert user.name == "u"


@pytest.mark.parametrize(
    ("which", "common_name", "headers", "message"),
    [
        (0, "intruder", [("X-Remote-User", "admin")], "name is not allowed"),
        (0, "front-proxy-client", [], "names no user"),
        (2, "front-proxy-client", [("X-Remote-User", "admin")], "not signed by a trusted"),
    ],
)
async def test_certificates_that_do_not_authenticate(
    cas: tuple[trustme.CA, trustme.CA, trustme.CA],
    which: int,
    common_name: str,
    headers: list[tuple[str, str]],
    message: str,
) -> None:
    front, client, _ = cas
    auth = Authenticator(_config(front, client, ["front-proxy-client"]))
    with pytest.raises(Unauthenticated, match=message):
        await auth.authenticate(_der(cas[which], common_name), _headers(*headers))


async def test_client_certificate_user_is_cn_and_groups_are_o(
    cas: tuple[trustme.CA, trustme.CA, trustme.CA],
) -> None:
    front, client, _ = cas
    auth = Authenticator(_config(front, client, ["front-proxy-client"]))
    user = await auth.authenticate(
        _der(client, "jane", "devs"), _headers(("X-Remote-User", "admin"))
    )
    assert user == UserInfo(name="jane", groups=("devs",))


async def test_token_without_reviewer_and_nothing_at_all() -> None:
    auth = Authenticator(AuthenticationConfig())
    with pytest.raises(Unauthenticated, match="bearer tokens are not accepted"):
        await auth.authenticate(None, _headers(("Authorization", "Bearer s3cret")))
    with pytest.raises(Unauthenticated, match="no credentials"):
        await auth.authenticate(None, _headers())
