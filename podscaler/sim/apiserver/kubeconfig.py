"""kubeconfig documents for the embedded API server (cluster, user and context ``podscaler``).

Over HTTPS the user entry carries the administrator's bearer token the server minted at start
(it refuses requests without a credential, see ``authentication.py``), so kubectl and the
operator work unchanged; the file is written readable by its owner only. Over plain HTTP the
user entry is empty: that server authenticates nobody, and no client ever sends a token in the
clear.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import yaml

NAME = "podscaler"


def build(
    server_url: str,
    ca_pem: bytes | None = None,
    namespace: str = "default",
    *,
    token: str | None = None,
) -> dict[str, Any]:
    cluster: dict[str, Any] = {"server": server_url}
    user: dict[str, Any] = {}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    if token is not None and server_url.startswith("https://"):
        user["token"] = token
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": NAME, "cluster": cluster}],
        "users": [{"name": NAME, "user": user}],
        "contexts": [
            {"name": NAME, "context": {"cluster": NAME, "user": NAME, "namespace": namespace}}
        ],
        "current-context": NAME,
    }


def write(config: dict[str, Any], path: Path) -> Path:
    """Write ``config`` as YAML, readable by its owner only (it may hold a CA and token)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:
        yaml.safe_dump(config, fh, sort_keys=False)
    tmp.replace(path)
    return path
