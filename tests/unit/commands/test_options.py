"""A flag is one declaration: a field of a settings dataclass, from which the click option, its
environment variable, its ``--help`` line and the settings object all follow.

The settings here are a made-up feature (the node module will declare Cluster Autoscaler's
flags the same way); the last tests check that ``podscaler run`` lists no option by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from podscaler.api.flags import flag
from podscaler.commands.options import OptionGroup, options


@dataclass(frozen=True)
class NodeOptions:
    scale_down_delay_after_add_seconds: float = flag(
        600.0, name="scale-down-delay-after-add", help="Seconds after a scale-up."
    )
    expander: str = flag(
        "random", choices=("random", "least-waste", "priority"), help="Which group grows."
    )
    max_nodes_total: int = flag(0, minimum=0, help="0: no limit.")
    balance_similar_node_groups: bool = flag(False, help="Keep similar groups the same size.")
    scale_down_enabled: bool | None = flag(None, negatable=True, help="Remove unneeded nodes.")
    cloud_config: Path | None = flag(None, help="The cloud provider's configuration file.")
    write_status_configmap: bool = flag(
        True, negatable=True, cli_default=False, help="Differs on the command line."
    )
    #: Not a flag: the command line does not set it.
    provider: str = "aws"


GROUP = OptionGroup(NodeOptions, prefix="")
PREFIXED = OptionGroup(NodeOptions, prefix="nodes-")


def _command(group: OptionGroup[NodeOptions], seen: list[NodeOptions]) -> click.Command:
    @click.command("nodes")
    @options(group)
    def nodes(**values: Any) -> None:
        seen.append(group.build(values))

    return nodes


def _invoke(
    group: OptionGroup[NodeOptions], *args: str, **env: str
) -> tuple[click.testing.Result, NodeOptions | None]:
    seen: list[NodeOptions] = []
    result = CliRunner().invoke(
        _command(group, seen),
        list(args),
        env=env,
        auto_envvar_prefix="PODSCALER_NODES",
        terminal_width=200,
        max_content_width=200,
    )
    return result, seen[0] if seen else None


def test_defaults_are_the_fields_unless_the_command_line_says_otherwise() -> None:
    result, chosen = _invoke(GROUP)
    assert result.exit_code == 0, result.output
    assert chosen == NodeOptions(write_status_configmap=False)
    assert chosen.provider == "aws"


def test_each_field_is_an_option_named_like_the_flag() -> None:
    result, chosen = _invoke(
        GROUP,
        "--scale-down-delay-after-add", "300",
        "--expander", "least-waste",
        "--max-nodes-total", "50",
        "--balance-similar-node-groups",
        "--no-scale-down-enabled",
        "--cloud-config", "/etc/cloud.conf",
        "--write-status-configmap",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert chosen == NodeOptions(
        scale_down_delay_after_add_seconds=300.0,
        expander="least-waste",
        max_nodes_total=50,
        balance_similar_node_groups=True,
        scale_down_enabled=False,
        cloud_config=Path("/etc/cloud.conf"),
        write_status_configmap=True,
    )


def test_each_option_reads_its_environment_variable() -> None:
    result, chosen = _invoke(
        PREFIXED,
        PODSCALER_NODES_NODES_SCALE_DOWN_DELAY_AFTER_ADD="120",
        PODSCALER_NODES_NODES_EXPANDER="priority",
        PODSCALER_NODES_NODES_SCALE_DOWN_ENABLED="true",
    )
    assert result.exit_code == 0, result.output
    assert chosen is not None
    assert chosen.scale_down_delay_after_add_seconds == 120.0
    assert chosen.expander == "priority"
    assert chosen.scale_down_enabled is True


def test_help_shows_every_option_with_its_variable_and_default() -> None:
    result, _ = _invoke(PREFIXED, "--help")
    text = " ".join(result.output.split())
    for name in (
        "scale-down-delay-after-add",
        "expander",
        "max-nodes-total",
        "balance-similar-node-groups",
        "scale-down-enabled",
        "cloud-config",
        "write-status-configmap",
    ):
        assert f"--nodes-{name}" in text
        assert f"PODSCALER_NODES_NODES_{name.upper().replace('-', '_')}" in text
    assert "default: 600.0" in text
    assert "--nodes-provider" not in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--expander", "biggest"), "'biggest' is not one of"),
        (("--max-nodes-total", "-1"), "-1 is not in the range x>=0"),
        (("--scale-down-delay-after-add", "soon"), "'soon' is not a valid float"),
    ],
)
def test_a_bad_value_is_a_usage_error_naming_the_flag(args: tuple[str, ...], message: str) -> None:
    result, chosen = _invoke(GROUP, *args)
    assert result.exit_code == 2
    assert chosen is None
    assert message in result.output


def test_a_flag_needs_a_default_and_a_type_the_command_line_can_give() -> None:
    @dataclass(frozen=True)
    class NoDefault:
        size: int = flag(None, help="None is not an int.")

    with pytest.raises(TypeError, match=r"NoDefault.size: a default of None needs an optional"):
        OptionGroup(NoDefault)

    @dataclass(frozen=True)
    class Listed:
        names: tuple[str, ...] = flag((), help="Not a command-line type.")

    with pytest.raises(TypeError, match=r"Listed.names: a flag cannot be of type"):
        OptionGroup(Listed)


def test_podscaler_run_lists_no_option_by_hand() -> None:
    """Every option of ``run`` comes from a declared group, so a new flag is a new field."""
    from podscaler.commands.run import GROUPS, run

    declared = {option.name for group in GROUPS for option in group.params}
    listed = {p.name for p in run.params if isinstance(p, click.Option) and p.expose_value}
    assert listed == declared
