"""e2e: ``podscaler simulate`` shows progress on a terminal and keeps its output clean in a
pipe (the same ``Progress`` serves ``podscaler demo``).

Standard output piped, standard error either a pipe (a CI log: a plain line every 10 % of the
simulated time) or a pseudo-terminal (one line rewritten in place, cleared at the end).
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys

from tests.e2e.conftest import ROOT

SCENARIO = ROOT / "podscaler" / "sim" / "scenarios" / "builtin" / "cpa-ladder.yaml"
COMMAND = [sys.executable, "-m", "podscaler", "simulate", str(SCENARIO), "--no-operator"]
ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("PODSCALER_")},
    "PYTHONPATH": str(ROOT),
}


def test_in_a_pipe_progress_is_plain_lines_on_stderr_and_stdout_is_the_summary() -> None:
    done = subprocess.run(
        COMMAND, capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=300, check=False
    )
    assert done.stdout.startswith("podscaler simulate — cpa-ladder:"), done.stdout
    assert "[#" not in done.stdout
    assert "\r" not in done.stdout + done.stderr
    bars = [line for line in done.stderr.splitlines() if line.startswith("[")]
    assert len(bars) == 10
    assert bars[-1].startswith("[" + "#" * 24 + "]")


def test_on_a_terminal_progress_is_one_line_rewritten_then_cleared() -> None:
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            COMMAND,
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
            cwd=ROOT,
            env=ENV,
            timeout=300,
            check=False,
        )
        os.close(terminal)
        terminal = -1
        seen = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal's other end is closed: all read
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if terminal >= 0:
            os.close(terminal)
        os.close(controller)
    text = seen.decode(errors="replace")
    assert "[#" not in done.stdout
    assert text.count("\r\x1b[2K[") >= 1  # each redraw rewrites the same line
    assert "\n" not in text.replace("\r\n", "")  # never a new line of progress
    assert text.endswith("\r\x1b[2K")  # cleared before the summary
