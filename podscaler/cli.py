"""The ``podscaler`` command line: a thin group over the commands in :mod:`podscaler.commands`.

Each command lives in its own module, loaded only when that command runs (or ``--help`` lists
them all), so ``podscaler validate`` in a CI pipeline does not pay for aiohttp or the
Kubernetes client, and a broken optional layer cannot break the others. Every option can also
be set through a ``PODSCALER_<COMMAND>_<OPTION>`` environment variable (click's
``auto_envvar_prefix``), the way operators are configured in a Deployment, and ``--help``
shows it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any, Final

import click

from podscaler import __version__

__all__ = ["COMMANDS", "main", "run"]

#: Every command: its name and where it is defined (``module:attribute``).
COMMANDS: Final[Mapping[str, str]] = {
    "cluster": "podscaler.commands.cluster:cluster",
    "demo": "podscaler.commands.demo:demo",
    "explain": "podscaler.commands.explain:explain",
    "recommend": "podscaler.commands.recommend:recommend",
    "run": "podscaler.commands.run:run",
    "simulate": "podscaler.commands.simulate:simulate",
    "status": "podscaler.commands.status:status",
    "top": "podscaler.commands.top:top",
    "validate": "podscaler.commands.validate:validate",
}


def _show_envvars(command: click.Command) -> click.Command:
    """Every option shows its environment variable in ``--help`` (click names it after the
    option's parameter, and each parameter is named like its flag)."""
    for param in command.params:
        if isinstance(param, click.Option) and param.expose_value:
            param.show_envvar = True
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _show_envvars(sub)
    return command


class _LazyCommands(dict[str, click.Command]):
    """The group's commands, each imported on first use from :data:`COMMANDS`.

    A dict, as click keeps a group's commands, so ``main.commands["run"]`` works as for any
    click group."""

    def __init__(self, lazy: Mapping[str, str]) -> None:
        super().__init__()
        self._lazy = dict(lazy)

    def __missing__(self, name: str) -> click.Command:
        where = self._lazy.get(name)
        if where is None:
            raise KeyError(name)
        module, _, attribute = where.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{where} is not a click command")
        self[name] = _show_envvars(command)
        return command

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default

    def __contains__(self, name: object) -> bool:
        return name in self._lazy or super().__contains__(name)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(set(self._lazy) | set(super().keys())))

    def __len__(self) -> int:
        return len(set(self._lazy) | set(super().keys()))

    def keys(self) -> Any:
        return list(self)

    def values(self) -> Any:
        return [self[name] for name in self]

    def items(self) -> Any:
        return [(name, self[name]) for name in self]


class _Commands(click.Group):
    """The command group: commands load lazily, and an ordinary failure a command reports as
    :class:`~podscaler.commands.failures.CommandFailure` ends as one line on stderr and its exit
    code, never as a traceback."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        super().add_command(_show_envvars(cmd), name)

    def invoke(self, ctx: click.Context) -> Any:
        from podscaler.commands.failures import CommandFailure

        try:
            return super().invoke(ctx)
        except CommandFailure as exc:
            # As click.ClickException shows it, with the command's own exit code (click 8.5
            # made ClickException.exit_code a class variable).
            click.echo(f"Error: {exc.message}", err=True)
            ctx.exit(exc.exit_code)


@click.group(
    cls=_Commands,
    commands=_LazyCommands(COMMANDS),
    # Wide enough that the longest PODSCALER_RUN_* name is not broken across lines.
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120},
)
@click.version_option(__version__, prog_name="podscaler")
def main() -> None:
    """podscaler: workload, event-driven, vertical, proportional and node autoscaling in one
    operator, with an embedded cluster to try it on."""


@main.command()
def version() -> None:
    """Print the version."""
    click.echo(f"podscaler {__version__}")


def run() -> None:
    """Entry point with the ``PODSCALER_`` environment prefix for every option."""
    main(auto_envvar_prefix="PODSCALER")
