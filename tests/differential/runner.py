"""The API server differential suite: requests and kube-apiserver's answers, replayed.

``apiserver_cases.yaml`` holds request/expected pairs grouped by category. Each case runs in a
namespace of its own (``$ns`` in paths and bodies); its steps are sent in order and the steps
with an ``expect`` are compared: the status code, the Status ``reason``, fields by JSON pointer
(``fields``: equal, ``absent``, ``present``, ``same``: equal to another field of the answer,
``contains``: a list holding an item with these fields), response ``headers`` by name, and a
substring of the ``Warning`` header. The answer of every step is kept, so a later step may name
``$uidN``, ``$rvN`` or ``$continueN`` (the uid, the resourceVersion or the continue token
in step N's answer); ``${big:N}`` is a string of N characters (for the size limits).

A case's ``note`` says what is surprising about the recorded answer (kept across
re-recordings, which drop YAML comments). A step's ``sleep`` waits that many seconds first.
A step with ``watch: {events: N, timeout: S}`` (or a path with ``watch=1``: one event, two
seconds) is a watch: its answer's body is the list of the first N events (``{type, object}``)
that arrived within S seconds.

Run it against the embedded server (the default), or against any server to compare or to
re-record the expectations from a real kube-apiserver (``record.sh`` starts one)::

    python -m tests.differential.runner                      # embedded server, prints the report
    python -m tests.differential.runner --server URL --token T
    python -m tests.differential.runner --server URL --token T --record --source TEXT
    python -m tests.differential.runner --write-known-differences   # after a recording

``--record`` keeps each case's checks but replaces the expected values with the server's, and
``source`` says what was recorded. Values that differ between runs of the same server (uids,
resourceVersions, timestamps, allocated IPs and ports, continue tokens) are never recorded as
values: a ``fields`` check on one becomes a ``present`` check, the case's namespace is written
back as ``$ns`` and a uid seen in an earlier step as ``$uidN``. Checks the recorder cannot
rewrite (``same``, ``contains``, ``warning``) are verified against the recording and printed
when they fail, to be fixed by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import re
import ssl
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

CASES = Path(__file__).with_name("apiserver_cases.yaml")
_MISSING = object()

#: The leading comment ``--record`` writes back (YAML loses comments on a round trip).
HEADER = """\
# The API server differential suite: requests and kube-apiserver 1.32's answers to them.
# Runner and format: runner.py (python -m tests.differential.runner). Re-record with
# tests/differential/record.sh (a real kube-apiserver + etcd + kube-controller-manager), which
# rewrites the expected values and the `source` line; the requests and the checks are written
# by hand. known_differences: the cases the embedded server answers differently today (CI
# fails on any other difference, and asks for a case to leave the list once it matches).
"""

#: Keys whose values change from run to run of the same server.
VOLATILE_KEYS = frozenset(
    {
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "deletionTimestamp",
        "continue",
        "clusterIP",
        "clusterIPs",
        "nodePort",
        "time",
        "lastTransitionTime",
        "lastUpdateTime",
        "startTime",
        "managedFields",
        "selfLink",
        "controller-uid",
        "batch.kubernetes.io/controller-uid",
        "gitCommit",
        "buildDate",
        "goVersion",
    }
)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


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
    #: Requests sent, the namespace's creation included.
    requests: int = 0

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


def _step_value(answers: list[Answer], index: int, ptr: str, what: str) -> str:
    body = answers[index].body
    if isinstance(body, list) and body:  # a watch: the last event's object
        body = body[-1].get("object") if isinstance(body[-1], dict) else None
    found = pointer(body, ptr)
    return str(found) if found is not _MISSING else f"missing-{what}"


def _substitute(value: Any, ns: str, answers: list[Answer]) -> Any:
    text = json.dumps(value).replace("$ns", ns)
    text = re.sub(r"\$\{big:(\d+)\}", lambda m: "x" * int(m[1]), text)
    text = re.sub(
        r"\$uid(\d+)", lambda m: _step_value(answers, int(m[1]), "/metadata/uid", "uid"), text
    )
    text = re.sub(
        r"\$rv(\d+)",
        lambda m: _step_value(answers, int(m[1]), "/metadata/resourceVersion", "rv"),
        text,
    )
    text = re.sub(
        r"\$continue(\d+)",
        lambda m: _step_value(answers, int(m[1]), "/metadata/continue", "continue"),
        text,
    )
    return json.loads(text)


def _header(answer: Answer, name: str) -> str | None:
    for key, value in answer.headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _holds(item: Any, wanted: Any) -> bool:
    """Whether ``item`` has ``wanted``'s keys with its values (mappings nest; lists are equal)."""
    if isinstance(wanted, dict):
        return isinstance(item, dict) and all(
            k in item and _holds(item[k], v) for k, v in wanted.items()
        )
    return bool(item == wanted)


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
        if not isinstance(items, list) or not any(_holds(i, wanted) for i in items):
            diffs.append(f"{ptr} has no item with {wanted!r}")
    for name, want in (expect.get("headers") or {}).items():
        got = _header(answer, name)
        if got != want:
            diffs.append(f"header {name} {got!r}, expected {want!r}")
    if "warning" in expect:
        header = _header(answer, "Warning") or ""
        if expect["warning"] not in header:
            diffs.append(f"Warning header {header!r}, expected it to contain {expect['warning']!r}")
    return diffs


