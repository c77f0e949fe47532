"""Why a kafka client could not bootstrap, in words a trigger error can carry.

aiokafka's bootstrap logs each server's failure and then raises only "Unable to bootstrap";
its SCRAM client raises a bare ``KeyError`` when the broker ends the exchange with an error.
:func:`first_failure` opens one plain connection per bootstrap server with the client's own
settings and names what went wrong (a refused SASL login, a TLS handshake failure), never a
secret: exception texts are shown only after the SASL password is replaced.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

from scalers.contract import ScalerError

__all__ = ["first_failure"]


async def first_failure(kwargs: Mapping[str, Any]) -> str | None:
    """Why a connection with *kwargs* to the bootstrap servers fails, from one direct attempt
    per server (``None`` when one succeeds: the failure was elsewhere)."""
    from aiokafka.conn import create_conn
    from aiokafka.errors import KafkaError

    settings = {
        k: v for k, v in kwargs.items() if k not in ("bootstrap_servers", "retry_backoff_ms")
    }
    reasons: list[str] = []
    for server in kwargs["bootstrap_servers"]:
        host, _, port = server.rpartition(":")
        try:
            conn = await create_conn(host.strip("[]"), int(port), **settings)
        except ScalerError:
            raise
        except KeyError:
            return (
                f"SASL authentication failed (sasl {settings.get('sasl_mechanism')}) at {server}: "
                "the broker ended the SCRAM exchange without a server signature "
                "(a wrong username or password?)"
            )
        except ssl.SSLError as exc:
            reasons.append(
                f"TLS handshake with {server} failed: {exc.reason or type(exc).__name__}"
            )
        except (KafkaError, OSError, TimeoutError, ValueError) as exc:
            name = type(exc).__name__
            mechanism = settings.get("sasl_mechanism")
            text = str(exc)
            secret = settings.get("sasl_plain_password")
            if secret:
                text = text.replace(secret, "***")
            if "Sasl" in name or "Authentication" in name:
                reasons.append(f"SASL authentication failed (sasl {mechanism}) at {server}: {name}")
            elif mechanism:
                reasons.append(f"SASL {mechanism} connection to {server} failed: {name}: {text}")
            else:
                reasons.append(f"connection to {server} failed: {name}: {text}")
        else:
            conn.close()
            return None
    return "; ".join(reasons) or None
