"""resourceVersion semantics of reads: which version a LIST or WATCH is served at, and the
answers kube-apiserver gives when that version is not there.

* ``resourceVersion`` unset: the latest state.
* ``resourceVersion=0``: "any version" — upstream serves it from the watch cache, which
  ignores ``limit`` (the whole list comes back in one page).
* ``resourceVersion=N`` (``resourceVersionMatch`` unset or ``NotOlderThan``): the latest state,
  provided the server has reached N. One that has not answers ``504 Timeout`` "Too large
  resource version" with the cause ``ResourceVersionTooLarge`` — at once when the request
  pages (``limit``: upstream reads etcd), after waiting up to 3 s for the version otherwise
  (upstream's watch cache waits that long for itself to catch up).
* ``resourceVersionMatch=Exact``: the state at exactly N, rebuilt from the history; a version
  older than the retained history (compacted) is ``410 Expired``.
* ``continue``: the next page of the state at the first page's version (etcd serves pages
  from one snapshot); a token older than the history is 410 Expired.
* a WATCH from N resumes after N; from a compacted N it is one ``ERROR`` event carrying
  410 Expired. A plain watch from an N the server has not reached is accepted and stays
  silent until the server passes N, as upstream's watch cache does (verified against
  kube-apiserver's cacher: its "RV+1" case "remained established"); only a watch that asks
  for initial events (``sendInitialEvents=true``) from such an N ends with the 504 above.
  That is why a client must not trust a resumed watch after a server restart — see
  ``podscaler.kube.informers`` for how the operator's informers prove continuity instead.

Invalid combinations of these options are refused as upstream's ``ValidateListOptions``
refuses them (422 ``ListOptions.meta.k8s.io``).
"""

from __future__ import annotations

import asyncio
import heapq
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from podscaler.sim.apiserver.errors import (
    BadRequest,
    Gone,
    UnknownError,
    invalid,
    too_large_resource_version,
)
from podscaler.sim.apiserver.resources import ResourceType
from podscaler.sim.apiserver.store import Entry, Store

__all__ = [
    "EXACT",
    "NOT_OLDER_THAN",
    "TOO_LARGE_WAIT_SECONDS",
    "ListOptions",
    "entries_at",
    "list_options",
    "parse",
    "parse_watch",
    "reach",
    "watch_options_problems",
]

EXACT: Final = "Exact"
NOT_OLDER_THAN: Final = "NotOlderThan"
#: How long a read waits for the server to reach its resourceVersion (upstream's
#: ``blockTimeout``), and the retry delay its 504 suggests.
TOO_LARGE_WAIT_SECONDS: Final = 3.0
_RETRY_SECONDS: Final = 1
_POLL_SECONDS: Final = 0.05

_LIST_TOO_OLD: Final = "The resourceVersion for the provided list is too old."
_CONTINUE_TOO_OLD: Final = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter."
)


def parse(text: str) -> int:
    """A resourceVersion query value (400 when it is not one this server could have issued)."""
    try:
        value = int(text)
    except ValueError as exc:
        raise BadRequest(f"invalid resource version: {text[:80]!r}") from exc
    if value < 0:
        raise BadRequest(f"invalid resource version: {text[:80]!r}")
    return value


def parse_watch(text: str) -> int:
    """A watch's resourceVersion. One that is not a number is a 500 without a reason, not the
    list's 400: kube-apiserver's watch cache passes its storage layer's parse error through."""
    try:
        return parse(text)
    except BadRequest as exc:
        quoted = json.dumps(text)
        raise UnknownError(
            f"resourceVersion: Invalid value: {quoted}: strconv.ParseUint: parsing {quoted}: "
            "invalid syntax"
        ) from exc


def _forbidden(field: str, message: str) -> tuple[str, str, str]:
    return (field, "FieldValueForbidden", f"Forbidden: {message}")


def _not_supported(field: str, value: str, allowed: Iterable[str]) -> tuple[str, str, str]:
    listed = ", ".join(f'"{a}"' for a in allowed)
    return (
        field,
        "FieldValueNotSupported",
        f'Unsupported value: "{value}": supported values: {listed}',
    )


def _refuse(causes: list[tuple[str, str, str]]) -> None:
    if causes:
        raise invalid("ListOptions", "", causes, group="meta.k8s.io")


@dataclass(frozen=True, slots=True)
class ListOptions:
    """What a LIST asks for, validated: ``at`` is the version whose state to serve (None: the
    latest), ``minimum`` a version the server must have reached first."""

    limit: int
    at: int | None
    minimum: int | None
    block: bool
    after: tuple[str, str] | None
    continued: bool


