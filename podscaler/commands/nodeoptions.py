"""The node autoscaler's flags on ``podscaler run``: Cluster Autoscaler's, derived from the
planner's one declaration (:data:`podscaler.nodes.OPTIONS`), never listed here.

Each :class:`~podscaler.nodes.options.OptionSpec` becomes a click option under CA's name
(``--scale-down-unneeded-time``), with its help, CA's default shown in Go's spelling
(``10m0s``) and its ``PODSCALER_RUN_*`` variable. Values are taken as CA takes them —
strings the planner's :func:`~podscaler.nodes.parse_options` reads — so a CA manifest's
arguments work unchanged: durations as ``10m`` or ``1h30m``, booleans as a bare
``--balance-similar-node-groups`` or ``--skip-nodes-with-local-storage=false``, repeatable
lists (``--nodes`` twice). A flag given nowhere keeps CA's default; a wrong value is a usage
error naming the flag.

The cloud's own flags (``--cloud-provider``, ``--aws-region``, ``--aws-endpoint-url``) are
:class:`~podscaler.controllers.nodes.settings.CloudOptions` fields, an ordinary
:class:`~podscaler.commands.options.OptionGroup`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

import click

from podscaler.nodes import OPTIONS, NodeAutoscalerOptions, OptionsError, parse_options
from podscaler.nodes.options import OptionKind, OptionSpec

__all__ = ["PLANNER", "PlannerOptions", "go_duration"]

F = TypeVar("F", bound=Callable[..., Any])

#: Old spellings CA still accepts, offered as second names of the same option.
_ALIASES: Final = {
    "blocking-system-pod-distruption-timeout": "blocking-system-pod-disruption-timeout",
}


def go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String()`` of whole and fractional seconds: ``10m0s``, ``5s``,
    ``1h0m0s``, ``500ms``."""
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{secs:g}s"
    if hours or minutes:
        text = f"{int(minutes)}m" + text
    if hours:
        text = f"{int(hours)}h" + text
    return text


def _default_text(spec: OptionSpec, value: Any) -> str | None:
    if value is None or value == ():
        return None
    match spec.kind:
        case OptionKind.BOOL:
            return "true" if value else "false"
        case OptionKind.DURATION:
            return go_duration(float(value))
        case OptionKind.RANGE:
            low, high = value
            if spec.field == "memory_total_bytes":
                low, high = low // 1024**3, high // 1024**3
            return f"{low}:{high}"
        case OptionKind.STRING if isinstance(value, tuple):
            return ",".join(value)
        case OptionKind.FLOAT:
            return f"{value:g}" if math.isfinite(value) else str(value)
        case _:
            return str(value)


class PlannerOptions:
    """Click options for every planner option, and the options object from parsed values."""

    def __init__(self, specs: tuple[OptionSpec, ...] = OPTIONS) -> None:
        self.specs = specs
        defaults = NodeAutoscalerOptions()
        self._declared: list[tuple[OptionSpec, str, list[str], dict[str, Any]]] = []
        for spec in specs:
            param = spec.flag.replace("-", "_")
            decls = [f"--{spec.flag}"]
            decls += [f"--{old}" for old, new in _ALIASES.items() if new == spec.flag]
            decls += [f"--{new}" for old, new in _ALIASES.items() if old == spec.flag]
            shown = _default_text(spec, getattr(defaults, spec.field))
            attrs: dict[str, Any] = {
                "help": f"[Cluster Autoscaler] {spec.help}.",
                "show_envvar": True,
                "default": None,
                "metavar": _metavar(spec),
            }
            if shown is not None:
                attrs["show_default"] = shown
            if spec.kind is OptionKind.STRINGS:
                attrs["multiple"] = True
                attrs["default"] = ()
            elif spec.kind is OptionKind.BOOL:
                attrs["is_flag"] = False
                attrs["flag_value"] = "true"
            self._declared.append((spec, param, [*decls, param], attrs))

    @property
    def params(self) -> list[click.Option]:
        return [click.Option(decls, **attrs) for _, _, decls, attrs in self._declared]

    def __call__(self, command: F) -> F:
        for _, _, decls, attrs in reversed(self._declared):
            command = click.option(*decls, **attrs)(command)
        return command

    def given(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``{flag: value}`` of the planner options set on the command line (or by
        variable)."""
        chosen: dict[str, Any] = {}
        for spec, param, _, _ in self._declared:
            value = values.get(param)
            if value is None or value == ():
                continue
            chosen[spec.flag] = list(value) if isinstance(value, tuple) else value
        return chosen

    def build(self, values: Mapping[str, Any]) -> NodeAutoscalerOptions:
        """The options from a command's parsed values; a :class:`click.UsageError` names the
        flag that is wrong."""
        try:
            return parse_options(self.given(values))
        except OptionsError as exc:
            raise click.UsageError(f"--{exc}") from exc

    def param_names(self) -> list[str]:
        return [param for _, param, _, _ in self._declared]


def _metavar(spec: OptionSpec) -> str:
    return {
        OptionKind.BOOL: "[true|false]",
        OptionKind.INT: "INTEGER",
        OptionKind.FLOAT: "FLOAT",
        OptionKind.DURATION: "DURATION",
        OptionKind.STRING: "TEXT",
        OptionKind.STRINGS: "TEXT",
        OptionKind.RANGE: "MIN:MAX",
    }[spec.kind]


#: The planner's flags of ``podscaler run``.
PLANNER: Final = PlannerOptions()
