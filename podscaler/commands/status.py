"""``podscaler status``: what a running operator manages and how it is, from its own endpoint.

Reads ``/debug/status`` on the operator's metrics port (``--endpoint``, default
``http://127.0.0.1:8080``, what ``kubectl port-forward deploy/podscaler 8080`` gives): the
operator's liveness and readiness with the reasons, then what is not working (objects not
Ready, VerticalScalers that cannot recommend, and why), objects per kind with their
Ready/Active/Fallback/Paused counts (VerticalScalers: recommending, low confidence), how late the
scale loop runs, node groups and their backoff, what the vertical recommender and updater did
(evictions, in-place resizes), and under ``--shard`` the members, the objects each owns and the
recent handovers (:mod:`podscaler.observability.status`). Colours on a terminal only.

Exit status: 0 the operator is live and ready; 3 it answered but is not live or not ready (a
script can gate on it); 1 it could not be reached, or what answered is not podscaler's metrics
port (the message says which); 2 a mistake in the arguments.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any, Final

import aiohttp
import click
from yarl import URL

from podscaler.commands.connection import describe_cause
from podscaler.commands.failures import CommandFailure
from podscaler.observability.status import render_text

__all__ = ["fetch_status", "status"]

TIMEOUT_SECONDS: Final = 10.0
PATH: Final = "/debug/status"
NOT_HEALTHY: Final = 3
_HINT: Final = (
    "--endpoint takes the operator's metrics address (its --metrics-port, 8080 by default), "
    "e.g. after kubectl -n podscaler port-forward deploy/podscaler 8080"
)


def _endpoint(ctx: click.Context, param: click.Parameter, value: str) -> URL:
    text = value.strip()
    if "://" not in text:
        text = "http://" + text
    try:
        url = URL(text)
        url.port  # noqa: B018 - a port that is not a number raises here
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a URL ({exc})", ctx, param) from None
    if url.scheme not in ("http", "https") or not url.host:
        raise click.BadParameter(
            f"{value!r} is not an http(s) address; expected e.g. http://127.0.0.1:8080", ctx, param
        )
    return url


async def fetch_status(endpoint: URL) -> dict[str, Any]:
    """The operator's ``/debug/status`` document; :class:`CommandFailure` saying what is wrong
    when there is none."""
    url = endpoint.with_path(endpoint.path.rstrip("/") + PATH)
    where = str(endpoint)
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)) as session,
            session.get(url) as response,
        ):
            if response.status != 200:
                raise CommandFailure(
                    f"{where} answered {response.status} {response.reason} for {PATH}, so it is "
                    f"not the metrics port of a podscaler that serves it: {_HINT}"
                )
            document = await response.json(content_type=None)
    except TimeoutError as exc:
        raise CommandFailure(
            f"the operator at {where} did not answer within {TIMEOUT_SECONDS:g} s (a stuck "
            "process? its liveness probe will say)"
        ) from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise CommandFailure(
            f"cannot reach the operator at {where}: {describe_cause(exc)}; is podscaler run "
            f"running there? {_HINT}"
        ) from exc
    except ValueError as exc:
        raise CommandFailure(f"{where} did not answer {PATH} with JSON: {_HINT}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("health"), dict):
        raise CommandFailure(f"{where} did not answer {PATH} as podscaler does: {_HINT}")
    return document


@click.command("status")
@click.option(
    "--endpoint",
    default="http://127.0.0.1:8080",
    show_default=True,
    callback=_endpoint,
    help="The operator's metrics address; reads /debug/status there.",
)
@click.option(
    "--output", "-o", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def status(endpoint: URL, output: str) -> None:
    """Show what a running operator manages: whether it is live and ready, what is not
    working and why, objects per kind (Ready, Active, Fallback, Paused; VerticalScalers:
    recommending, low confidence), scale loop lateness, node groups and their backoff, the
    vertical updater's evictions and resizes, and with --shard the members, the objects each
    owns and the recent handovers.

    Exit status: 0 live and ready, 3 answered but not live or not ready, 1 not reachable or
    not podscaler, 2 a mistake in the arguments.
    """
    document = asyncio.run(fetch_status(endpoint))
    health = document["health"]
    healthy = bool(health.get("live") and health.get("ready"))
    if output == "json":
        click.echo(json.dumps(document, indent=2, sort_keys=True))
    else:
        # Colours on a terminal only: click.echo drops them in a pipe or a file.
        click.echo(_coloured(render_text(document), healthy), nl=False)
    if not healthy:
        sys.exit(NOT_HEALTHY)


#: Section headings of :func:`render_text`, in bold.
_HEADINGS: Final = (
    "managed:",
    "scale loop lateness",
    "node autoscaler:",
    "vertical recommender:",
    "shard:",
    "recent handovers",
)


#: Words of :func:`render_text` that say something is wrong (the line turns yellow).
_ALARMS: Final = ("NOT ", "REFUSED", "BACKED OFF", "FENCED")


def _coloured(text: str, healthy: bool) -> str:
    """The first line green or red, problems red, what is not working yellow, headings bold."""
    out: list[str] = []
    failing = False
    for index, line in enumerate(text.splitlines()):
        if index == 0:
            out.append(click.style(line, fg="green" if healthy else "red", bold=True))
        elif line.startswith("  ! "):
            out.append(click.style(line, fg="red"))
        elif line.startswith("not working:"):
            failing = True
            out.append(click.style(line, fg="red", bold=True))
        elif not line.startswith(" "):
            failing = False
            alarm = "NOT " in line
            heading = alarm or line.startswith(_HEADINGS)
            out.append(click.style(line, fg="red" if alarm else None, bold=heading))
        elif failing or any(word in line for word in _ALARMS):
            out.append(click.style(line, fg="yellow"))
        else:
            out.append(line)
    return "".join(line + "\n" for line in out)
