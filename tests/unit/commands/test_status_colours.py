"""``podscaler status`` on a terminal: what is wrong stands out in colour; the words are the
same as in a pipe (where click drops the colours)."""

from __future__ import annotations

import click

from podscaler.commands.status import _coloured

TEXT = """podscaler 1.0 (active): live, NOT READY
  ! metrics API failed
not working:
  ScaledObject a/x: ScaleTargetNotFound: gone
managed:
  ScaledObject         2 total, 1 ready, 0 active, 0 fallback, 0 paused, 1 NOT READY
  ScaledJob            none
shard: 1 member, 2 ScaledObjects; this replica a: owning, polls 2
recent handovers (newest first):
  2026-12-07T03:59:34  this replica FENCED (no renewal in time): 0 members, 0 objects moved
shard: 0 members, 2 ScaledObjects; this replica a: NOT OWNING (fenced), polls 0
"""

RED, GREEN, YELLOW, BOLD = "\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[1m"


def test_the_words_are_unchanged() -> None:
    assert click.unstyle(_coloured(TEXT, healthy=False)) == TEXT
    assert click.unstyle(_coloured(TEXT, healthy=True)) == TEXT


def test_health_problems_and_errors_stand_out() -> None:
    lines = _coloured(TEXT, healthy=False).splitlines()
    assert lines[0].startswith(RED)
    assert lines[1].startswith(RED)  # a problem
    assert lines[2].startswith(RED)  # the heading of what is not working
    assert lines[3].startswith(YELLOW)  # what is not working
    assert lines[4].startswith(BOLD)  # a heading
    assert lines[5].startswith(YELLOW)  # a count with NOT READY in it
    assert lines[6] == "  ScaledJob            none"
    assert lines[7].startswith(BOLD)
    assert lines[9].startswith(YELLOW)
    assert lines[10].startswith(RED)
    assert _coloured(TEXT, healthy=True).startswith(GREEN)
