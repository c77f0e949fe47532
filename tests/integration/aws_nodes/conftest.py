"""Fixtures for the AWS node-group provider against moto server.

* ``front`` — an :class:`~podscaler.nodes.providers.aws_front.AwsFront` (a real HTTP server)
  in front of a freshly reset moto: the provider talks to it, so tests read what the provider
  sent and can make AWS throttle, refuse or run out of capacity;
* ``admin`` — aiobotocore clients straight to moto (past the front), for the test's own setup:
  launch templates, ASGs, deletions; their requests are not recorded;
* ``make_cloud`` — an :class:`~podscaler.nodes.providers.aws.AwsCloud` on the front, started,
  with a clock the test can move, closed at the end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiobotocore.session import AioSession
from pydantic import SecretStr

from podscaler.nodes.options import NodeGroupBounds
from podscaler.nodes.providers.aws import AwsCloud, AwsSettings
from podscaler.nodes.providers.aws_front import AwsFront
from tests.fixtures.moto import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY

CLUSTER = "demo"
ENABLED = "k8s.io/cluster-autoscaler/enabled"
OWNED = f"k8s.io/cluster-autoscaler/{CLUSTER}"
DISCOVERY = f"asg:tag={ENABLED},{OWNED}"
AMI = "ami-12c6146b"
ZONES = [f"{REGION}a", f"{REGION}b"]


@dataclass
class Admin:
    autoscaling: Any
    ec2: Any
    templates: dict[str, str] = field(default_factory=dict)

    async def template(self, instance_type: str) -> str:
        """A launch template for ``instance_type`` (one per type), by name."""
        name = f"lt-{instance_type.replace('.', '-')}"
        if name not in self.templates:
            await self.ec2.create_launch_template(
                LaunchTemplateName=name,
                LaunchTemplateData={"InstanceType": instance_type, "ImageId": AMI},
            )
            self.templates[name] = instance_type
        return name

    async def asg(
        self,
        name: str,
        *,
        min_size: int = 0,
        max_size: int = 5,
        desired: int = 0,
        instance_type: str = "m5.large",
        tags: dict[str, str] | None = None,
        discoverable: bool = True,
        **extra: Any,
    ) -> None:
        all_tags = {**({ENABLED: "true", OWNED: "owned"} if discoverable else {}), **(tags or {})}
        launch: dict[str, Any] = {}
        if "MixedInstancesPolicy" not in extra and "LaunchConfigurationName" not in extra:
            launch = {
                "LaunchTemplate": {
                    "LaunchTemplateName": await self.template(instance_type),
                    "Version": "$Latest",
                }
            }
        await self.autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=name,
            MinSize=min_size,
            MaxSize=max_size,
            DesiredCapacity=desired,
            AvailabilityZones=ZONES,
            Tags=[
                {
                    "Key": k,
                    "Value": v,
                    "PropagateAtLaunch": False,
                    "ResourceId": name,
                    "ResourceType": "auto-scaling-group",
                }
                for k, v in all_tags.items()
            ],
            **launch,
            **extra,
        )

    async def describe(self, name: str) -> dict[str, Any]:
        answer = await self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
        groups = answer["AutoScalingGroups"]
        assert len(groups) == 1, f"{name} not found"
        return dict(groups[0])


@pytest.fixture
async def admin(moto: str) -> AsyncIterator[Admin]:
    session = AioSession()
    kwargs = {
        "region_name": REGION,
        "endpoint_url": moto,
        "aws_access_key_id": ACCESS_KEY_ID,
        "aws_secret_access_key": SECRET_ACCESS_KEY,
    }
    async with (
        session.create_client("autoscaling", **kwargs) as autoscaling,
        session.create_client("ec2", **kwargs) as ec2,
    ):
        yield Admin(autoscaling, ec2)


@pytest.fixture
async def front(moto: str) -> AsyncIterator[AwsFront]:
    async with AwsFront(moto) as server:
        yield server


class Clock:
    """Unix seconds the test moves; starts at the real time so AWS timestamps compare."""

    def __init__(self) -> None:
        import time

        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


MakeCloud = Callable[..., Any]


@pytest.fixture
async def make_cloud(front: AwsFront) -> AsyncIterator[MakeCloud]:
    clouds: list[AwsCloud] = []

    async def make(
        *,
        discovery: Sequence[str] = (DISCOVERY,),
        nodes: Sequence[NodeGroupBounds] = (),
        clock: Clock | None = None,
        max_attempts: int = 1,
        **settings: Any,
    ) -> AwsCloud:
        cloud = AwsCloud(
            AwsSettings(
                region=REGION,
                endpoint_url=front.url,
                access_key_id=ACCESS_KEY_ID,
                secret_access_key=SecretStr(SECRET_ACCESS_KEY),
                max_attempts=max_attempts,
                **settings,
            ),
            nodes=nodes,
            auto_discovery=() if nodes else discovery,
            clock=clock or Clock(),
        )
        await cloud.start()
        clouds.append(cloud)
        return cloud

    yield make
    for cloud in clouds:
        await cloud.close()
