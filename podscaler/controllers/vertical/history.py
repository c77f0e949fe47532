"""Container usage history from the user's Prometheus, through prometheus-api-client.

What is read, with cAdvisor's and kube-state-metrics' label conventions:

- CPU: ``rate(container_cpu_usage_seconds_total[W])`` per (namespace, pod, container), cores;
- memory: ``container_memory_working_set_bytes`` per (namespace, pod, container), bytes;
- who owns each pod (``kube_pod_owner``, and ``kube_replicaset_owner`` / ``kube_job_owner`` one
  level up, so ReplicaSet pods belong to their Deployment and Job pods to their CronJob), the
  pods' labels (``kube_pod_labels``, for ``--selector``) and the containers' requests and limits
  (``kube_pod_container_resource_requests`` / ``_limits``). Without kube-state-metrics, pods
  are grouped by their names' controller suffixes and requests are unknown.

Range queries are cut into pieces of at most :data:`MAX_POINTS` steps (Prometheus refuses more
than 11,000 points per series), and each piece runs on a worker thread because the client is
synchronous (requests); several run at once. Nothing here formats output or decides anything.
"""

from __future__ import annotations

import asyncio
import re
import time
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, TypeAlias
from urllib.parse import urlsplit, urlunsplit

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException

from podscaler.api.selectors import LabelSelector, Requirement

__all__ = [
    "MAX_POINTS",
    "ContainerHistory",
    "HistoryError",
    "Inventory",
    "PrometheusHistory",
    "PrometheusSettings",
    "Samples",
    "Workload",
    "fetch_history",
    "shown_url",
    "workload_of_pod_name",
]

#: Steps per range query: a day at one-minute resolution, well under Prometheus' 11,000.
MAX_POINTS: Final = 1440
#: Containers that are not the user's: the pause container and the pod-level cgroup.
_EXCLUDED: Final = 'container!="", container!="POD", pod!=""'

ProgressFn = Callable[[str], None]


