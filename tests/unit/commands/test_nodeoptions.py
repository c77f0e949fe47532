"""``podscaler run``'s node autoscaler flags: Cluster Autoscaler's, derived from the planner's
one declaration — every option there is a flag here, with CA's default shown and its
``PODSCALER_RUN_*`` variable, read as CA reads it (``--flag``, ``--flag=false``, repeated
lists); and when the flags turn the node autoscaler on."""

from __future__ import annotations

from typing import Any

import click
import pytest
from click.testing import CliRunner

from podscaler.commands.nodeoptions import PLANNER, go_duration
from podscaler.controllers.nodes.settings import CloudOptions, NodeAutoscalerConfig, NodeConfigError
from podscaler.nodes import OPTIONS, NodeAutoscalerOptions
from podscaler.nodes.options import NodeGroupBounds


def _parse(*args: str, env: dict[str, str] | None = None) -> NodeAutoscalerOptions:
    seen: list[NodeAutoscalerOptions] = []

    @click.command()
    @PLANNER
    def command(**values: Any) -> None:
        seen.append(PLANNER.build(values))

    result = CliRunner().invoke(command, list(args), env=env, auto_envvar_prefix="PODSCALER_RUN")
    assert result.exit_code == 0, result.output
    return seen[0]


def test_every_planner_option_is_a_flag_under_cas_name() -> None:
    names = {o.opts[0] for o in PLANNER.params}
    assert names == {f"--{spec.flag}" for spec in OPTIONS}


def test_no_flag_keeps_cas_defaults() -> None:
    assert _parse() == NodeAutoscalerOptions()


def test_flags_are_read_as_cluster_autoscaler_reads_them() -> None:
    options = _parse(
        "--nodes=1:6:general",
        "--nodes",
        "0:3:gpu",
        "--expander=priority,least-waste",
        "--scale-down-unneeded-time=2m30s",
        "--balance-similar-node-groups",
        "--skip-nodes-with-local-storage=false",
        "--memory-total=0:64",
        "--blocking-system-pod-disruption-timeout=1h",
    )
    assert [(b.min_size, b.max_size, b.name) for b in options.nodes] == [
        (1, 6, "general"),
        (0, 3, "gpu"),
    ]
    assert options.expander == ("priority", "least-waste")
    assert options.scale_down_unneeded_time_seconds == 150.0
    assert options.balance_similar_node_groups is True
    assert options.skip_nodes_with_local_storage is False
    assert options.memory_total_bytes == (0, 64 * 1024**3)
    assert options.blocking_system_pod_disruption_timeout_seconds == 3600.0


def test_flags_come_from_environment_variables_too() -> None:
    options = _parse(
        env={
            "PODSCALER_RUN_SCALE_DOWN_UTILIZATION_THRESHOLD": "0.7",
            "PODSCALER_RUN_NODES": "1:3:a 2:4:b",
        }
    )
    assert options.scale_down_utilization_threshold == 0.7
    assert [b.name for b in options.nodes] == ["a", "b"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scale-down-unneeded-time=soon"], "--scale-down-unneeded-time: 'soon'"),
        (["--balance-similar-node-groups=maybe"], "is not a boolean"),
        (["--scale-down-utilization-threshold=1.5"], "within [0, 1]"),
        (["--nodes=6:1:x"], "max size must be >= min size"),
    ],
)
def test_a_wrong_value_is_a_usage_error_naming_the_flag(args: list[str], message: str) -> None:
    @click.command()
    @PLANNER
    def command(**values: Any) -> None:
        PLANNER.build(values)

    result = CliRunner().invoke(command, args)
    assert result.exit_code == 2
    assert message in result.output


def test_help_shows_cas_defaults_in_gos_spelling() -> None:
    params = {o.opts[0]: o for o in PLANNER.params}
    assert params["--scale-down-unneeded-time"].show_default == "10m0s"
    assert params["--max-node-provision-time"].show_default == "15m0s"
    assert params["--expander"].show_default == "least-waste"
    assert params["--cores-total"].show_default == "0:320000"
    assert params["--scale-down-enabled"].show_default == "true"
    assert all(o.show_envvar for o in PLANNER.params)
    assert go_duration(3600) == "1h0m0s"
    assert go_duration(0.5) == "500ms"
    assert go_duration(0) == "0s"


def test_the_node_autoscaler_runs_only_when_asked() -> None:
    defaults = NodeAutoscalerOptions()
    assert NodeAutoscalerConfig.from_flags(defaults, CloudOptions()) is None
    with pytest.raises(NodeConfigError, match="needs node groups"):
        NodeAutoscalerConfig.from_flags(defaults, CloudOptions(cloud_provider="aws"))
    with pytest.raises(NodeConfigError, match="configure the node autoscaler"):
        NodeAutoscalerConfig.from_flags(defaults, CloudOptions(aws_region="eu-west-1"))
    discovery = defaults.with_changes(node_group_auto_discovery=("asg:tag=k8s.io/x",))
    config = NodeAutoscalerConfig.from_flags(
        discovery, CloudOptions(aws_region="eu-west-1", aws_endpoint_url="http://127.0.0.1:1")
    )
    assert config is not None
    assert config.aws is not None
    assert (config.aws.region, config.aws.endpoint_url) == ("eu-west-1", "http://127.0.0.1:1")


def test_the_region_falls_back_to_the_aws_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    options = NodeAutoscalerOptions().with_changes(
        nodes=(NodeGroupBounds(1, 3, "general"),),
    )
    with pytest.raises(NodeConfigError, match="AWS region"):
        NodeAutoscalerConfig.from_flags(options, CloudOptions())
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    config = NodeAutoscalerConfig.from_flags(options, CloudOptions())
    assert config is not None
    assert config.aws is not None
    assert config.aws.region == "ap-south-1"


def test_podscaler_run_refuses_node_flags_that_cannot_work() -> None:
    from podscaler.cli import main

    result = CliRunner().invoke(main, ["run", "--nodes=1:3:x", "--node-group-auto-discovery=a"])
    assert result.exit_code == 2
    assert "cannot be combined" in result.output
