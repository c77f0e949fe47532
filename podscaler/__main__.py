"""``python -m podscaler`` is the ``podscaler`` command."""

from podscaler.cli import run

run()