def shown_url(url: str) -> str:
    """*url* fit for a message or a log line: credentials in it (``user:pass@``) removed."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


class HistoryError(RuntimeError):
    """Prometheus could not be read; the message says what was asked and what went wrong."""


@dataclass(frozen=True)
class PrometheusSettings:
    """Where Prometheus is and how to authenticate. The token and password never appear in
    messages (``repr`` hides them)."""

    url: str
    bearer_token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    verify_tls: bool = True
    ca_file: str | None = None
    timeout_seconds: float = 60.0


@dataclass(frozen=True, order=True)
class Workload:
    namespace: str
    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"


def _doubles() -> array[float]:
    return array("d")


@dataclass
class Samples:
    """Instants (Unix seconds) and values in time order, in two arrays of doubles: 16 bytes a
    sample and nothing for the garbage collector to walk — millions of (time, value) tuples
    made every collection slower than the queries themselves."""

    times: array[float] = field(default_factory=_doubles)
    values: array[float] = field(default_factory=_doubles)

    def __len__(self) -> int:
        return len(self.times)

    def pairs(self) -> Iterator[tuple[float, float]]:
        return zip(self.times, self.values, strict=True)

    @classmethod
    def of(cls, pairs: Iterable[tuple[float, float]]) -> Samples:
        samples = cls()
        for at, value in pairs:
            samples.times.append(at)
            samples.values.append(value)
        return samples


@dataclass
class ContainerHistory:
    """Samples of one container of one pod: CPU in cores, memory in bytes."""

    cpu_cores: Samples = field(default_factory=Samples)
    memory_bytes: Samples = field(default_factory=Samples)

    @classmethod
    def of(
        cls, cpu: Iterable[tuple[float, float]], memory: Iterable[tuple[float, float]]
    ) -> ContainerHistory:
        return cls(Samples.of(cpu), Samples.of(memory))


@dataclass
class Inventory:
    """What kube-state-metrics says about the pods seen (empty without it)."""

    owners: dict[tuple[str, str], Workload] = field(default_factory=dict)
    pod_labels: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    #: (namespace, pod, container) → {"cpu": cores, "memory": bytes}.
    requests: dict[tuple[str, str, str], dict[str, float]] = field(default_factory=dict)
    limits: dict[tuple[str, str, str], dict[str, float]] = field(default_factory=dict)
    has_kube_state_metrics: bool = False


class PrometheusHistory:
    """A synchronous reader (one ``PrometheusConnect``); call it from worker threads."""

    def __init__(self, settings: PrometheusSettings) -> None:
        session = requests.Session()
        session.verify = settings.ca_file or settings.verify_tls
        headers = (
            {"Authorization": f"Bearer {settings.bearer_token}"} if settings.bearer_token else None
        )
        auth = (settings.username, settings.password or "") if settings.username else None
        self._client = PrometheusConnect(
            url=settings.url.rstrip("/"),
            headers=headers,
            auth=auth,
            session=session,
            timeout=int(settings.timeout_seconds),
        )
        #: For messages: the URL without any user:password part.
        self.url = shown_url(settings.url)
        #: Seconds spent waiting for Prometheus, summed over threads.
        self.seconds_waiting = 0.0
        self.queries = 0

    def _call(self, what: str, call: Callable[[], Any]) -> list[dict[str, Any]]:
        started = time.perf_counter()
        try:
            result = call()
        except PrometheusApiClientException as error:
            raise HistoryError(f"Prometheus at {self.url} refused {what}: {error}") from error
        except requests.RequestException as error:
            raise HistoryError(
                f"Prometheus at {self.url} is unreachable ({what}): {error}"
            ) from error
        finally:
            self.seconds_waiting += time.perf_counter() - started
            self.queries += 1
        return list(result or [])

    def range(
        self, query: str, start: float, end: float, step_seconds: int
    ) -> list[dict[str, Any]]:
        return self._call(
            f"query_range {query!r}",
            lambda: self._client.custom_query_range(
                query,
                datetime.fromtimestamp(start, tz=UTC),
                datetime.fromtimestamp(end, tz=UTC),
                f"{step_seconds}s",
            ),
        )

    def instant(self, query: str, at: float) -> list[dict[str, Any]]:
        return self._call(
            f"query {query!r}",
            lambda: self._client.custom_query(query, params={"time": f"{at:.3f}"}),
        )


def _matchers(namespaces: Sequence[str]) -> str:
    if not namespaces:
        return _EXCLUDED
    pattern = "|".join(re.escape(namespace) for namespace in namespaces)
    return f'namespace=~"{pattern}", {_EXCLUDED}'


def _ns_matcher(namespaces: Sequence[str]) -> str:
    if not namespaces:
        return ""
    return 'namespace=~"' + "|".join(re.escape(namespace) for namespace in namespaces) + '"'


def cpu_query(namespaces: Sequence[str], rate_window: str) -> str:
    return (
        "max by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{"
        f"{_matchers(namespaces)}}}[{rate_window}]))"
    )


def memory_query(namespaces: Sequence[str]) -> str:
    return (
        "max by (namespace, pod, container) (container_memory_working_set_bytes{"
        f"{_matchers(namespaces)}}})"
    )


def chunks(start: float, end: float, step_seconds: int) -> list[tuple[float, float]]:
    """``[start, end]`` as consecutive ranges of at most :data:`MAX_POINTS` steps, no overlap."""
    pieces = []
    cursor = start
    span = step_seconds * (MAX_POINTS - 1)
    while cursor <= end:
        stop = min(cursor + span, end)
        pieces.append((cursor, stop))
        cursor = stop + step_seconds
    return pieces


#: Kubernetes' generated names use an alphabet without vowels (``rand.SafeEncodeString``).
_SAFE: Final = "[bcdfghjklmnpqrstvwxz2456789]"
_HASHED_POD: Final = re.compile(rf"^(?P<name>.+)-{_SAFE}{{6,10}}-{_SAFE}{{5}}$")
_ORDINAL_POD: Final = re.compile(r"^(?P<name>.+)-\d+$")
_SUFFIXED_POD: Final = re.compile(rf"^(?P<name>.+)-{_SAFE}{{5}}$")


def workload_of_pod_name(namespace: str, pod: str) -> Workload:
    """A best guess from the pod's name alone, for clusters without kube-state-metrics:
    ``web-5d9c7b8f6-x2x7k`` is Deployment ``web``, ``db-0`` StatefulSet ``db``, ``agent-x2x7k``
    DaemonSet (or Job) ``agent``; anything else is the pod itself."""
    for pattern, kind in (
        (_HASHED_POD, "Deployment"),
        (_ORDINAL_POD, "StatefulSet"),
        (_SUFFIXED_POD, "DaemonSet"),
    ):
        match = pattern.match(pod)
        if match:
            return Workload(namespace, kind, match["name"])
    return Workload(namespace, "Pod", pod)


def _selector_for_ksm(selector: LabelSelector) -> LabelSelector:
    """kube-state-metrics writes label ``app.kubernetes.io/name`` as ``app_kubernetes_io_name``."""
    return LabelSelector(
        tuple(
            Requirement.build(re.sub(r"[^A-Za-z0-9_]", "_", r.key), r.operator, r.values)
            for r in selector.requirements
        )
    )


def _inventory(
    source: PrometheusHistory, namespaces: Sequence[str], start: float, end: float
) -> Inventory:
    lookback = f"{max(int(end - start), 60)}s"
    ns = _ns_matcher(namespaces)
    inventory = Inventory()

    def latest(metric: str, by: str, extra: str = "") -> list[dict[str, Any]]:
        matchers = ", ".join(part for part in (ns, extra) if part)
        query = f"max by ({by}) (last_over_time({metric}{{{matchers}}}[{lookback}]))"
        return source.instant(query, end)

    up_one_level: dict[tuple[str, str, str], tuple[str, str]] = {}
    for metric, kind, label in (
        ("kube_replicaset_owner", "ReplicaSet", "replicaset"),
        ("kube_job_owner", "Job", "job_name"),
    ):
        for series in latest(metric, f"namespace, {label}, owner_kind, owner_name"):
            labels = series["metric"]
            if labels.get("owner_kind") and labels.get("owner_name") not in (None, "<none>"):
                key = (labels.get("namespace", ""), kind, labels.get(label, ""))
                up_one_level[key] = (labels["owner_kind"], labels["owner_name"])
    for series in latest("kube_pod_owner", "namespace, pod, owner_kind, owner_name"):
        labels = series["metric"]
        namespace, pod = labels.get("namespace", ""), labels.get("pod", "")
        kind, name = labels.get("owner_kind", ""), labels.get("owner_name", "")
        if not kind or name in ("", "<none>"):
            kind, name = "Pod", pod
        kind, name = up_one_level.get((namespace, kind, name), (kind, name))
        inventory.owners[(namespace, pod)] = Workload(namespace, kind, name)
    inventory.has_kube_state_metrics = bool(inventory.owners)
    for series in source.instant(f"last_over_time(kube_pod_labels{{{ns}}}[{lookback}])", end):
        labels = series["metric"]
        pod_key = (labels.get("namespace", ""), labels.get("pod", ""))
        inventory.pod_labels[pod_key] = {
            name[len("label_") :]: value
            for name, value in labels.items()
            if name.startswith("label_")
        }
    for metric, target in (
        ("kube_pod_container_resource_requests", inventory.requests),
        ("kube_pod_container_resource_limits", inventory.limits),
    ):
        for series in latest(
            metric, "namespace, pod, container, resource", 'resource=~"cpu|memory"'
        ):
            labels = series["metric"]
            key = (labels.get("namespace", ""), labels.get("pod", ""), labels.get("container", ""))
            target.setdefault(key, {})[labels.get("resource", "")] = float(series["value"][1])
    return inventory


#: Pieces of a series as they arrive: (piece index, times, values), joined in order at the end.
_Pieces: TypeAlias = "dict[tuple[str, str, str], list[tuple[int, array[float], array[float]]]]"


def _add_series(pieces: _Pieces, index: int, result: Iterable[Mapping[str, Any]]) -> int:
    count = 0
    for series in result:
        labels = series["metric"]
        key = (labels.get("namespace", ""), labels.get("pod", ""), labels.get("container", ""))
        values = series.get("values") or []
        # Prometheus sends times as JSON numbers and values as strings.
        times = array("d", [at for at, _ in values])
        numbers = array("d", [float(value) for _, value in values])
        pieces.setdefault(key, []).append((index, times, numbers))
        count += len(values)
    return count


def _joined(parts: list[tuple[int, array[float], array[float]]]) -> Samples:
    samples = Samples()
    for _, times, values in sorted(parts, key=lambda part: part[0]):
        samples.times.extend(times)
        samples.values.extend(values)
    return samples


async def fetch_history(
    settings: PrometheusSettings,
    *,
    namespaces: Sequence[str],
    start: float,
    end: float,
    step_seconds: int = 60,
    rate_window: str = "5m",
    selector: LabelSelector | None = None,
    concurrency: int = 2,
    progress: ProgressFn | None = None,
) -> tuple[dict[tuple[str, str, str], ContainerHistory], Inventory, PrometheusHistory]:
    """Every container's samples between *start* and *end* (Unix seconds), and the inventory.

    With a *selector*, only pods whose kube-state-metrics labels match are kept (a selector
    without kube-state-metrics is an error: there would be no labels to match).
    """
    source = PrometheusHistory(settings)
    inventory = await asyncio.to_thread(_inventory, source, namespaces, start, end)
    if selector is not None and not selector.is_empty and not inventory.pod_labels:
        raise HistoryError(
            "--selector needs pod labels from kube-state-metrics (kube_pod_labels), and "
            f"Prometheus at {shown_url(settings.url)} has none for these namespaces"
        )
    pieces = chunks(start, end, step_seconds)
    jobs = [(cpu_query(namespaces, rate_window), True, i, piece) for i, piece in enumerate(pieces)]
    jobs += [(memory_query(namespaces), False, i, piece) for i, piece in enumerate(pieces)]
    cpu_pieces: _Pieces = {}
    memory_pieces: _Pieces = {}
    gate = asyncio.Semaphore(max(1, concurrency))
    done = 0
    samples = 0

    async def run(query: str, cpu: bool, index: int, piece: tuple[float, float]) -> None:
        nonlocal done, samples
        async with gate:
            result = await asyncio.to_thread(source.range, query, piece[0], piece[1], step_seconds)
        samples += _add_series(cpu_pieces if cpu else memory_pieces, index, result)
        done += 1
        if progress is not None:
            day = datetime.fromtimestamp(piece[0], tz=UTC).strftime("%Y-%m-%d %H:%M")
            what = "cpu" if cpu else "memory"
            progress(
                f"fetched {done}/{len(jobs)} ranges ({what} from {day} UTC, {samples:,} samples)"
            )

    await asyncio.gather(*(run(*job) for job in jobs))
    found = {
        key: ContainerHistory(_joined(cpu_pieces.get(key, [])), _joined(memory_pieces.get(key, [])))
        for key in cpu_pieces.keys() | memory_pieces.keys()
    }
    if selector is not None and not selector.is_empty:
        wanted = _selector_for_ksm(selector)
        found = {
            key: history
            for key, history in found.items()
            if wanted.matches(inventory.pod_labels.get((key[0], key[1]), {}))
        }
    return found, inventory, source


def group_by_workload(
    found: Mapping[tuple[str, str, str], ContainerHistory], inventory: Inventory
) -> dict[Workload, dict[str, dict[str, ContainerHistory]]]:
    """workload → container name → pod → history."""
    grouped: dict[Workload, dict[str, dict[str, ContainerHistory]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    for (namespace, pod, container), history in found.items():
        workload = inventory.owners.get((namespace, pod)) or workload_of_pod_name(namespace, pod)
        grouped[workload][container][pod] = history
    return {workload: dict(containers) for workload, containers in grouped.items()}
