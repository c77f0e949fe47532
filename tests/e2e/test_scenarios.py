"""Every built-in scenario, run the way a user runs it (``podscaler simulate`` in a subprocess),
must pass its own assertions; and kubectl sees the pods, nodes and events the world creates
(``podscaler cluster serve --world``).

A scenario needing a feature this build lacks (``simulate`` exits 3 and names it) is skipped
with that reason — except in CI, where the features the built-ins need are expected to exist.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from podscaler.sim.scenarios.scenario import builtin_scenarios
from tests.conftest import IN_CI
from tests.unit.sim.report_checks import assert_report_answers_why, expected_targets, read_report

ROOT = Path(__file__).resolve().parents[2]


def _simulate(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "podscaler", "simulate", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.mark.timeout(600)
@pytest.mark.parametrize("path", builtin_scenarios(), ids=lambda p: p.stem)
def test_builtin_scenario_passes_its_assertions(path: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    done = _simulate(str(path), "--report", str(report))
    if done.returncode == 3:
        message = done.stdout.strip()
        if IN_CI:
            pytest.fail(f"a built-in scenario cannot run in CI: {message}")
        pytest.skip(message)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert "assertions:" in done.stdout
    page = report.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>")
    if not expected_targets(path):
        # Only nodes are autoscaled (the nodes-* scenarios): the cluster panel shows them,
        # and the node autoscaler's Events are listed. Only pods are right-sized (vpa-*): the
        # recommender's Events are listed.
        shape = read_report(page)
        assert "cluster" in shape.panels
        vertical = path.stem.startswith("vpa-")
        assert ("VerticalRecommendationChanged" if vertical else "TriggeredScaleUp") in page
        return
    # The report answers why: panels per scaled workload, targets as the ScaledObject says,
    # each change once with the operator's decision, scale-downs counted.
    shape = assert_report_answers_why(page, path)
    assert f"{shape.cards['scale-ups']} scale-ups" in done.stdout
    features = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("features") or []
    if "predictive-trigger" in features:
        # The operator's forecast, read from its /metrics during the run, beside the demand.
        assert "forecast: the most demand the predictive trigger expects" in page
        assert "<h3>Zoomed: " in page


def test_a_failing_assertion_fails_the_command(tmp_path: Path) -> None:
    scenario = tmp_path / "fails.yaml"
    scenario.write_text(
        "duration: 2m\n"
        "nodeGroups: [{name: g, initial: 1}]\n"
        "workloads: [{name: web, replicas: 2}]\n"
        "assertions: ['ready(web) == 2', 'nodes() >= 5']\n",
        encoding="utf-8",
    )
    done = _simulate(str(scenario), timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED nodes() >= 5" in done.stdout


def test_the_same_seed_replays_the_same_run(tmp_path: Path) -> None:
    scenario = tmp_path / "replay.yaml"
    scenario.write_text(
        "duration: 10m\n"
        "nodeGroups: [{name: g, initial: 2}]\n"
        "workloads: [{name: web, replicas: 3, demand: {type: steps, steps: [{at: 2m, value: 50}]},"
        " usage: {cpuPerUnit: 5m, cpuNoise: 0.2}}]\n",
        encoding="utf-8",
    )
    first = _simulate(str(scenario), "--seed", "5", "--report", str(tmp_path / "a.html"))
    second = _simulate(str(scenario), "--seed", "5", "--report", str(tmp_path / "b.html"))
    assert first.returncode == second.returncode == 0
    assert (tmp_path / "a.html").read_bytes() == (tmp_path / "b.html").read_bytes()


@contextlib.contextmanager
def _cpu_burners() -> Iterator[None]:
    """A spinning process per core, as on a shared CI machine."""
    burners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(os.cpu_count() or 2)
    ]
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


@pytest.mark.timeout(900)
def test_a_run_is_the_same_on_an_idle_and_on_a_loaded_machine(tmp_path: Path) -> None:
    """The demo's scenario (operator, API server and world in one process; its morning, so the
    test stays short), same seed, twice: alone, and beside a CPU burner per core. The reports
    are identical byte for byte — the machine's load (how late the kernel delivers a localhost
    packet, how long a thread waits for a core) never reaches the simulated clock."""
    demo = next(p for p in builtin_scenarios() if p.stem == "web-diurnal")
    scenario = yaml.safe_load(demo.read_text(encoding="utf-8"))
    scenario["duration"] = "5h"
    scenario["workloads"][0]["demand"]["peakHour"] = 4
    scenario.pop("assertions", None)
    path = tmp_path / "morning.yaml"
    path.write_text(yaml.safe_dump(scenario), encoding="utf-8")
    alone = _simulate(str(path), "--seed", "3", "--report", str(tmp_path / "alone.html"))
    with _cpu_burners():
        loaded = _simulate(str(path), "--seed", "3", "--report", str(tmp_path / "busy.html"))
    assert alone.returncode == 0, alone.stdout + alone.stderr
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert "peak 10 replicas" in alone.stdout
    assert (tmp_path / "alone.html").read_bytes() == (tmp_path / "busy.html").read_bytes()


# --------------------------------------------------------------------------- kubectl


@pytest.fixture
def kubectl_bin() -> str:
    found = shutil.which("kubectl")
    if found is None:
        if IN_CI:
            pytest.fail("kubectl is required in CI but was not found on PATH")
        pytest.skip("kubectl not installed")
    return found


@pytest.fixture
def served_world(tmp_path: Path) -> Iterator[Path]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kubeconfig = tmp_path / "kubeconfig"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "podscaler",
            "cluster",
            "serve",
            "--port",
            str(port),
            "--kubeconfig",
            str(kubeconfig),
            "--world",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not kubeconfig.exists():
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "cluster serve --world did not start"
            time.sleep(0.1)
        yield kubeconfig
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _kubectl(binary: str, kubeconfig: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [binary, "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=30,
        input=stdin,
    )
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done.stdout


@pytest.mark.kubectl
@pytest.mark.timeout(120)
def test_kubectl_sees_what_the_world_creates(kubectl_bin: str, served_world: Path) -> None:
    nodes = json.loads(_kubectl(kubectl_bin, served_world, "get", "nodes", "-o", "json"))
    assert len(nodes["items"]) == 3
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]},
            },
        },
    }
    _kubectl(kubectl_bin, served_world, "apply", "-f", "-", stdin=json.dumps(manifest))
    deadline = time.monotonic() + 60
    while True:
        pods = json.loads(_kubectl(kubectl_bin, served_world, "get", "pods", "-o", "json"))
        ready = [
            p
            for p in pods["items"]
            if any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in p["status"].get("conditions", [])
            )
        ]
        if len(ready) == 2:
            break
        assert time.monotonic() < deadline, json.dumps(pods, indent=1)[:2000]
        time.sleep(0.5)
    assert all(p["spec"]["nodeName"] for p in ready)
    events = _kubectl(kubectl_bin, served_world, "get", "events")
    assert "Scheduled" in events
    assert "ScalingReplicaSet" in events
    described = _kubectl(kubectl_bin, served_world, "describe", "pod", ready[0]["metadata"]["name"])
    assert "Successfully assigned" in described
