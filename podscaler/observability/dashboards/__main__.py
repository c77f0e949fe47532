"""``python -m podscaler.observability.dashboards [ROOT]``: write the dashboards under the
repository root (default: this checkout's) and print the files that changed."""

from __future__ import annotations

import sys
from pathlib import Path

from podscaler.observability.dashboards import write

if __name__ == "__main__":
    default = Path(__file__).resolve().parents[3]
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    for path in write(target):
        print(path)
