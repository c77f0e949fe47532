"""``podscaler validate`` as a CI pipeline uses it: exit codes, messages and JSON output.

The command runs as a real subprocess, the way a pipeline calls it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

INVALID = """\
apiVersion: autoscaling.podscaler.io/v1alpha1
kind: ScaledObject
metadata:
  name: broken
spec:
  scaleTargetRef:
    name: web
  minReplicaCount: 5
  maxReplicaCount: 2
  triggers:
    - type: cpu
      metricType: Utilization
      metadata:
        value: "50"
"""


def _validate(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "podscaler", "validate", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def test_the_shipped_examples_are_valid() -> None:
    result = _validate(str(ROOT / "manifests" / "examples"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 error(s)" in result.stderr


def test_an_invalid_object_fails_with_the_field_path(tmp_path: Path) -> None:
    manifest = tmp_path / "so.yaml"
    manifest.write_text(INVALID)
    result = _validate(str(manifest))
    assert result.returncode == 1
    assert f"{manifest}:8: error: ScaledObject/broken spec.minReplicaCount:" in result.stdout


def test_json_output_is_one_finding_per_line() -> None:
    result = _validate("-o", "json", "-", stdin=INVALID)
    assert result.returncode == 1
    findings = [json.loads(line) for line in result.stdout.splitlines()]
    assert [f["path"] for f in findings] == ["spec.minReplicaCount"]
    assert findings[0]["severity"] == "error"
    assert findings[0]["source"] == "<stdin>"


def test_an_unreadable_file_exits_2(tmp_path: Path) -> None:
    result = _validate(str(tmp_path / "missing.yaml"))
    assert result.returncode == 2
    assert "cannot read" in result.stderr


PORTED = """\
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: ported
spec:
  scaleTargetRef:
    name: worker
  triggers:
    - type: rabbitmq
      metadata:
        queueName: jobs
    - type: aws-sqs-queue
      authenticationRef:
        name: aws
      metadata:
        queueURL: https://sqs.eu-west-1.amazonaws.com/123456789012/jobs
        awsRegion: eu-west-1
        queueLenght: "5"
"""


def test_triggers_are_checked_by_their_parsers() -> None:
    """Issue 18: an unknown type and a misspelled key no longer pass silently."""
    result = _validate("-o", "json", "-", stdin=PORTED)
    assert result.returncode == 1, result.stdout + result.stderr
    findings = {f["path"]: f for f in map(json.loads, result.stdout.splitlines())}
    unknown = findings["spec.triggers[0].type"]
    assert unknown["severity"] == "error"
    assert "unknown trigger type 'rabbitmq'; known types:" in unknown["message"]
    assert unknown["line"] == 9
    assert findings["spec.triggers[1].metadata.queueLenght"]["severity"] == "warning"
    assert "cannot be checked offline" in findings["spec.triggers[1].authenticationRef"]["message"]
