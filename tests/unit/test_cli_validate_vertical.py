"""``podscaler validate`` on vertical manifests, as a user runs it: an upstream VPA is checked and
told how to port; a port with minAllowed above maxAllowed fails with the field's line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

UPSTREAM = """\
apiVersion: autoscaling.k8s.io/v1
kind: VerticalPodAutoscaler
metadata:
  name: hamster-vpa
spec:
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: hamster
  resourcePolicy:
    containerPolicies:
      - containerName: "*"
        minAllowed:
          memory: 600Mi
        maxAllowed:
          memory: 500Mi
"""


def _validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "podscaler", "validate", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def test_an_upstream_vpa_is_checked_and_told_how_to_port(tmp_path: Path) -> None:
    manifest = tmp_path / "vpa.yaml"
    manifest.write_text(UPSTREAM)
    result = _validate(manifest)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(
        line.startswith(f"{manifest}:1: warning: VerticalScaler/hamster-vpa apiVersion:")
        and "kind to VerticalScaler" in line
        for line in lines
    ), result.stdout
    assert any(
        line.startswith(f"{manifest}:16: error: VerticalScaler/hamster-vpa ")
        and "max resource for memory is lower than min" in line
        for line in lines
    ), result.stdout


def test_the_port_is_two_lines(tmp_path: Path) -> None:
    manifest = tmp_path / "vs.yaml"
    ported = UPSTREAM.replace("autoscaling.k8s.io/v1", "autoscaling.podscaler.io/v1alpha1")
    ported = ported.replace("VerticalPodAutoscaler", "VerticalScaler").replace("600Mi", "100Mi")
    manifest.write_text(ported)
    result = _validate(manifest)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning" not in result.stdout
