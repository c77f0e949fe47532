"""Run every upstream conformance vector as one test case (vectors/README.md: the contract).

Vectors come from every ``*.json`` in ``$PODSCALER_VECTORS_DIR`` (default: the public vectors
the repository carries, ``tests/conformance/vectors``, a copy of the shared set with its README).
Each is dispatched to the adapter registered for its file and kind. Vectors in ``more/*.json``
beside them (rows of the same upstream tables that the shared set does not carry, transcribed
here, same schema) run too, through the adapters of the file with the same stem.
A vector without an adapter fails, unless ``unsupported.toml`` names its kind or id:
``[unsupported]`` entries are upstream internals with no counterpart in this design, and
``[pending]`` entries are kinds whose feature belongs to an issue not yet built (they say which).
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.conformance import registry

HERE = Path(__file__).parent


def _vectors_dir() -> Path:
    configured = os.environ.get("PODSCALER_VECTORS_DIR")
    return Path(configured) if configured else (HERE / "vectors")


def _load_adapters() -> None:
    for module in pkgutil.iter_modules([str(HERE)]):
        if module.name.startswith("adapt_"):
            importlib.import_module(f"tests.conformance.{module.name}")


def _skips() -> dict[str, dict[str, str]]:
    with (HERE / "unsupported.toml").open("rb") as fh:
        data = tomllib.load(fh)
    return {section: dict(data.get(section, {})) for section in ("unsupported", "pending")}


def _collect() -> list[Any]:
    directory = _vectors_dir()
    files = sorted(directory.glob("*.json"))
    if not files:
        # A missing vectors directory must fail loudly, never pass as "no cases".
        return [pytest.param(None, None, id="no-vectors-found")]
    params = []
    for path in [*files, *sorted((directory / "more").glob("*.json"))]:
        data = json.loads(path.read_text())
        label = path.stem if path.parent == directory else f"{path.parent.name}/{path.stem}"
        for vector in data["vectors"]:
            params.append(pytest.param(path.stem, vector, id=f"{label}:{vector['id']}"))
    return params


_load_adapters()
SKIPS = _skips()


@pytest.mark.parametrize(("file", "vector"), _collect())
def test_vector(file: str | None, vector: dict[str, Any] | None) -> None:
    assert file is not None, f"no vectors in {_vectors_dir()}"
    assert vector is not None
    kind = registry.kind_of(vector)
    fn = registry.ADAPTERS.get((file, kind))
    if fn is None:
        for section in ("unsupported", "pending"):
            for key in (vector["id"], f"{file}:{kind}"):
                if key in SKIPS[section]:
                    pytest.skip(f"{section}: {SKIPS[section][key]}")
        pytest.fail(f"no adapter for {file}:{kind} and no entry in unsupported.toml")
    fn(vector)
