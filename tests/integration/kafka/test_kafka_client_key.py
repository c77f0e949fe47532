"""kafka ``keyPassword``: an encrypted client key is decrypted and presented in a real TLS
handshake.

The TLS context is the one the kafka trigger hands to aiokafka (built from the parsed trigger
by ``_client_kwargs``); the peer is a TLS server on loopback that requires a client certificate
signed by its CA, so the handshake only completes if the key was decrypted and matches the
certificate. (Not a Kafka broker: the Tansu build in the test tools did not take a certificate
and key together, see the porting report.)
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from scalers.contract import ScalerConfigError, ScaleTrigger
from scalers.kafka import KafkaConfig, _client_kwargs
from scalers.registry import default_registry

PASSWORD = "correct horse battery"


def _encrypted(key_pem: bytes, password: str) -> str:
    key = serialization.load_pem_private_key(key_pem, password=None)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password.encode()),
    ).decode()


def _config(ca: trustme.CA, auth: dict[str, str]) -> KafkaConfig:
    metadata = {"bootstrapServers": "127.0.0.1:9", "consumerGroup": "g", "topic": "t"}
    config = default_registry().check(
        ScaleTrigger(type="kafka", metadata=metadata),
        {},
        {"tls": "enable", "ca": ca.cert_pem.bytes().decode(), **auth},
    )
    assert isinstance(config, KafkaConfig)
    return config


async def _handshake(server_ca: trustme.CA, client_context: ssl.SSLContext) -> str | None:
    """The client certificate's subject as the server saw it, after a mutual TLS handshake."""
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ca.issue_cert("127.0.0.1").configure_cert(server_context)
    server_context.load_verify_locations(cadata=server_ca.cert_pem.bytes().decode())
    server_context.verify_mode = ssl.CERT_REQUIRED
    seen: list[Any] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(writer.get_extra_info("peercert"))
        writer.write(b"ok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_context, server_hostname="127.0.0.1"
        )
        assert await reader.read(2) == b"ok"
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
    subject = dict(item[0] for item in seen[0]["subject"]) if seen and seen[0] else {}
    return subject.get("commonName") or subject.get("organizationalUnitName")


async def test_an_encrypted_client_key_is_presented_with_key_password() -> None:
    ca = trustme.CA()
    client = ca.issue_cert("podscaler-client@example.com", common_name="podscaler-client")
    encrypted = _encrypted(client.private_key_pem.bytes(), PASSWORD)
    assert "ENCRYPTED" in encrypted
    config = _config(
        ca,
        {
            "cert": client.cert_chain_pems[0].bytes().decode(),
            "key": encrypted,
            "keyPassword": PASSWORD,
        },
    )
    kwargs = _client_kwargs(config.identity(), config.auth)
    assert kwargs["security_protocol"] == "SSL"
    assert await _handshake(ca, kwargs["ssl_context"]) == "podscaler-client"


@pytest.mark.parametrize("password", [None, "wrong password"])
def test_a_missing_or_wrong_key_password_is_a_clear_config_error(password: str | None) -> None:
    ca = trustme.CA()
    client = ca.issue_cert("podscaler-client@example.com")
    auth = {
        "cert": client.cert_chain_pems[0].bytes().decode(),
        "key": _encrypted(client.private_key_pem.bytes(), PASSWORD),
    }
    if password is not None:
        auth["keyPassword"] = password
    config = _config(ca, auth)
    with pytest.raises(ScalerConfigError) as caught:
        _client_kwargs(config.identity(), config.auth)
    message = str(caught.value)
    assert "keyPassword" in message
    assert PASSWORD not in message
    assert (password or PASSWORD) not in message
