"""e2e: ordinary mistakes with the ``podscaler`` command get one line saying what is wrong and
what to do, and an exit status (1: the environment, 2: the command line) — never a traceback.

Each case runs the real CLI as a subprocess (``python -m podscaler``), against the embedded API
server, a real operator process or nothing at all, the way a person meets the mistake. A
command that knows its mistake before working says so at once: a report path that cannot be
written fails before a simulated day is spent.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from aiohttp import web

from podscaler.kube.clients import Kube
from podscaler.sim.apiserver.server import ApiServer
from tests.e2e.conftest import OperatorProcess
from tests.integration.controllers.objects import (
    create_deployment,
    create_so,
    deployment,
    scaled_object,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Done:
    code: int
    stdout: str
    stderr: str

    def one_line(self) -> str:
        """The single line the user reads; fails when there is more (or a traceback)."""
        assert "Traceback" not in self.stderr, self.stderr
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, self.stderr
        return lines[0]

    def usage_error(self) -> str:
        """Click's usage error: its ``Error:`` line (after the usage and the --help hint)."""
        assert self.code == 2, self
        assert "Traceback" not in self.stderr, self.stderr
        errors = [line for line in self.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1, self.stderr
        return errors[0]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A HOME without ~/.kube/config."""
    path = tmp_path / "home"
    path.mkdir()
    return path


async def podscaler(*args: str, home: Path, seconds: float = 60, **env: str) -> Done:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST") and not k.startswith("PODSCALER_")
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "podscaler", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=str(home),
        env={**clean, "PYTHONPATH": str(ROOT), "HOME": str(home), "COLUMNS": "120", **env},
    )  # fmt: skip
    try:
        async with asyncio.timeout(seconds):
            stdout, stderr = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return Done(int(process.returncode or 0), stdout.decode(), stderr.decode())


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def listening() -> Iterator[int]:
    """A port some other program holds."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


@pytest.fixture
async def not_an_operator() -> AsyncIterator[str]:
    """A web server that answers 200 with HTML everywhere (some other service's port)."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<html>hello</html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()


# --------------------------------------------------------------------------- explain, status


async def test_explain_without_any_kubeconfig(home: Path) -> None:
    done = await podscaler("explain", "shop/web", home=home)
    assert done.code == 1
    line = done.one_line()
    assert "no kubeconfig" in line
    assert str(home / ".kube" / "config") in line
    assert "--kubeconfig" in line


async def test_explain_with_a_kubeconfig_that_does_not_exist(home: Path) -> None:
    done = await podscaler("explain", "--kubeconfig", str(home / "nope"), "web", home=home)
    assert done.code == 2
    assert f"--kubeconfig {home / 'nope'} does not exist" in done.one_line()


async def test_explain_with_KUBECONFIG_naming_a_missing_file(home: Path) -> None:
    done = await podscaler("explain", "web", home=home, KUBECONFIG=str(home / "gone"))
    assert done.code == 1
    assert f"$KUBECONFIG names {home / 'gone'}, which does not exist" in done.one_line()


@pytest.fixture
def without_context(kubeconfig: Path) -> Path:
    """The embedded server's kubeconfig with its current-context taken out."""
    config = yaml.safe_load(kubeconfig.read_text())
    del config["current-context"]
    kubeconfig.write_text(yaml.safe_dump(config))
    return kubeconfig


async def test_explain_with_a_kubeconfig_without_current_context(
    without_context: Path, home: Path
) -> None:
    kubeconfig = without_context
    done = await podscaler("explain", "--kubeconfig", str(kubeconfig), "web", home=home)
    assert done.code == 1
    line = done.one_line()
    assert "has no current context" in line
    assert "--context NAME" in line
    # ... and the hint works.
    done = await podscaler(
        "explain", "--kubeconfig", str(kubeconfig), "--context", "elsewhere", "web", home=home
    )
    assert done.code == 1
    assert "has no context named 'elsewhere'" in done.one_line()


async def test_explain_of_an_object_that_does_not_exist(kubeconfig: Path, home: Path) -> None:
    done = await podscaler("explain", "--kubeconfig", str(kubeconfig), "shop/nope", home=home)
    assert done.code == 1
    line = done.one_line()
    assert "ScaledObject shop/nope not found" in line
    assert "kubectl get scaledobjects -n shop" in line


async def test_explain_against_a_cluster_without_podscalers_crds(home: Path) -> None:
    async with ApiServer(install_crds=False) as server:
        done = await podscaler("explain", "--server", server.url, "web", home=home)
    assert done.code == 1
    line = done.one_line()
    assert "does not serve scaledobjects" in line
    assert "manifests/crds" in line


async def test_explain_when_the_api_server_is_down(home: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    done = await podscaler("explain", "--server", url, "web", home=home)
    assert done.code == 1
    assert f"cannot reach the API server at {url}: connection refused" in done.one_line()


async def test_explain_from_status_works(
    kube: Kube, kubeconfig: Path, home: Path, operator: Callable[..., Awaitable[OperatorProcess]]
) -> None:
    """The happy path beside the mistakes: the same command with a real object."""
    await operator()
    await create_deployment(kube, deployment("web", 1))
    # Valid for the CRD's schema (the API server refuses what is not), not for the operator:
    # no scaler has this type, so the object is Ready=False with a reason to explain.
    unknown = {"type": "no-such-scaler", "metadata": {}}
    await create_so(kube, scaled_object("web", "web", [unknown], minReplicaCount=1))

    async def explained() -> bool:
        done = await podscaler("explain", "--kubeconfig", str(kubeconfig), "web", home=home)
        return done.code == 0 and "Ready=False" in done.stdout

    await wait_for(explained, 30, every=0.5)


# --------------------------------------------------------------------------- explain, endpoint


async def test_explain_when_the_operator_is_not_running(home: Path) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    done = await podscaler("explain", "--endpoint", endpoint, "web", home=home)
    assert done.code == 1
    line = done.one_line()
    assert f"cannot reach the operator at {endpoint}: connection refused" in line
    assert "--metrics-port" in line


async def test_explain_with_an_endpoint_that_is_the_api_server(
    apiserver: ApiServer, home: Path
) -> None:
    done = await podscaler("explain", "--endpoint", apiserver.url, "web", home=home)
    assert done.code == 1
    line = done.one_line()
    assert "answered 404" in line
    assert "not the operator's metrics port" in line


async def test_explain_with_an_endpoint_that_serves_something_else(
    not_an_operator: str, home: Path
) -> None:
    done = await podscaler("explain", "--endpoint", not_an_operator, "web", home=home)
    assert done.code == 1
    assert "not the operator's metrics port" in done.one_line()


async def test_explain_of_an_object_the_operator_does_not_know(
    home: Path, operator: Callable[..., Awaitable[OperatorProcess]]
) -> None:
    process = await operator()
    # host:port without a scheme is accepted as http://host:port.
    endpoint = process.endpoint.removeprefix("http://")
    done = await podscaler("explain", "--endpoint", endpoint, "shop/nope", home=home)
    assert done.code == 1
    line = done.one_line()
    assert "has no decisions for ScaledObject shop/nope" in line
    assert "kubectl get scaledobjects -n shop" in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--endpoint", "ftp://example", "web"), "is not an http(s) address"),
        (("--endpoint", "http://127.0.0.1:99999", "web"), "--endpoint"),
        (("a/b/c",), "'b/c' is not a valid name"),
        (("/web",), "has an empty namespace"),
        (("Shop/web",), "'Shop' is not a valid namespace"),
        (("--output", "yaml", "web"), "'yaml' is not one of"),
    ],
)
async def test_explain_with_a_bad_argument(
    args: tuple[str, ...], expected: str, home: Path
) -> None:
    done = await podscaler("explain", *args, home=home)
    assert expected in done.usage_error()