def list_options(
    query: Mapping[str, str], limit: int, continued: tuple[int, Any] | None
) -> ListOptions:
    """Validate and interpret a LIST's version options; ``continued`` is the decoded continue
    token (version, last key) when there is one."""
    rv_text = query.get("resourceVersion") or ""
    match = query.get("resourceVersionMatch") or ""
    causes: list[tuple[str, str, str]] = []
    if match:
        if not rv_text:
            causes.append(
                _forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden unless resourceVersion is provided",
                )
            )
        if continued is not None:
            causes.append(
                _forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden when continue is provided",
                )
            )
        if match not in (EXACT, NOT_OLDER_THAN):
            causes.append(
                _not_supported("resourceVersionMatch", match, (EXACT, NOT_OLDER_THAN, ""))
            )
        if match == EXACT and rv_text == "0":
            causes.append(
                _forbidden(
                    "resourceVersionMatch",
                    'resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
                )
            )
    if "sendInitialEvents" in query:
        causes.append(_forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"))
    _refuse(causes)
    if continued is not None:
        token_rv, after = continued
        return ListOptions(limit, token_rv if token_rv >= 0 else None, None, False, after, True)
    if rv_text == "0":
        return ListOptions(0, None, None, False, None, False)
    if not rv_text:
        return ListOptions(limit, None, None, False, None, False)
    wanted = parse(rv_text)
    if match == EXACT:
        return ListOptions(limit, wanted, wanted, False, None, False)
    return ListOptions(limit, None, wanted, limit <= 0, None, False)


def watch_options_problems(query: Mapping[str, str]) -> None:
    """Refuse a WATCH's invalid version options (upstream's ``validateWatchOptions``)."""
    match = query.get("resourceVersionMatch") or ""
    initial = "sendInitialEvents" in query
    causes: list[tuple[str, str, str]] = []
    if initial and match != NOT_OLDER_THAN:
        causes.append(
            _forbidden(
                "resourceVersionMatch",
                f"sendInitialEvents requires setting resourceVersionMatch to {NOT_OLDER_THAN}",
            )
        )
    if match:
        if not initial:
            causes.append(
                _forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden for watch unless sendInitialEvents is "
                    "provided",
                )
            )
        if match != NOT_OLDER_THAN:
            causes.append(_not_supported("resourceVersionMatch", match, (NOT_OLDER_THAN,)))
        if query.get("continue"):
            causes.append(
                _forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden when continue is provided",
                )
            )
    _refuse(causes)


async def reach(store: Store, wanted: int, *, block: bool) -> None:
    """Return once the store has reached ``wanted``; 504 "Too large resource version" when it
    has not (at once, or after :data:`TOO_LARGE_WAIT_SECONDS` when ``block``)."""
    if store.resource_version >= wanted:
        return
    if block:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TOO_LARGE_WAIT_SECONDS
        # Polled: this is a rare path (a client ahead of the server), and a wake-up on every
        # write would put a cost on the store's hottest path for it.
        while store.resource_version < wanted and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(_POLL_SECONDS)
        if store.resource_version >= wanted:
            return
    raise too_large_resource_version(wanted, store.resource_version, _RETRY_SECONDS if block else 0)


def entries_at(
    store: Store,
    rt: ResourceType,
    current: Iterable[Entry],
    at: int,
    *,
    namespace: str | None,
    after: tuple[str, str] | None,
    continued: bool,
) -> Iterator[Entry]:
    """The entries of ``rt`` as they were at version ``at``, in key order, given ``current``
    (the entries now, in key order, already narrowed to ``namespace`` and ``after``)."""
    if at < store.history_start(rt):
        raise Gone(_CONTINUE_TOO_OLD if continued else _LIST_TOO_OLD)
    if at >= store.resource_version:
        return iter(current)
    before = store.changes_since(rt, at)
    if not before:
        return iter(current)

    def wanted(key: tuple[str, str]) -> bool:
        if namespace and rt.namespaced and key[0] != namespace:
            return False
        return after is None or key > after

    unchanged = (e for e in current if (e.namespace, e.name) not in before)
    restored = sorted(
        (key, Entry(obj, int(obj["metadata"].get("resourceVersion") or 0)))
        for key, obj in before.items()
        if obj is not None and wanted(key)
    )
    merged = heapq.merge(
        ((e.namespace, e.name, e) for e in unchanged),
        ((key[0], key[1], entry) for key, entry in restored),
        key=lambda t: (t[0], t[1]),
    )
    return (t[2] for t in merged)
