"""Option groups: click options, environment variables and settings objects from one
declaration.

A feature's flags are declared once, as :func:`~podscaler.api.flags.flag` fields of the
settings dataclass the feature reads (``RunOptions``, ``MetricsApiOptions``,
``LoggingOptions``, the node module's Cluster Autoscaler options). An :class:`OptionGroup`
turns such a dataclass into

* click options: ``--<prefix><name>``, typed from the field's annotation (``int``, ``float``,
  ``str``, ``Path``, ``bool``, each optionally ``| None``), with the declared default and help;
* their environment variables: each option's parameter is named like its flag, so click's
  ``auto_envvar_prefix`` reads ``PODSCALER_<COMMAND>_<PREFIX><NAME>``, and ``--help`` shows it;
* the settings object, built from the parsed values (:meth:`OptionGroup.build`), every field
  without a flag keeping its own default.

Adding a flag is adding a field; the command that uses the group does not change.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import click

from podscaler.api.flags import SAME, Flag, flag_of

__all__ = ["FlagGroup", "OptionGroup", "options"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


@dataclasses.dataclass(frozen=True)
class _Declared:
    field: str
    param: str
    decls: tuple[str, ...]
    attrs: dict[str, Any]


def _base_type(annotation: Any) -> tuple[type, bool]:
    """``(type, optional)`` of ``int | None`` and friends."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        return inner, True
    return annotation, False


def _click_type(declared: Flag, kind: type, where: str) -> click.ParamType[Any]:
    if declared.choices is not None:
        return click.Choice(list(declared.choices))
    if kind is Path:
        return click.Path(path_type=Path, dir_okay=not declared.path)
    if kind is str:
        return click.Path(dir_okay=False) if declared.path else click.STRING
    if kind is int:
        return click.INT if declared.minimum is None else click.IntRange(min=int(declared.minimum))
    if kind is float:
        return click.FLOAT if declared.minimum is None else click.FloatRange(min=declared.minimum)
    raise TypeError(f"{where}: a flag cannot be of type {kind!r}")


class OptionGroup(Generic[T]):
    """The flags of one settings dataclass, optionally under a common *prefix* (``metrics-api-``
    makes the field ``port`` the flag ``--metrics-api-port``)."""

    def __init__(self, settings: type[T], *, prefix: str = "") -> None:
        if not dataclasses.is_dataclass(settings):
            raise TypeError(f"{settings!r} is not a dataclass")
        self.settings = settings
        self.prefix = prefix
        hints = typing.get_type_hints(settings)
        self._declared: list[_Declared] = []
        for field in dataclasses.fields(settings):
            declared = flag_of(field)
            if declared is None:
                continue
            where = f"{settings.__name__}.{field.name}"
            flag_name = prefix + (declared.name or field.name.replace("_", "-"))
            param = flag_name.replace("-", "_")
            kind, optional = _base_type(hints[field.name])
            default = declared.default
            if default is SAME:
                if field.default is dataclasses.MISSING:
                    raise TypeError(f"{where}: a flag needs a default")
                default = field.default
            decls = [f"--{flag_name}"]
            if declared.short:
                decls.append(declared.short)
            extra: dict[str, Any] = {}
            if kind is bool:
                if declared.negatable:
                    decls = [f"--{flag_name}/--no-{flag_name}"]
                else:
                    extra["is_flag"] = True
                show_default = declared.negatable
            else:
                extra["type"] = _click_type(declared, kind, where)
                show_default = default is not None
                if default is None and not optional:
                    raise TypeError(f"{where}: a default of None needs an optional type")
            attrs = {
                "default": default,
                "show_default": show_default,
                "show_envvar": True,
                "help": declared.help,
                "metavar": declared.metavar,
                **extra,
            }
            self._declared.append(_Declared(field.name, param, (*decls, param), attrs))

    @property
    def params(self) -> list[click.Option]:
        """The click options (new objects each time: for reading, not for a command)."""
        return [click.Option(list(d.decls), **d.attrs) for d in self._declared]

    def param_of(self, field: str) -> str:
        """The click parameter (the key in a command's values) of the field's flag."""
        for declared in self._declared:
            if declared.field == field:
                return declared.param
        raise KeyError(field)

    def flag_name(self, field: str) -> str:
        """``--metrics-api-tls-cert-file`` for the field ``cert_file`` (for messages)."""
        for declared in self._declared:
            if declared.field == field:
                return declared.decls[0].split("/")[0]
        raise KeyError(field)

    def __call__(self, command: F) -> F:
        """Add the group's options to a click command function (a decorator)."""
        for declared in reversed(self._declared):
            command = click.option(*declared.decls, **declared.attrs)(command)
        return command

    def build(self, values: Mapping[str, Any], **others: Any) -> T:
        """The settings object from a command's parsed values (only this group's are read);
        *others* sets fields the command line does not."""
        chosen = {d.field: values[d.param] for d in self._declared}
        return self.settings(**chosen, **others)


class FlagGroup(Protocol):
    """Anything that adds a group of options to a command: an :class:`OptionGroup`, or the
    node autoscaler's flags derived from the planner's declaration
    (:mod:`podscaler.commands.nodeoptions`)."""

    @property
    def params(self) -> list[click.Option]: ...

    def __call__(self, command: F) -> F: ...


def options(*groups: FlagGroup) -> Callable[[F], F]:
    """Add the options of several groups to one command, in order."""

    def decorate(command: F) -> F:
        for group in reversed(groups):
            group(command)
        return command

    return decorate
