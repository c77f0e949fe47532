"""podscaler's Grafana dashboards, declared in Python (:mod:`.model`) and rendered to
``grafana/*.json`` by ``python -m podscaler.observability.dashboards``; a test checks the
committed files equal a fresh rendering."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

from podscaler.observability.dashboards.keda import KEDA
from podscaler.observability.dashboards.model import Board, render
from podscaler.observability.dashboards.nodes import NODES
from podscaler.observability.dashboards.overview import OVERVIEW
from podscaler.observability.dashboards.predictive import PREDICTIVE
from podscaler.observability.dashboards.proportional import PROPORTIONAL
from podscaler.observability.dashboards.scaledobjects import SCALED_OBJECTS

__all__ = ["BOARDS", "rendered_files", "write"]

#: File name under ``grafana/`` -> dashboard.
BOARDS: Final[dict[str, Board]] = {
    "podscaler.json": SCALED_OBJECTS,
    "keda-compatible.json": KEDA,
    "overview.json": OVERVIEW,
    "nodes.json": NODES,
    "proportional.json": PROPORTIONAL,
    "predictive.json": PREDICTIVE,
}


def rendered_files() -> dict[str, str]:
    """File name -> the file's text, as committed (two-space JSON, one trailing newline)."""
    return {name: json.dumps(render(board), indent=2) + "\n" for name, board in BOARDS.items()}


def write(directory: Path) -> list[Path]:
    """Write every dashboard into *directory*; the paths that changed."""
    changed = []
    for name, text in rendered_files().items():
        path = directory / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed.append(path)
    return changed