def _is_volatile(ptr: str, value: Any) -> bool:
    if isinstance(value, str) and re.fullmatch(r"\$uid\d+", value):
        return False  # an earlier step's uid, substituted again on every run
    if value in ("None", ["None"]):
        return False  # a headless Service's clusterIP: nothing was allocated
    last = ptr.rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~")
    if last in VOLATILE_KEYS:
        return True
    return isinstance(value, str) and bool(_UUID.search(value))


def _normalise(value: Any, ns: str, uids: dict[str, str]) -> Any:
    """``value`` with the case's namespace as ``$ns`` and known uids as ``$uidN``."""
    if isinstance(value, str):
        for uid, name in uids.items():
            value = value.replace(uid, name)
        return value.replace(ns, "$ns") if ns else value
    if isinstance(value, list):
        return [_normalise(v, ns, uids) for v in value]
    if isinstance(value, dict):
        return {_normalise(k, ns, uids): _normalise(v, ns, uids) for k, v in value.items()}
    return value


def record(
    expect: dict[str, Any],
    answer: Answer,
    ns: str = "",
    uids: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``expect`` with its values replaced by what ``answer`` says (for ``--record``)."""
    uids = uids or {}
    out = dict(expect)
    if "code" in out:
        out["code"] = answer.code
    body = answer.body
    if "reason" in out:
        out["reason"] = body.get("reason") if isinstance(body, dict) else None
    present = list(out.get("present") or [])
    absent = list(out.get("absent") or [])
    if "fields" in out:
        fields: dict[str, Any] = {}
        for ptr in out["fields"]:
            value = pointer(body, ptr)
            if value is _MISSING:
                absent.append(ptr)
                continue
            value = _normalise(value, ns, uids)
            if _is_volatile(ptr, value):
                present.append(ptr)
            else:
                fields[ptr] = value
        out["fields"] = fields
        if not fields:
            del out["fields"]
    # absent/present: whichever the server says.
    now_present = [p for p in present + absent if pointer(body, p) is not _MISSING]
    now_absent = [p for p in present + absent if pointer(body, p) is _MISSING]
    for key, ptrs in (("present", now_present), ("absent", now_absent)):
        ptrs = list(dict.fromkeys(ptrs))
        if ptrs:
            out[key] = ptrs
        else:
            out.pop(key, None)
    if "headers" in out:
        out["headers"] = {name: _header(answer, name) for name in out["headers"]}
    return out


async def _read_watch(resp: aiohttp.ClientResponse, events: int, within: float) -> list[Any]:
    got: list[Any] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while len(got) < events:
        left = deadline - loop.time()
        if left <= 0:
            break
        try:
            line = await asyncio.wait_for(resp.content.readline(), left)
        except TimeoutError:
            break
        if not line:
            break
        if line.strip():
            try:
                got.append(json.loads(line))
            except ValueError:
                got.append(line.decode(errors="replace"))
    return got


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
    # aiohttp warns about large raw bodies (the size-limit cases): a stream it reads in chunks.
    payload = io.BytesIO(data) if data is not None and len(data) > 2**20 else data
    async with session.request(step["method"], url, data=payload, headers=headers) as resp:
        joined: dict[str, str] = {}
        for key, value in resp.headers.items():
            joined[key] = f"{joined[key]}, {value}" if key in joined else value
        watching = "watch" in step or re.search(r"[?&]watch=(1|true)(&|$)", step["path"])
        if watching and resp.status == 200:
            spec = step.get("watch") or {"events": 1, "timeout": 2}
            events = await _read_watch(resp, int(spec["events"]), float(spec["timeout"]))
            return Answer(resp.status, events, joined)
        raw = await resp.read()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode(errors="replace")
            if resp.content_type == "application/yaml":
                body = yaml.safe_load(raw)
        return Answer(resp.status, body, joined)


async def _wait_for_default_service_account(
    session: aiohttp.ClientSession, base: str, ns: str
) -> None:
    # kube-controller-manager creates it; kube-apiserver's ServiceAccount admission refuses
    # pods until it exists. The embedded server needs no wait.
    for _ in range(100):
        async with session.get(f"{base}/api/v1/namespaces/{ns}/serviceaccounts/default") as r:
            if r.status == 200:
                return
        await asyncio.sleep(0.1)


async def run(
    base: str,
    token: str | None = None,
    *,
    record_into: dict[str, Any] | None = None,
    prefix: str = "diff",
    wait_for_service_account: bool = False,
    only: str | None = None,
) -> list[Outcome]:
    data = load() if record_into is None else record_into
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    outcomes: list[Outcome] = []
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the recording server's self-signed serving certificate
    connector = aiohttp.TCPConnector(ssl=ctx if base.startswith("https") else None)
    timeout = aiohttp.ClientTimeout(total=60)  # nothing hangs the suite (watches end sooner)
    async with aiohttp.ClientSession(
        headers=headers, connector=connector, timeout=timeout
    ) as session:
        for index, case in enumerate(data["cases"]):
            if only and not re.search(only, case["name"]):
                continue
            ns = f"{prefix}-{index}"
            outcome = Outcome(case["name"], case.get("category", ""))
            if case.get("namespace", True):
                ns_step = {
                    "method": "POST",
                    "path": "/api/v1/namespaces",
                    "body": {"metadata": {"name": ns}},
                }
                await send(session, base, ns_step, ns, [])
                outcome.requests += 1
                if wait_for_service_account:
                    await _wait_for_default_service_account(session, base, ns)
            answers: list[Answer] = []
            uids: dict[str, str] = {}
            for number, step in enumerate(case["steps"]):
                if step.get("sleep"):
                    await asyncio.sleep(float(step["sleep"]))
                answer = await send(session, base, step, ns, answers)
                outcome.requests += 1
                answers.append(answer)
                if "expect" in step:
                    if record_into is not None:
                        step["expect"] = record(step["expect"], answer, ns, uids)
                    expect = _substitute(step["expect"], ns, answers)
                    for diff in compare(expect, answer):
                        outcome.differences.append(f"step {number}: {diff}")
                uid = pointer(answer.body, "/metadata/uid")
                if isinstance(uid, str):
                    uids.setdefault(uid, f"$uid{number}")
            outcomes.append(outcome)
    return outcomes


def report(outcomes: list[Outcome]) -> str:
    matched = sum(o.matched for o in outcomes)
    requests = sum(o.requests for o in outcomes)
    lines = [
        f"{matched} of {len(outcomes)} cases match ({100 * matched / len(outcomes):.1f} %),"
        f" {requests} requests"
    ]
    by_category: dict[str, list[Outcome]] = {}
    for o in outcomes:
        by_category.setdefault(o.category, []).append(o)
    for category, group in by_category.items():
        lines.append(f"  {category}: {sum(o.matched for o in group)}/{len(group)}")
    for o in outcomes:
        for diff in o.differences:
            lines.append(f"DIFF {o.category}/{o.name}: {diff}")
    return "\n".join(lines)


class _Dumper(yaml.SafeDumper):
    """Writes the templates back under their own anchor names (``*deployment``)."""

    names: dict[int, str] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._node_names: dict[int, str] = {}

    def represent_data(self, data: Any) -> yaml.Node:
        node = super().represent_data(data)
        if id(data) in self.names:
            self._node_names[id(node)] = self.names[id(data)]
        return node

    def generate_anchor(self, node: yaml.Node) -> str:
        return self._node_names.get(id(node)) or str(super().generate_anchor(node))

    def represent_dict(self, data: Any) -> yaml.Node:
        node = self.represent_mapping("tag:yaml.org,2002:map", data)
        node.flow_style = _short(data)
        return node

    def represent_list(self, data: Any) -> yaml.Node:
        node = self.represent_sequence("tag:yaml.org,2002:seq", data)
        node.flow_style = _short(data)
        return node


def _short(data: Any) -> bool:
    """Small collections go on one line (``{name: c, image: nginx}``), the rest in blocks."""
    return len(json.dumps(data)) <= 72


_Dumper.add_representer(dict, _Dumper.represent_dict)
_Dumper.add_representer(list, _Dumper.represent_list)


class _BlockList(list[Any]):
    """A list written one item a line (``known_differences``: one name per line in diffs)."""


_Dumper.add_representer(
    _BlockList, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=False)
)


def dump(data: dict[str, Any]) -> str:
    """The cases file as ``--record`` writes it: header comment, anchors kept."""
    _Dumper.names = {id(v): k for k, v in (data.get("templates") or {}).items()}
    data = dict(data)
    data["known_differences"] = _BlockList(data.get("known_differences") or [])
    text = yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=None,
    )
    return HEADER + text


async def _embedded(only: str | None = None) -> list[Outcome]:
    from podscaler.sim.apiserver.server import ApiServer

    async with ApiServer() as server:
        return await run(server.url, server.token, only=only)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", help="base URL of the server (default: an embedded one)")
    parser.add_argument("--token", help="bearer token for --server")
    parser.add_argument("--record", action="store_true", help="rewrite the expectations")
    parser.add_argument("--source", default="", help="with --record: what was recorded")
    parser.add_argument("--prefix", default="diff", help="prefix of the cases' namespaces")
    parser.add_argument("--only", help="run only the cases whose name matches this regex")
    parser.add_argument(
        "--write-known-differences",
        action="store_true",
        help="run the embedded server and write the cases it answers differently into the file",
    )
    parser.add_argument(
        "--wait-for-service-account",
        action="store_true",
        help="wait for each namespace's default ServiceAccount (kube-controller-manager's)",
    )
    args = parser.parse_args(argv)
    options: dict[str, Any] = {
        "prefix": args.prefix,
        "wait_for_service_account": args.wait_for_service_account,
        "only": args.only,
    }
    if args.record:
        if not args.server:
            parser.error("--record needs --server (a real kube-apiserver)")
        data = load()
        outcomes = asyncio.run(run(args.server, args.token, record_into=data, **options))
        data["source"] = args.source or f"recorded against {args.server}"
        CASES.write_text(dump(data))
    elif args.server:
        outcomes = asyncio.run(run(args.server, args.token, **options))
    else:
        if args.write_known_differences and args.only:
            parser.error("--write-known-differences runs every case: drop --only")
        outcomes = asyncio.run(_embedded(args.only))
        if args.write_known_differences:
            data = load()
            data["known_differences"] = [o.name for o in outcomes if not o.matched]
            CASES.write_text(dump(data))
    print(report(outcomes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
