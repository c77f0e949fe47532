"""The API server differential suite: requests and kube-apiserver's answers, replayed.

``apiserver_cases.yaml`` holds request/expected pairs grouped by category. Each case runs in a
namespace of its own (``$ns`` in paths and bodies); its steps are sent in order and the steps
with an ``expect`` are compared: the status code, the Status ``reason``, fields by JSON pointer
(``fields``: equal, ``absent``, ``present``, ``same``: equal to another field of the answer,
``contains``: a list holding an item with these fields) and a substring of the ``Warning``
header. The answer of every step is kept, so a later step may name ``$uidN`` (the uid in step
N's answer).

Run it against the embedded server (the default), or against any server to compare or to
re-record the expectations from a real kube-apiserver::

    python -m tests.differential.runner                      # embedded server, prints the report
    python -m tests.differential.runner --server URL --token T
    python -m tests.differential.runner --server URL --token T --record   # rewrite expectations

``--record`` keeps each case's checks but replaces the expected values with the server's and
marks the file ``source: recorded``; the recordings committed so far are "expected from
documentation, not yet recorded against a real kube-apiserver" (the file's ``source`` says so).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

CASES = Path(__file__).with_name("apiserver_cases.yaml")
_MISSING = object()


@dataclass
class Answer:
    code: int
    body: Any
    headers: dict[str, str]


@dataclass
class Outcome:
    name: str
    category: str
    differences: list[str] = field(default_factory=list)

    @property
    def matched(self) -> bool:
        return not self.differences


def load(path: Path = CASES) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise ValueError(f"{path}: expected a mapping with a list of cases")
    return data


def pointer(doc: Any, ptr: str) -> Any:
    """The value at a JSON pointer (RFC 6901), or ``_MISSING``."""
    if ptr in ("", "/"):
        return doc
    cur = doc
    for raw in ptr.lstrip("/").split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdecimal() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return _MISSING
    return cur


def _substitute(value: Any, ns: str, answers: list[Answer]) -> Any:
    text = json.dumps(value).replace("$ns", ns)

    def uid(match: re.Match[str]) -> str:
        body = answers[int(match.group(1))].body
        found = pointer(body, "/metadata/uid")
        return str(found) if found is not _MISSING else "missing-uid"

    return json.loads(re.sub(r"\$uid(\d+)", uid, text))


def compare(expect: dict[str, Any], answer: Answer) -> list[str]:
    """Every way ``answer`` differs from ``expect`` (empty: it matches)."""
    diffs: list[str] = []
    if "code" in expect and answer.code != expect["code"]:
        diffs.append(f"code {answer.code}, expected {expect['code']}")
    body = answer.body
    if "reason" in expect:
        reason = body.get("reason") if isinstance(body, dict) else None
        if reason != expect["reason"]:
            diffs.append(f"reason {reason!r}, expected {expect['reason']!r}")
    for ptr, want in (expect.get("fields") or {}).items():
        got = pointer(body, ptr)
        if got is _MISSING:
            diffs.append(f"{ptr} absent, expected {want!r}")
        elif got != want:
            diffs.append(f"{ptr} = {got!r}, expected {want!r}")
    for ptr in expect.get("absent") or []:
        got = pointer(body, ptr)
        if got is not _MISSING:
            diffs.append(f"{ptr} = {got!r}, expected absent")
    for ptr in expect.get("present") or []:
        if pointer(body, ptr) is _MISSING:
            diffs.append(f"{ptr} absent, expected present")
    for ptr, other in (expect.get("same") or {}).items():
        a, b = pointer(body, ptr), pointer(body, other)
        if a is _MISSING or a != b:
            shown = "absent" if a is _MISSING else repr(a)
            diffs.append(f"{ptr} = {shown}, expected the value of {other}")
    for ptr, wanted in (expect.get("contains") or {}).items():
        items = pointer(body, ptr)
        if not isinstance(items, list) or not any(
            isinstance(i, dict) and all(i.get(k) == v for k, v in wanted.items()) for i in items
        ):
            diffs.append(f"{ptr} has no item with {wanted!r}")
    if "warning" in expect:
        header = answer.headers.get("Warning", "")
        if expect["warning"] not in header:
            diffs.append(f"Warning header {header!r}, expected it to contain {expect['warning']!r}")
    return diffs


def record(expect: dict[str, Any], answer: Answer) -> dict[str, Any]:
    """``expect`` with its values replaced by what ``answer`` says (for ``--record``)."""
    out = dict(expect)
    if "code" in out:
        out["code"] = answer.code
    body = answer.body
    if "reason" in out:
        out["reason"] = body.get("reason") if isinstance(body, dict) else None
    if "fields" in out:
        out["fields"] = {
            ptr: (None if (v := pointer(body, ptr)) is _MISSING else v) for ptr in out["fields"]
        }
    return out


async def send(
    session: aiohttp.ClientSession, base: str, step: dict[str, Any], ns: str, answers: list[Answer]
) -> Answer:
    step = _substitute(step, ns, answers)
    headers = dict(step.get("headers") or {})
    data: bytes | None = None
    if "raw" in step:
        data = str(step["raw"]).encode()
    elif "body" in step:
        data = json.dumps(step["body"]).encode()
    if data is not None:
        headers.setdefault("Content-Type", step.get("content_type", "application/json"))
    url = base + step["path"]
    async with session.request(step["method"], url, data=data, headers=headers) as resp:
        raw = await resp.read()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode(errors="replace")
        return Answer(resp.status, body, dict(resp.headers))


async def run(
    base: str, token: str | None = None, *, record_into: dict[str, Any] | None = None
) -> list[Outcome]:
    data = load() if record_into is None else record_into
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    outcomes: list[Outcome] = []
    async with aiohttp.ClientSession(headers=headers) as session:
        for index, case in enumerate(data["cases"]):
            ns = f"diff-{index}"
            outcome = Outcome(case["name"], case.get("category", ""))
            if case.get("namespace", True):
                ns_step = {
                    "method": "POST",
                    "path": "/api/v1/namespaces",
                    "body": {"metadata": {"name": ns}},
                }
                await send(session, base, ns_step, ns, [])
            answers: list[Answer] = []
            for number, step in enumerate(case["steps"]):
                if step.get("sleep"):
                    await asyncio.sleep(float(step["sleep"]))
                answer = await send(session, base, step, ns, answers)
                answers.append(answer)
                if "expect" in step:
                    expect = _substitute(step["expect"], ns, answers)
                    for diff in compare(expect, answer):
                        outcome.differences.append(f"step {number}: {diff}")
                    if record_into is not None:
                        step["expect"] = record(step["expect"], answer)
            outcomes.append(outcome)
    return outcomes


def report(outcomes: list[Outcome]) -> str:
    matched = sum(o.matched for o in outcomes)
    lines = [f"{matched} of {len(outcomes)} cases match ({100 * matched / len(outcomes):.1f} %)"]
    by_category: dict[str, list[Outcome]] = {}
    for o in outcomes:
        by_category.setdefault(o.category, []).append(o)
    for category, group in by_category.items():
        lines.append(f"  {category}: {sum(o.matched for o in group)}/{len(group)}")
    for o in outcomes:
        for diff in o.differences:
            lines.append(f"DIFF {o.category}/{o.name}: {diff}")
    return "\n".join(lines)


async def _embedded() -> list[Outcome]:
    from podscaler.sim.apiserver.server import ApiServer

    async with ApiServer() as server:
        return await run(server.url, server.token)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", help="base URL of the server (default: an embedded one)")
    parser.add_argument("--token", help="bearer token for --server")
    parser.add_argument("--record", action="store_true", help="rewrite the expectations")
    args = parser.parse_args(argv)
    if args.record:
        if not args.server:
            parser.error("--record needs --server (a real kube-apiserver)")
        data = load()
        outcomes = asyncio.run(run(args.server, args.token, record_into=data))
        data["source"] = f"recorded against {args.server}"
        CASES.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    elif args.server:
        outcomes = asyncio.run(run(args.server, args.token))
    else:
        outcomes = asyncio.run(_embedded())
    print(report(outcomes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
