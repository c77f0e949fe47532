"""e2e: ``podscaler demo --serve`` as a newcomer runs it — the summary, then every address it
serves, each of which works when used as printed.

The demo runs a short version of its built-in day (the same scenario, 20 minutes long) from a
working directory of its own, with relative paths: the kubeconfig and report it prints must be
absolute. The operator endpoint it prints must answer ``podscaler explain --endpoint``, the
metrics URLs must answer, the kubeconfig must reach the API server.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import yaml

from podscaler.sim.scenarios.scenario import builtin_scenarios

ROOT = Path(__file__).resolve().parents[2]


def _short_scenario(directory: Path) -> Path:
    (source,) = [p for p in builtin_scenarios() if p.stem == "web-diurnal"]
    scenario = yaml.safe_load(source.read_text())
    scenario.update(name="web-short", duration="20m", assertions=[])
    path = directory / "short.yaml"
    path.write_text(yaml.safe_dump(scenario))
    return path


def _field(output: str, label: str) -> str:
    match = re.search(rf"^  {re.escape(label)}:\s+(\S+)", output, re.M)
    assert match, f"no {label!r} line in:\n{output}"
    return match.group(1)


async def _podscaler(*args: str, cwd: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "podscaler", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=str(cwd),
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    async with asyncio.timeout(60):
        out, _ = await process.communicate()
    return int(process.returncode or 0), out.decode()


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def _assert_ages_agree_with_the_wall(api_server: str) -> None:
    """kubectl computes ages against the wall clock: the served cluster's clock is the wall's
    (an object created now is stamped now) and the simulated 20 minutes lie in the last half hour,
    none of it in the future (issue 9: the day used to end at the last midnight)."""
    async with aiohttp.ClientSession(base_url=api_server) as session:
        body = {"metadata": {"name": "now"}, "data": {}}
        async with session.post("/api/v1/namespaces/shop/configmaps", json=body) as response:
            assert response.status == 201, await response.text()
            created = _instant((await response.json())["metadata"]["creationTimestamp"])
        wall = datetime.now(UTC)
        assert abs((created - wall).total_seconds()) < 30, (created, wall)
        async with session.get("/api/v1/namespaces/shop/events") as response:
            events = (await response.json())["items"]
    assert events, "the demo recorded no Events"
    for event in events:
        stamp = event.get("lastTimestamp") or event["metadata"]["creationTimestamp"]
        age = (wall - _instant(stamp)).total_seconds()
        assert -30 < age < 1800, (event["reason"], stamp, wall)


async def test_demo_serve_prints_the_summary_and_where_everything_is(tmp_path: Path) -> None:
    scenario = _short_scenario(tmp_path)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "podscaler", "demo", "--serve", "--scenario", scenario.name,
        "--report", "out/demo.html", "--kubeconfig", "demo.kubeconfig",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=str(tmp_path),
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert process.stdout is not None
    output = ""
    try:
        async with asyncio.timeout(240):
            while "Ctrl-C to stop." not in output:
                line = await process.stdout.readline()
                assert line, f"the demo ended before serving:\n{output}"
                output += line.decode()

        # The summary comes first, with the report already written, at an absolute path.
        assert "podscaler demo — web-short: 20.0 min simulated" in output
        report = Path(_field(output, "report"))
        assert report == tmp_path / "out" / "demo.html"
        assert "web-short" in await asyncio.to_thread(report.read_text)
        assert output.index("report:") < output.index("The cluster stays up")

        kubeconfig = Path(_field(output, "kubeconfig"))
        assert kubeconfig == tmp_path / "demo.kubeconfig"
        config = yaml.safe_load(await asyncio.to_thread(kubeconfig.read_text))
        assert config["clusters"][0]["cluster"]["server"] == _field(output, "API server")
        await _assert_ages_agree_with_the_wall(_field(output, "API server"))

        endpoint = _field(output, "operator")
        assert f"podscaler explain --endpoint {endpoint} shop/web" in output
        async with aiohttp.ClientSession() as session:
            for url in (_field(output, "operator metrics"), _field(output, "app metrics")):
                async with session.get(url) as response:
                    assert response.status == 200, url
                    assert "# TYPE" in await response.text()

        # The commands printed work as printed, from anywhere.
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        code, explained = await _podscaler(
            "explain", "--endpoint", endpoint, "shop/web", cwd=elsewhere
        )
        assert code == 0, explained
        assert explained.startswith("ScaledObject shop/web\n")
        assert "rule=" in explained
        code, explained = await _podscaler(
            "explain", "--kubeconfig", str(kubeconfig), "shop/web", cwd=elsewhere
        )
        assert code == 0, explained
        assert "Ready=True" in explained
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            try:
                async with asyncio.timeout(30):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