# --------------------------------------------------------------------------- other commands


async def test_run_without_any_kubeconfig(home: Path) -> None:
    done = await podscaler("run", home=home)
    assert done.code == 1
    assert "no kubeconfig" in done.one_line()


async def test_run_on_a_port_in_use(kubeconfig: Path, home: Path, listening: int) -> None:
    args = ("--kubeconfig", str(kubeconfig), "--bind-address", "127.0.0.1")
    done = await podscaler(
        "run", *args, "--metrics-port", str(listening), "--health-port", "0", home=home
    )
    assert done.code == 1
    line = done.one_line()
    assert f"cannot listen on 127.0.0.1:{listening}: the port is in use" in line
    assert "--metrics-port" in line
    done = await podscaler(
        "run", *args, "--metrics-port", "0", "--health-port", str(listening), home=home
    )
    assert done.code == 1
    assert "--health-port" in done.one_line()


async def test_cluster_serve_on_a_port_in_use(home: Path, listening: int) -> None:
    done = await podscaler("cluster", "serve", "--port", str(listening), home=home)
    assert done.code == 1
    line = done.one_line()  # no half-started server's "Unclosed client session" either
    assert f"cannot listen on 127.0.0.1:{listening}" in line
    assert "--port" in line


async def test_cluster_serve_with_a_kubeconfig_that_cannot_be_written(home: Path) -> None:
    (home / "file").write_text("")
    target = home / "file" / "kubeconfig"
    done = await podscaler(
        "cluster", "serve", "--port", "0", "--kubeconfig", str(target), home=home
    )
    assert done.code == 2
    assert f"{home / 'file'} is not a directory" in done.one_line()


@pytest.mark.parametrize("command", ["demo", "simulate"])
async def test_a_report_that_cannot_be_written_fails_before_the_run(
    command: str, home: Path
) -> None:
    (home / "file").write_text("")
    args = ["--report", str(home / "file" / "report.html")]
    if command == "simulate":
        args.insert(0, "web-diurnal")
    done = await podscaler(command, *args, home=home, seconds=20)
    assert done.code == 2
    assert f"--report {home / 'file' / 'report.html'}" in done.one_line()
    assert "Simulating" not in done.stdout
    assert "[" not in done.stdout


async def test_a_report_that_is_a_directory(home: Path) -> None:
    done = await podscaler("demo", "--report", str(home), home=home, seconds=20)
    assert done.code == 2
    assert f"--report {home} is a directory" in done.one_line()


async def test_an_unknown_scenario(home: Path) -> None:
    done = await podscaler("simulate", "no-such-scenario", home=home)
    assert done.code == 2
    assert "no-such-scenario" in done.one_line()
