"""Every option of every command can be set as ``PODSCALER_<COMMAND>_<OPTION>``, and the
command's ``--help`` says so (the README promises both).

The commands are read from the click tree; each ``--help`` is the real CLI's output, run as a
subprocess the way a person reads it. The variable's name is built from the option's long flag
(``--metrics-api-port`` → ``METRICS_API_PORT``), so an option whose parameter is named
differently from its flag (and so reads another variable) fails here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from podscaler.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _commands(
    group: click.Group = main, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += _commands(command, (*path, name))
        else:
            found.append(((*path, name), command))
    return found


def _env_name(path: tuple[str, ...], option: click.Option) -> str:
    flag = max((o for o in option.opts if o.startswith("--")), key=len)
    parts = ("PODSCALER", *path, flag.removeprefix("--"))
    return "_".join(parts).replace("-", "_").upper()


def _podscaler(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PODSCALER_")}
    return subprocess.run(
        [sys.executable, "-m", "podscaler", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**clean, "PYTHONPATH": str(ROOT), "COLUMNS": "120", **env},
        check=False,
    )


COMMANDS = _commands()


def test_the_tree_has_the_commands_the_readme_names() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"run", "demo", "simulate", "explain", "validate", "cluster serve"} <= names


@pytest.mark.parametrize(
    ("path", "command"),
    [pytest.param(path, command, id=" ".join(path)) for path, command in COMMANDS],
)
def test_help_lists_every_options_environment_variable(
    path: tuple[str, ...], command: click.Command
) -> None:
    done = _podscaler(*path, "--help")
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())  # as read: wrapping is not a difference
    for param in command.params:
        if not isinstance(param, click.Option) or not param.expose_value:
            continue
        name = _env_name(path, param)
        assert f"env var: {name}]" in text or f"env var: {name};" in text, (
            f"podscaler {' '.join(path)} --help does not show {name} for {param.opts}:\n"
            + done.stdout
        )


def test_an_environment_variable_sets_its_option() -> None:
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
    done = subprocess.run(
        [sys.executable, "-m", "podscaler", "validate", "-"],
        input=manifest,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PODSCALER_VALIDATE_OUTPUT": "json"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "file(s) checked" not in done.stderr  # the text output's footer: json was chosen


def test_a_renamed_parameter_reads_the_variable_named_after_its_flag(tmp_path: Path) -> None:
    """``demo --report`` (a parameter once called ``report_path``) reads PODSCALER_DEMO_REPORT:
    a directory there fails at once, naming the option."""
    done = _podscaler("demo", PODSCALER_DEMO_REPORT=str(tmp_path))
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"--report {tmp_path} is a directory" in done.stderr
