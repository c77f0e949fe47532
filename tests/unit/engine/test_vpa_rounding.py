"""``--vertical-round-cpu-millicores`` / ``--vertical-round-memory-bytes``: upstream's
``--round-cpu-millicores`` / ``--round-memory-bytes`` (VPA features.md), target, lowerBound
and upperBound each rounded *up* to a multiple."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.commands.run import VERTICAL
from podscaler.controllers.vertical import VerticalOptions
from podscaler.engine.vpa import (
    AggregateContainerState,
    ContainerState,
    RecommenderSettings,
    recommend,
)
from podscaler.engine.vpa.policy import round_up

MIB = 1024 * 1024
START = datetime(2026, 3, 2, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("amount", "multiple", "rounded"),
    [
        (79, 50, 100),  # features.md: 79m -> 100m with --round-cpu-millicores=50
        (34, 50, 50),  # 34m -> 50m
        (200 * MIB, 134_217_728, 256 * MIB),  # 200Mi -> 256Mi with --round-memory-bytes=128Mi
        (80 * MIB, 134_217_728, 128 * MIB),  # 80Mi -> 128Mi
        (100, 50, 100),  # already a multiple: unchanged
        (79, 1, 79),  # 1 (the default): no rounding
    ],
)
def test_the_docs_examples(amount: int, multiple: int, rounded: int) -> None:
    assert round_up(amount, multiple) == rounded


@settings(deadline=None, max_examples=300)
@given(st.integers(min_value=0, max_value=10**15), st.integers(min_value=1, max_value=10**10))
def test_rounding_goes_up_to_the_nearest_multiple(amount: int, multiple: int) -> None:
    rounded = round_up(amount, multiple)
    assert rounded % multiple == 0
    assert amount <= rounded < amount + multiple


def _steady(cpu_millicores: int, memory_bytes: int, minutes: int) -> AggregateContainerState:
    state = AggregateContainerState(START)
    container = ContainerState(state)
    for minute in range(minutes):
        container.add_cpu_sample(cpu_millicores, START + 60 * minute)
        container.add_memory_sample(memory_bytes, START + 60 * minute)
    return state


def test_target_and_both_bounds_are_rounded_up() -> None:
    aggregates = {"app": _steady(79, 80 * MIB, 1440)}
    (plain,) = recommend(aggregates).containers
    rounding = RecommenderSettings(round_cpu_millicores=50, round_memory_bytes=134_217_728)
    (rounded,) = recommend(aggregates, None, rounding).containers
    for before, after in (
        (plain.target, rounded.target),
        (plain.lower_bound, rounded.lower_bound),
        (plain.upper_bound, rounded.upper_bound),
    ):
        assert before.cpu_millicores is not None
        assert before.memory_bytes is not None
        assert after.cpu_millicores == round_up(before.cpu_millicores, 50)
        assert after.memory_bytes == round_up(before.memory_bytes, 134_217_728)
        assert after.cpu_millicores % 50 == 0
        assert after.memory_bytes % (128 * MIB) == 0


def _vertical(*args: str, env: dict[str, str] | None = None) -> VerticalOptions:
    seen: list[VerticalOptions] = []

    @click.command()
    @VERTICAL
    def command(**values: Any) -> None:
        seen.append(VERTICAL.build(values))

    result = CliRunner().invoke(command, list(args), env=env, auto_envvar_prefix="PODSCALER_RUN")
    assert result.exit_code == 0, result.output
    return seen[0]


def test_the_run_flags_and_their_variables_reach_the_recommender() -> None:
    default = _vertical().settings(dry_run=False).recommender
    assert (default.round_cpu_millicores, default.round_memory_bytes) == (1, 1)
    flags = _vertical(
        "--vertical-round-cpu-millicores=50", "--vertical-round-memory-bytes", "134217728"
    )
    recommender = flags.settings(dry_run=False).recommender
    assert (recommender.round_cpu_millicores, recommender.round_memory_bytes) == (
        50,
        134_217_728,
    )
    env = {
        "PODSCALER_RUN_VERTICAL_ROUND_CPU_MILLICORES": "25",
        "PODSCALER_RUN_VERTICAL_ROUND_MEMORY_BYTES": "1048576",
    }
    recommender = _vertical(env=env).settings(dry_run=False).recommender
    assert (recommender.round_cpu_millicores, recommender.round_memory_bytes) == (25, MIB)


def test_a_rounding_below_one_is_refused_naming_the_flag() -> None:
    @click.command()
    @VERTICAL
    def command(**values: Any) -> None:
        VERTICAL.build(values)

    result = CliRunner().invoke(command, ["--vertical-round-cpu-millicores=0"])
    assert result.exit_code == 2
    assert "--vertical-round-cpu-millicores" in result.output
