"""EC2 Auto Scaling groups as node groups: the AWS provider, on aiobotocore.

What it does, as Cluster Autoscaler's AWS provider does (``reference/cluster-autoscaler.md``
§2.4, §2.10, §2.11, §4):

* **Discovery.** ``--nodes=min:max:name`` registers named ASGs (kept even when they vanish,
  their bounds narrowed to the ASG's own); ``--node-group-auto-discovery=asg:tag=k1,k2=v``
  registers every ASG carrying all the tags (bounds from the ASG) and unregisters those that
  disappear. CA has no tags overriding an ASG's min/max on AWS; neither has podscaler.
* **Caches.** :meth:`AwsCloud.refresh` re-describes the groups at most once per
  ``refresh_interval_seconds`` (CA: 1 min) unless forced or the previous attempt failed;
  between refreshes our own writes update the cached sizes at once (CA's optimistic
  ``curSize``). The instance type of each group is resolved from its launch template /
  launch configuration / first mixed-instances override and kept 20 min plus 2-10 min of
  jitter; the instance-type table is read once at start from ``DescribeInstanceTypes`` and
  merged over the static table (:mod:`podscaler.nodes.instancetypes`), which alone is used
  when the call fails or ``--aws-use-static-instance-list`` is set.
* **Acting.** ``increase_size`` sends ``SetDesiredCapacity(HonorCooldown=False)`` after
  checking the bounds itself (moto does not enforce them; AWS does, with a less helpful
  error); ``delete_nodes`` terminates exactly the instances behind the given Nodes with
  ``TerminateInstanceInAutoScalingGroup(ShouldDecrementDesiredCapacity=True)`` — never a
  lower desired capacity, which would let the ASG pick an undrained victim.
* **Failed scale-ups.** While a group's desired capacity exceeds its instances, each refresh
  reads its scaling activities; failed ones since the last size change, and shortfalls older
  than ``--max-node-provision-time``, come back from :meth:`AwsCloud.scale_up_failures` for
  the caller to back the group off and give the capacity back
  (:meth:`AwsNodeGroup.cancel_unfulfilled`).

Every AWS call goes through :meth:`AwsCloud._call` / :meth:`AwsCloud._pages` with the
operation name as a literal, so ``tests/unit/nodes/test_aws_iam_policy.py`` can check that
``manifests/nodes/iam-policy.json`` grants exactly the actions made here. Failures become the
typed errors of :mod:`~podscaler.nodes.providers.aws_errors`; the caches keep their last good
contents, so a throttled or failing AWS never turns into a crash loop.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from typing import Any, Final

from pydantic import SecretStr

from podscaler.nodes.asgtags import AutoDiscoverySpec, parse_auto_discovery_spec
from podscaler.nodes.instancetypes import INSTANCE_TYPES, InstanceType, merged
from podscaler.nodes.options import NodeAutoscalerOptions, NodeGroupBounds
from podscaler.nodes.providers.aws_errors import AwsError, NodeGroupVanished, classify
from podscaler.nodes.providers.aws_group import AwsNodeGroup
from podscaler.nodes.providers.aws_model import (
    AsgDescription,
    LaunchSpec,
    LaunchTemplateRef,
    ScaleUpFailure,
    ScalingActivity,
    activity_error_code,
    failed_scale_up_activities,
    parse_instance_types,
    parse_provider_id,
)
from podscaler.nodes.providers.aws_redaction import install_redaction
from podscaler.nodes.providers.base import NodeGroupError
from podscaler.nodes.snapshot import NodeGroupState
from podscaler.nodes.templates import asg_instance_type

__all__ = ["AwsCloud", "AwsNodeGroup", "AwsSettings", "method_name"]

log = logging.getLogger(__name__)

#: DescribeAutoScalingGroups takes at most this many names per call.
_NAMES_PER_CALL: Final = 100
_LAUNCH_CONFIGS_PER_CALL: Final = 50
_TYPES_PER_CALL: Final = 100
_MAX_PAGES: Final = 1000


def method_name(operation: str) -> str:
    """The client method of an API operation: ``SetDesiredCapacity`` → ``set_desired_capacity``
    (botocore's ``xform_name`` for names without acronyms, which all of ours are)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


@dataclass(frozen=True)
class AwsSettings:
    """How to reach AWS. Without ``access_key_id`` botocore's default chain applies
    (environment, IRSA web identity token, instance profile). ``max_attempts`` is botocore's
    retry budget per call (None: botocore's default, or ``AWS_MAX_ATTEMPTS``)."""

    region: str
    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = None
    max_attempts: int | None = 3
    retry_mode: str = "standard"
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 20.0
    refresh_interval_seconds: float = 60.0
    instance_type_ttl_seconds: float = 1200.0
    instance_type_jitter_seconds: tuple[float, float] = (120.0, 600.0)
    use_static_instance_list: bool = False

    def secrets(self) -> list[str]:
        """Secret values, for the log redactor."""
        return [s.get_secret_value() for s in (self.secret_access_key, self.session_token) if s]


@dataclass(frozen=True)
class _TypeEntry:
    launch: LaunchSpec
    name: str | None
    error: str | None
    expires: float


class AwsCloud:
    """The AWS provider: registered node groups, the caches, and the one seam to AWS.

    ``clock`` gives Unix seconds — the same epoch the caller passes as ``now`` to
    :meth:`scale_up_failures` and AWS uses for scaling activities. Use as an async context
    manager, or call :meth:`start` and :meth:`close`.
    """

    def __init__(
        self,
        settings: AwsSettings,
        *,
        nodes: Sequence[NodeGroupBounds] = (),
        auto_discovery: Sequence[str | AutoDiscoverySpec] = (),
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        session: Any = None,
    ) -> None:
        self.settings = settings
        self._explicit = {b.name: b for b in nodes}
        self._discovery = [
            parse_auto_discovery_spec(s) if isinstance(s, str) else s for s in auto_discovery
        ]
        self._clock = clock
        self._rng = rng or random.Random()
        self._session = session
        self._stack: AsyncExitStack | None = None
        self._clients: dict[str, Any] = {}
        self._lock = asyncio.Lock()
        self._groups: dict[str, AwsNodeGroup] = {}
        self._refreshed_at: float | None = None
        self._stale = True
        self._types: dict[str, _TypeEntry] = {}
        self._pending_failures: list[ScaleUpFailure] = []
        self._name_by_provider_id: dict[str, str] = {}
        self._provider_id_by_name: dict[str, str] = {}
        #: instances behind Nodes that no cached group held, each one refresh asked for
        self._unknown_instances: set[str] = set()
        self._described: dict[str, InstanceType] = {}
        self._not_instance_types: set[str] = set()
        self._type_lookup_retry_at: float | None = None
        #: the instance-type table: what EC2 described, over the static table
        self.instance_types: Mapping[str, InstanceType] = INSTANCE_TYPES
        #: ``static`` (nothing asked yet, or ``use_static_instance_list``),
        #: ``DescribeInstanceTypes`` (the last lookup worked) or ``fallback`` (it failed)
        self.instance_types_source = "static"
        #: the last error of a refresh or a background read (None after a clean refresh)
        self.last_error: AwsError | None = None

    @classmethod
    def from_options(
        cls, options: NodeAutoscalerOptions, settings: AwsSettings, **kwargs: Any
    ) -> AwsCloud:
        """A provider for CA's flags: ``--nodes``, ``--node-group-auto-discovery``,
        ``--aws-use-static-instance-list``."""
        if options.aws_use_static_instance_list:
            settings = replace(settings, use_static_instance_list=True)
        discovery = options.node_group_auto_discovery
        return cls(settings, nodes=options.nodes, auto_discovery=discovery, **kwargs)

    # --- lifecycle

    async def __aenter__(self) -> AwsCloud:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Create the clients and install the log redaction."""
        from aiobotocore.config import AioConfig
        from aiobotocore.session import AioSession

        install_redaction(self.settings.secrets())
        session = self._session or AioSession()
        retries: dict[str, Any] = {"mode": self.settings.retry_mode}
        if self.settings.max_attempts is not None:
            # botocore's "max_attempts" counts retries; "total_max_attempts" counts attempts,
            # as AWS_MAX_ATTEMPTS does
            retries["total_max_attempts"] = self.settings.max_attempts
        config = AioConfig(
            connect_timeout=self.settings.connect_timeout_seconds,
            read_timeout=self.settings.read_timeout_seconds,
            retries=retries,
        )
        kwargs: dict[str, Any] = {"region_name": self.settings.region, "config": config}
        if self.settings.endpoint_url:
            kwargs["endpoint_url"] = self.settings.endpoint_url
        if self.settings.access_key_id:
            kwargs["aws_access_key_id"] = self.settings.access_key_id
            kwargs["aws_secret_access_key"] = (
                self.settings.secret_access_key.get_secret_value()
                if self.settings.secret_access_key
                else ""
            )
            if self.settings.session_token:
                kwargs["aws_session_token"] = self.settings.session_token.get_secret_value()
        self._stack = AsyncExitStack()
        try:
            for service in ("autoscaling", "ec2"):
                self._clients[service] = await self._stack.enter_async_context(
                    session.create_client(service, **kwargs)
                )
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        stack, self._stack = self._stack, None
        self._clients.clear()
        if stack is not None:
            await stack.aclose()

    # --- the seam to AWS: every call names its operation literally (the IAM policy test)

    async def _call(
        self, service: str, operation: str, /, *, group: str = "", **params: Any
    ) -> dict[str, Any]:
        client = self._clients.get(service)
        if client is None:
            raise NodeGroupError("the AWS provider is not started")
        try:
            answer = await getattr(client, method_name(operation))(**params)
        except Exception as exc:
            error = classify(operation, exc, group=group)
            log.debug("%s failed: %s", operation, error)
            raise error from exc
        return dict(answer)

    async def _pages(
        self, service: str, operation: str, result_key: str, /, **params: Any
    ) -> AsyncIterator[Mapping[str, Any]]:
        token: str | None = None
        for _ in range(_MAX_PAGES):
            page = await self._call(
                service, operation, **params, **({"NextToken": token} if token else {})
            )
            for item in page.get(result_key) or ():
                yield item
            token = page.get("NextToken")
            if not token:
                return

    # --- instance types

    async def lookup_instance_types(self, names: Iterable[str]) -> None:
        """Ask EC2 for the shapes of ``names`` not described yet (``DescribeInstanceTypes``,
        100 names per call) and merge them over the static table. CA reads every type at
        start; asking only for the types the groups use is one call instead of a dozen pages
        and means the same for them. A failed lookup leaves the static table in charge
        (``instance_types_source == "fallback"``) and is retried after the instance-type
        TTL; names EC2 does not know are not asked again."""
        if self.settings.use_static_instance_list:
            return
        now = self._clock()
        if self._type_lookup_retry_at is not None and now < self._type_lookup_retry_at:
            return
        wanted = sorted(
            {n for n in names if n}.difference(self._described, self._not_instance_types)
        )
        if not wanted:
            return
        found: dict[str, InstanceType] = {}
        try:
            for start in range(0, len(wanted), _TYPES_PER_CALL):
                found.update(await self._describe_types(wanted[start : start + _TYPES_PER_CALL]))
        except AwsError as exc:
            log.warning("DescribeInstanceTypes failed; the static table stands in: %s", exc)
            self.last_error = exc
            self.instance_types_source = "fallback"
            self._type_lookup_retry_at = now + self.settings.instance_type_ttl_seconds
            return
        self._type_lookup_retry_at = None
        self._not_instance_types.update(set(wanted).difference(found))
        self._described.update(found)
        self.instance_types = merged(self._described.values())
        self.instance_types_source = "DescribeInstanceTypes"

    async def _describe_types(self, names: list[str]) -> dict[str, InstanceType]:
        try:
            items = [
                item
                async for item in self._pages(
                    "ec2", "DescribeInstanceTypes", "InstanceTypes", InstanceTypes=names
                )
            ]
        except AwsError as exc:
            # one unknown name fails the whole call: ask one by one to find the good ones
            if not exc.code.startswith("InvalidInstanceType") or len(names) == 1:
                if exc.code.startswith("InvalidInstanceType"):
                    return {}
                raise
            found: dict[str, InstanceType] = {}
            for name in names:
                found.update(await self._describe_types([name]))
            return found
        return {t.name: t for t in parse_instance_types(items)}

    def instance_type_of(self, group: AwsNodeGroup) -> tuple[InstanceType | None, str]:
        """The group's instance type, or None and why not."""
        entry = self._types.get(group.id())
        if entry is None:
            return None, "its instance type has not been resolved yet"
        if entry.name is None:
            return None, entry.error or "its instance type is unknown"
        shape = self.instance_types.get(entry.name)
        if shape is None:
            return None, f"ASG uses the unknown EC2 instance type {entry.name!r}"
        return shape, ""

    async def _resolve_instance_types(self, now: float) -> None:
        """Fill the instance-type cache for groups whose entry is missing, expired, or made
        for another launch spec. A failing lookup keeps the previous entry (if any)."""
        due: dict[str, AsgDescription] = {}
        for name, group in self._groups.items():
            desc = group.description
            entry = self._types.get(name)
            if desc is None:
                continue
            if entry is None or entry.launch != desc.launch or entry.expires <= now:
                due[name] = desc
        if not due:
            return
        configs = sorted(
            {d.launch.launch_configuration for d in due.values() if d.launch.launch_configuration}
        )
        config_data: dict[str, Mapping[str, Any]] = {}
        config_error: str | None = None
        try:
            for start in range(0, len(configs), _LAUNCH_CONFIGS_PER_CALL):
                batch = configs[start : start + _LAUNCH_CONFIGS_PER_CALL]
                async for item in self._pages(
                    "autoscaling",
                    "DescribeLaunchConfigurations",
                    "LaunchConfigurations",
                    LaunchConfigurationNames=batch,
                ):
                    config_data[str(item["LaunchConfigurationName"])] = item
        except AwsError as exc:
            config_error = str(exc)
            self.last_error = exc
        template_data: dict[LaunchTemplateRef, Mapping[str, Any]] = {}
        for name, desc in due.items():
            launch = desc.launch
            error: str | None = None
            from_template: Mapping[str, Any] | None = None
            from_config: Mapping[str, Any] | None = None
            if launch.override_requirements:
                error = "its first mixed-instances override selects by InstanceRequirements"
            elif launch.override_instance_type:
                pass  # the first override decides; nothing to read
            elif launch.launch_template is not None:
                ref = launch.launch_template
                if ref not in template_data:
                    try:
                        answer = await self._call(
                            "ec2", "DescribeLaunchTemplateVersions", group=name, **ref.request()
                        )
                    except AwsError as exc:
                        self.last_error = exc
                        error = f"its launch template could not be read: {exc}"
                    else:
                        versions = answer.get("LaunchTemplateVersions") or [{}]
                        template_data[ref] = versions[0].get("LaunchTemplateData") or {}
                from_template = template_data.get(ref)
            elif launch.launch_configuration:
                from_config = config_data.get(launch.launch_configuration)
                if from_config is None:
                    error = config_error or "its launch configuration was not found"
            else:
                error = "it has neither a launch template nor a launch configuration"
            # the rule (first override, else template, else configuration) is the planner's
            type_name = None
            if error is None:
                type_name = asg_instance_type(
                    desc.raw,
                    launch_template_data=from_template,
                    launch_configuration=from_config,
                )
                if type_name is None:
                    error = "its launch template or configuration names no instance type"
            if type_name is None and name in self._types and self._types[name].name:
                continue  # keep the last good answer; retried at the next refresh
            low, high = self.settings.instance_type_jitter_seconds
            ttl = self.settings.instance_type_ttl_seconds + self._rng.uniform(low, high)
            self._types[name] = _TypeEntry(
                launch, type_name, error, now + ttl if type_name else now
            )

    # --- discovery and refresh

    async def refresh(self, *, force: bool = False) -> None:
        """Re-describe the groups if the cache is older than the refresh interval (or
        ``force``, or the last attempt failed). Raises a typed :class:`AwsError` when the
        groups cannot be listed; the previous state stays in place."""
        now = self._clock()
        fresh = (
            self._refreshed_at is not None
            and now - self._refreshed_at < self.settings.refresh_interval_seconds
        )
        if fresh and not force and not self._stale:
            return
        async with self._lock:
            try:
                explicit, discovered = await self._describe_registered()
            except AwsError as exc:
                self._stale = True
                self.last_error = exc
                raise
            self._apply(explicit, discovered, now)
            self.last_error = None
            await self._resolve_instance_types(now)
            await self.lookup_instance_types(e.name for e in self._types.values() if e.name)
            await self._read_activities(now)
            self._refreshed_at = now
            self._stale = False

    async def _describe_registered(
        self,
    ) -> tuple[dict[str, AsgDescription], dict[str, AsgDescription]]:
        explicit: dict[str, AsgDescription] = {}
        names = sorted(self._explicit)
        for start in range(0, len(names), _NAMES_PER_CALL):
            batch = names[start : start + _NAMES_PER_CALL]
            async for item in self._pages(
                "autoscaling",
                "DescribeAutoScalingGroups",
                "AutoScalingGroups",
                AutoScalingGroupNames=batch,
            ):
                desc = AsgDescription.from_api(item)
                explicit[desc.name] = desc
        discovered: dict[str, AsgDescription] = {}
        for spec in self._discovery:
            filters = [
                {"Name": f"tag:{key}", "Values": [value]}
                if value
                else {"Name": "tag-key", "Values": [key]}
                for key, value in spec.tags.items()
            ]
            async for item in self._pages(
                "autoscaling", "DescribeAutoScalingGroups", "AutoScalingGroups", Filters=filters
            ):
                desc = AsgDescription.from_api(item)
                # AWS ANDs the filters already; checking again keeps the rule ours.
                if spec.matches(desc.tags):
                    discovered[desc.name] = desc
        return explicit, discovered

    def _apply(
        self,
        explicit: Mapping[str, AsgDescription],
        discovered: Mapping[str, AsgDescription],
        now: float,
    ) -> None:
        for name, bounds in self._explicit.items():
            group = self._groups.get(name)
            if group is None:
                group = self._groups[name] = AwsNodeGroup(self, name, bounds, now)
            if name in explicit:
                group._update(explicit[name], now)
            elif not group._vanished:
                log.warning("node group %s (--nodes) was not found in AWS", name)
                group._vanished = True
        for name, desc in discovered.items():
            if name in self._explicit:
                continue
            group = self._groups.get(name)
            if group is None:
                group = self._groups[name] = AwsNodeGroup(self, name, None, now)
                log.info("node group %s discovered", name)
            group._update(desc, now)
        for name in [n for n, g in self._groups.items() if not g.explicit]:
            if name not in discovered:
                log.info("node group %s is gone or no longer tagged: unregistered", name)
                self._groups.pop(name)._vanished = True
                self._types.pop(name, None)

    async def _read_activities(self, now: float) -> None:
        """For each group still waiting for instances, look for failed launches since its
        last size change (CA's early scale-up failure detection)."""
        for group in list(self._groups.values()):
            if group.vanished or group.shortfall() <= 0:
                continue
            try:
                answer = await self._call(
                    "autoscaling",
                    "DescribeScalingActivities",
                    group=group.id(),
                    AutoScalingGroupName=group.id(),
                    MaxRecords=50,
                )
            except AwsError as exc:
                self.last_error = exc
                log.warning("reading the scaling activities of %s failed: %s", group.id(), exc)
                continue
            activities = [ScalingActivity.from_api(a) for a in answer.get("Activities") or ()]
            failed = failed_scale_up_activities(
                activities, group._activity_since(), group._reported_activities
            )
            if not failed:
                continue
            group._reported_activities.update(a.activity_id for a in failed)
            newest = failed[-1]
            missing = group.shortfall()
            self._pending_failures.append(
                ScaleUpFailure(
                    group.id(),
                    activity_error_code(newest),
                    f"Failed adding {missing} nodes to group {group.id()}: "
                    f"{(newest.status_message or newest.description)[:300]}",
                    missing,
                    tuple(a.activity_id for a in failed),
                )
            )

    def scale_up_failures(
        self, now: float, max_node_provision_time_seconds: float = 900.0
    ) -> list[ScaleUpFailure]:
        """Failed scale-ups found since the last call, each reported once: failed scaling
        activities read by :meth:`refresh`, and groups whose missing instances have been
        missing for longer than the provision time (the group's
        ``…/autoscaling-options/maxnodeprovisiontime`` tag, else the argument) at ``now``."""
        found, self._pending_failures = self._pending_failures, []
        for group in self._groups.values():
            missing = group.shortfall()
            since = group._shortfall_since
            if missing <= 0 or since is None or group._timeout_reported or group.vanished:
                continue
            limit = group.options().max_node_provision_time_seconds
            limit = max_node_provision_time_seconds if limit is None else limit
            if now - since > limit:
                group._timeout_reported = True
                found.append(
                    ScaleUpFailure(
                        group.id(),
                        "timeout",
                        f"{missing} instances of node group {group.id()} were not launched "
                        f"within {limit:g}s",
                        missing,
                    )
                )
        return found

    # --- writes (through the groups)

    async def _set_desired(self, group: AwsNodeGroup, desired: int) -> None:
        async with self._lock:
            # stamped before the call, as CA does: activities AWS starts for this change
            # begin after it
            started = self._clock()
            try:
                await self._call(
                    "autoscaling",
                    "SetDesiredCapacity",
                    group=group.id(),
                    AutoScalingGroupName=group.id(),
                    DesiredCapacity=desired,
                    HonorCooldown=False,
                )
            except AwsError as exc:
                self._failed_write(group, exc)
                raise
            group._sized(desired, started)
        log.info("node group %s: desired capacity set to %d", group.id(), desired)

    async def _terminate(self, group: AwsNodeGroup, instance_id: str) -> None:
        async with self._lock:
            started = self._clock()
            try:
                await self._call(
                    "autoscaling",
                    "TerminateInstanceInAutoScalingGroup",
                    group=group.id(),
                    InstanceId=instance_id,
                    ShouldDecrementDesiredCapacity=True,
                )
            except AwsError as exc:
                self._failed_write(group, exc)
                raise
            group._terminated(instance_id, started)
        log.info("node group %s: instance %s terminated", group.id(), instance_id)

    def _failed_write(self, group: AwsNodeGroup, exc: AwsError) -> None:
        # As CA: a failed write forces the next refresh to re-read everything.
        self._stale = True
        self.last_error = exc
        if isinstance(exc, NodeGroupVanished):
            group._vanished = True

    # --- lookups

    def node_groups(self) -> list[AwsNodeGroup]:
        """The registered groups (explicit ones also while vanished), by name."""
        return [self._groups[n] for n in sorted(self._groups)]

    def node_group(self, name: str) -> AwsNodeGroup | None:
        return self._groups.get(name)

    def node_group_for(self, node_or_provider_id: str) -> AwsNodeGroup | None:
        """The group holding the instance behind a Node name or a provider ID."""
        instance_id = self.instance_id_of(node_or_provider_id)
        for group in self._groups.values():
            if any(i.instance_id == instance_id for i in group.instances()):
                return group
        return None

    def observe_nodes(self, nodes: Iterable[Mapping[str, Any]]) -> None:
        """Learn which Node is which instance from the Nodes' ``spec.providerID`` (what the
        kubelet registered with); call it with the informer's Nodes before deleting."""
        by_provider_id: dict[str, str] = {}
        for node in nodes:
            name = (node.get("metadata") or {}).get("name")
            pid = (node.get("spec") or {}).get("providerID")
            if isinstance(name, str) and isinstance(pid, str) and parse_provider_id(pid):
                by_provider_id[pid] = name
        self._name_by_provider_id = by_provider_id
        self._provider_id_by_name = {n: p for p, n in by_provider_id.items()}
        self._notice_unknown_instances(by_provider_id)

    def _notice_unknown_instances(self, by_provider_id: Mapping[str, str]) -> None:
        """A Node whose instance no cached group holds is, most often, a node of our own
        scale-up that registered before the next refresh (which may be a minute away):
        until a describe lists its instance the planner would count it in no group (neither
        registered nor removable). Each such instance marks the cache stale once, so the
        next :meth:`refresh` re-describes; a Node of an instance outside every group (a
        managed node group, say) costs one describe, not one per pass."""
        present = {
            parsed[1] for pid in by_provider_id if (parsed := parse_provider_id(pid)) is not None
        }
        known = {i.instance_id for g in self._groups.values() for i in g.instances()}
        unknown = present - known
        if unknown - self._unknown_instances:
            self._stale = True
        self._unknown_instances = unknown

    @property
    def stale(self) -> bool:
        """Whether the next :meth:`refresh` will describe the groups whatever their age."""
        return self._stale

    def node_name_of(self, pid: str) -> str:
        return self._name_by_provider_id.get(pid, "")

    def instance_id_of(self, ref: str) -> str | None:
        """The instance id behind a provider ID or an observed Node name."""
        parsed = parse_provider_id(ref)
        if parsed is None:
            pid = self._provider_id_by_name.get(ref)
            parsed = parse_provider_id(pid) if pid else None
        return parsed[1] if parsed else None

    def group_states(
        self,
        nodes: Iterable[Mapping[str, Any]],
        *,
        deleting: Mapping[str, int] | None = None,
    ) -> list[NodeGroupState]:
        """The planner's view of every usable group (:class:`NodeGroupState`): bounds,
        cached target size, the Nodes whose provider IDs are its instances, the template
        (None when the instance type is unknown), price, tag option overrides. ``deleting``
        counts per group the nodes the caller is draining."""
        self.observe_nodes(nodes)
        states: list[NodeGroupState] = []
        for group in self.node_groups():
            if group.vanished:
                continue
            names = tuple(
                sorted(
                    name for i in group.instances() if (name := self.node_name_of(i.provider_id))
                )
            )
            template: Mapping[str, Any] | None
            try:
                template = group.template_node()
            except NodeGroupError:
                template = None
            shape = group.instance_type()
            states.append(
                NodeGroupState(
                    id=group.id(),
                    min_size=group.min_size(),
                    max_size=group.max_size(),
                    target_size=group._desired,
                    node_names=names,
                    template=template,
                    price_per_hour=shape.price_per_hour if shape else None,
                    deleting=(deleting or {}).get(group.id(), 0),
                    options=group.options(),
                )
            )
        return states

    async def describe_all(self) -> list[AsgDescription]:
        """Every ASG of the account and region, registered or not (the simulated world's
        view of the cloud; see :mod:`podscaler.nodes.providers.aws_world`)."""
        return [
            AsgDescription.from_api(item)
            async for item in self._pages(
                "autoscaling", "DescribeAutoScalingGroups", "AutoScalingGroups"
            )
        ]
