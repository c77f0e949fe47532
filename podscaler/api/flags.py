"""Command-line flags declared on the settings they set.

A process setting that users pass as a flag (``podscaler run --metrics-port``, and the thirty
Cluster Autoscaler flags of the node module) is declared **once**, as a field of the settings
dataclass the code reads::

    @dataclass(frozen=True)
    class RunOptions:
        metrics_port: int = flag(8080, help="Port of /metrics and /debug/decisions.")

From that one field the command layer (:mod:`podscaler.commands.options`) derives the click
option (``--metrics-port``, its type from the annotation, its default, its help), the
environment variable (``PODSCALER_RUN_METRICS_PORT``) and, from the parsed values, the
settings object itself. Fields without ``flag`` are settings the command line does not expose.

This module only records the declaration (no click, no I/O), so settings in any layer —
including the pure planning half of ``nodes`` — can declare their flags where their defaults
live.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["FLAG", "SAME", "Flag", "flag", "flag_of"]

#: The key of a field's ``metadata`` that holds its :class:`Flag`.
FLAG: Final = "podscaler.flag"


class _Same:
    def __repr__(self) -> str:
        return "SAME"


#: ``Flag.default`` when the command line's default is the field's own.
SAME: Final[Any] = _Same()


@dataclass(frozen=True)
class Flag:
    """How a settings field appears on the command line.

    ``name`` is the long flag without dashes (default: the field's name with ``-`` for
    ``_``), and names the environment variable too. ``default`` is the command line's default
    when it differs from the field's (``--metrics-api-port`` is 0, "off", on the command line
    while the server's own default is 6443). A ``bool`` is an on/off switch (``--dry-run``)
    unless ``negatable``, which gives ``--x/--no-x``. ``choices`` restricts a ``str``; ``path``
    makes a ``str`` a file path (an existing directory is refused); ``minimum`` bounds a number
    from below.
    """

    help: str
    name: str | None = None
    short: str | None = None
    choices: tuple[str, ...] | None = None
    negatable: bool = False
    path: bool = False
    metavar: str | None = None
    minimum: float | None = None
    default: Any = SAME


def flag(
    default: Any,
    *,
    help: str,
    name: str | None = None,
    short: str | None = None,
    choices: tuple[str, ...] | None = None,
    negatable: bool = False,
    path: bool = False,
    metavar: str | None = None,
    minimum: float | None = None,
    cli_default: Any = SAME,
) -> Any:
    """A dataclass field with *default* that is also a command-line flag (see :class:`Flag`)."""
    declared = Flag(
        help=help,
        name=name,
        short=short,
        choices=choices,
        negatable=negatable,
        path=path,
        metavar=metavar,
        minimum=minimum,
        default=cli_default,
    )
    return dataclasses.field(default=default, metadata={FLAG: declared})


def flag_of(field: dataclasses.Field[Any]) -> Flag | None:
    """The field's flag, or ``None`` when the command line does not set it."""
    declared = field.metadata.get(FLAG)
    return declared if isinstance(declared, Flag) else None
