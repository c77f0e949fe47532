"""Shared pytest configuration: fixture plugins and the CI rule that missing servers fail."""

from __future__ import annotations

import os

pytest_plugins = ["tests.fixtures.apiserver"]

#: In CI a missing server or tool is a failure, never a skip (TESTING.md).
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
