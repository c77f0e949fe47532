"""Benchmark: how fast the README's first command runs, against a baseline commit.

``podscaler demo`` simulates a day of ``web-diurnal`` — the embedded API server, the world and
the operator in one process. Issue 9 §4 asks for the day in under ~20 s on an idle 2-core
machine (at least 4,000x real time). This runs the demo of a *baseline* commit (exported with
``git archive`` into a temporary directory) and of this tree, alternately (A/B/A/B…, each in a
fresh process, same command), so that a change of machine load during the run biases neither
side. Per run it records:

* **CPU seconds** of the demo process (user + system, from ``wait4``): the honest figure on a
  shared machine, where wall time mostly measures the neighbours;
* **wall seconds** from start to exit (imports included), and the load average at the start;
* the speed the demo itself reports (simulated seconds per wall second of the run).

It prints each run, then the medians per side and their ratio.

    python bench/demo_speed.py                       # baseline c17333d vs this tree, 3 rounds
    python bench/demo_speed.py --rounds 5 --baseline main
    python bench/demo_speed.py --current-only        # just this tree (e.g. on a fresh clone)
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: The commit before the demo was made faster (and deterministic): issue 9's "57 s" tree.
DEFAULT_BASELINE = "c17333d"


@dataclass(frozen=True)
class Run:
    side: str
    cpu_seconds: float
    wall_seconds: float
    speed: float
    load: float
    exit_code: int


def _export(commit: str, into: Path) -> Path:
    """The ``podscaler`` and ``scalers`` packages of ``commit``, unpacked under ``into``."""
    archive = into / "baseline.tar"
    with archive.open("wb") as out:
        subprocess.run(
            ["git", "-C", str(ROOT), "archive", commit, "podscaler", "scalers"],
            stdout=out,
            check=True,
        )
    tree = into / "baseline"
    tree.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def _run_demo(side: str, tree: Path, workdir: Path, scenario: str) -> Run:
    load = os.getloadavg()[0]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [
        sys.executable,
        "-m",
        "podscaler",
        "demo",
        "--scenario",
        scenario,
        "--report",
        str(workdir / f"{side}.html"),
        "--kubeconfig",
        str(workdir / f"{side}.kubeconfig"),
    ]
    started = time.perf_counter()
    with subprocess.Popen(
        command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    ) as process:
        assert process.stdout is not None
        output = process.stdout.read().decode(errors="replace")
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    found = re.search(r"\(([\d,]+)x real time\)", output)
    speed = float(found.group(1).replace(",", "")) if found else 0.0
    if process.returncode != 0:
        print(output, file=sys.stderr)
    return Run(side, usage.ru_utime + usage.ru_stime, wall, speed, load, process.returncode)


def _summary(runs: list[Run], side: str) -> tuple[float, float, float]:
    mine = [r for r in runs if r.side == side]
    return (
        statistics.median(r.cpu_seconds for r in mine),
        statistics.median(r.wall_seconds for r in mine),
        statistics.median(r.speed for r in mine),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="commit to compare with")
    parser.add_argument("--rounds", type=int, default=3, help="runs per side, interleaved")
    parser.add_argument("--scenario", default="web-diurnal")
    parser.add_argument("--current-only", action="store_true", help="skip the baseline")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="podscaler-demo-bench-") as tmp:
        workdir = Path(tmp)
        sides = [("current", ROOT)]
        if not args.current_only:
            sides.insert(0, ("baseline", _export(args.baseline, workdir)))
        print(f"podscaler demo --scenario {args.scenario}; nproc={os.cpu_count()}")
        runs: list[Run] = []
        for round_ in range(args.rounds):
            order = sides if round_ % 2 == 0 else sides[::-1]
            for side, tree in order:
                run = _run_demo(side, tree, workdir, args.scenario)
                runs.append(run)
                print(
                    f"  {side:8s} cpu {run.cpu_seconds:6.1f} s  wall {run.wall_seconds:6.1f} s  "
                    f"{run.speed:7,.0f}x real time  load {run.load:4.1f}  exit {run.exit_code}",
                    flush=True,
                )
    print("medians:")
    for side, _tree in sides:
        cpu, wall, speed = _summary(runs, side)
        print(f"  {side:8s} cpu {cpu:6.1f} s  wall {wall:6.1f} s  {speed:7,.0f}x real time")
    if len(sides) == 2:
        base_cpu, base_wall, _ = _summary(runs, "baseline")
        cpu, wall, _ = _summary(runs, "current")
        print(f"  ratio    cpu {base_cpu / cpu:5.2f}x less, wall {base_wall / wall:5.2f}x less")
    return 0 if all(r.exit_code == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
