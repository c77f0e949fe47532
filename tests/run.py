#!/usr/bin/env python3
"""Set up everything the test suite needs, then run every tier: the README's second command.

It installs podscaler with its ``test`` and ``ml`` extras, installs the servers the integration
tests talk to where the machine can (Debian packages when running as root), and runs pytest over
``tests/``. Extra arguments go to pytest (``python3 tests/run.py -k informer -x``). In CI
(``CI=true``) a server that could not be installed makes its tests fail, never skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Debian packages whose binaries the integration tests start, by the binary they provide.
DEBIAN_PACKAGES = {"prometheus": "prometheus", "promtool": "prometheus"}


def _run(*argv: str) -> None:
    print("+", " ".join(argv), flush=True)
    subprocess.run(argv, check=True, cwd=ROOT)


def install_python_packages() -> None:
    _run(
        sys.executable,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--progress-bar=off",
        "-e",
        # ml: the predictive trigger's tests and its scenario need scikit-learn.
        ".[test,ml]",
    )


def install_servers() -> None:
    missing = sorted({pkg for binary, pkg in DEBIAN_PACKAGES.items() if not shutil.which(binary)})
    if not missing:
        return
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        print(
            f"note: cannot install {', '.join(missing)} here (needs Debian and root);"
            " tests that need them skip outside CI and fail in CI",
            flush=True,
        )
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print("+ apt-get install", *missing, flush=True)
    subprocess.run([apt, "update", "-qq"], check=True, env=env)
    subprocess.run(
        [apt, "install", "-y", "-qq", "--no-install-recommends", *missing], check=True, env=env
    )


def main() -> int:
    started = time.monotonic()
    install_python_packages()
    install_servers()
    print(f"setup took {time.monotonic() - started:.0f} s", flush=True)
    # pytest's own progress (a line per test file, with the share done), and the slowest tests
    # at the end so a slow tier shows itself.
    argv = [sys.executable, "-m", "pytest", "tests", "--durations=15", *sys.argv[1:]]
    print("+", " ".join(argv), flush=True)
    code = subprocess.run(argv, cwd=ROOT).returncode
    print(f"tests/run.py finished in {time.monotonic() - started:.0f} s (exit {code})", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
