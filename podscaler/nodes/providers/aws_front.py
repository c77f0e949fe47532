"""A small real HTTP server in front of a moto server: it records the AWS requests that pass
and can make AWS misbehave the ways moto cannot.

moto answers Auto Scaling and EC2 faithfully enough for most of the provider, but it never
throttles, never runs out of capacity (``SetDesiredCapacity`` launches every instance at
once) and its ``DescribeScalingActivities`` is always empty. Tests (and simulations) put an
:class:`AwsFront` between the client and moto; the client talks real HTTP to it and cannot
tell. Nothing is patched in the client.

* **Recording** — every request is kept as a :class:`RecordedCall` (service, action, the
  form parameters; never headers, so never credentials), so a test asserts on what the
  provider *sent* (moto does not enforce MinSize/MaxSize: the request is the evidence).
* **Errors** — :meth:`AwsFront.fail` answers the next N requests of an action (optionally
  for one ASG) with an AWS error document (``Throttling``, ``AccessDenied``, ...).
* **Capacity shortage** — :meth:`AwsFront.shortage` makes a group behave as during an EC2
  ``InsufficientInstanceCapacity`` event: a ``SetDesiredCapacity`` above the group's live
  instances is accepted but not passed to moto, the raised desired capacity shows in
  ``DescribeAutoScalingGroups``, and a ``Failed`` scaling activity naming the error code
  appears in ``DescribeScalingActivities``. :meth:`AwsFront.end_shortage` passes the held
  desired capacity on, and the instances come.
"""

from __future__ import annotations

import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import aiohttp
from aiohttp import web

__all__ = ["AwsFront", "RecordedCall"]

_ASG_NS: Final = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
_SERVICE_BY_VERSION: Final = {"2011-01-01": "autoscaling", "2016-11-15": "ec2"}
_HOP_HEADERS: Final = frozenset(
    {
        "content-length",
        "transfer-encoding",
        "content-encoding",
        "connection",
        "keep-alive",
        "host",
        "x-amz-crc32",
        "date",
        "server",
    }
)


@dataclass(frozen=True)
class RecordedCall:
    """One request as it passed: ``params`` are the query-protocol form fields
    (``DesiredCapacity``, ``Filters.member.1.Name``, ...)."""

    service: str
    action: str
    params: Mapping[str, str]
    #: the front answered it itself (an injected error or a held desired capacity)
    intercepted: bool = False


@dataclass
class _Failure:
    action: str
    code: str
    message: str
    status: int
    remaining: int
    group: str | None


@dataclass
class _Shortage:
    code: str
    message: str
    report_activity: bool = True
    held_desired: int | None = None
    region: str = "us-east-1"


@dataclass
class _Activity:
    activity_id: str
    group: str
    status_code: str
    status_message: str
    description: str
    start: datetime


@dataclass
class AwsFront:
    """Forward to ``upstream`` (moto's base URL); ``clock`` stamps injected activities
    (Unix seconds)."""

    upstream: str
    clock: Callable[[], float] = time.time
    calls: list[RecordedCall] = field(default_factory=list)
    _failures: list[_Failure] = field(default_factory=list)
    _shortages: dict[str, _Shortage] = field(default_factory=dict)
    _activities: list[_Activity] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _client: aiohttp.ClientSession | None = None
    url: str = ""

    # --- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = int(self._runner.addresses[0][1])
        self._client = aiohttp.ClientSession()
        self.url = f"http://{host}:{bound}"
        return self.url

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> AwsFront:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- controls

    def fail(
        self,
        action: str,
        code: str,
        message: str = "",
        *,
        times: int = 1,
        status: int = 400,
        group: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests of ``action`` (for ``group`` only, if given)
        with AWS error ``code``."""
        self._failures.append(
            _Failure(action, code, message or f"{code} (injected)", status, times, group)
        )

    def shortage(
        self,
        group: str,
        code: str = "InsufficientInstanceCapacity",
        message: str | None = None,
        *,
        report_activity: bool = True,
    ) -> None:
        """From now on ``group`` cannot launch instances (see the module docstring). Without
        ``report_activity`` no failed activity is listed: the instances just never come, as
        when a launch hangs (only ``--max-node-provision-time`` notices)."""
        text = message or (
            f"{code} - We currently do not have sufficient capacity in the Availability "
            "Zone you requested. Launching EC2 instance failed."
        )
        self._shortages[group] = _Shortage(code, text, report_activity)

    async def end_shortage(self, group: str) -> None:
        """Capacity is back: a desired capacity held during the shortage goes to moto."""
        shortage = self._shortages.pop(group, None)
        if shortage is not None and shortage.held_desired is not None:
            await self._upstream_form(
                {
                    "Action": "SetDesiredCapacity",
                    "Version": "2011-01-01",
                    "AutoScalingGroupName": group,
                    "DesiredCapacity": str(shortage.held_desired),
                },
                shortage.region,
            )

    def add_activity(
        self,
        group: str,
        status_code: str = "Failed",
        status_message: str = "",
        description: str = "Launching a new EC2 instance",
        start: float | None = None,
    ) -> str:
        """A scaling activity ``DescribeScalingActivities`` will list for ``group``."""
        activity_id = str(uuid.uuid4())
        stamp = datetime.fromtimestamp(self.clock() if start is None else start, UTC)
        self._activities.append(
            _Activity(activity_id, group, status_code, status_message, description, stamp)
        )
        return activity_id

    def calls_of(self, action: str) -> list[RecordedCall]:
        return [c for c in self.calls if c.action == action]

    # --- the server

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        if not params and request.query:
            params = dict(request.query)
        action = params.get("Action", "")
        service = _SERVICE_BY_VERSION.get(params.get("Version", ""), "")
        group = params.get("AutoScalingGroupName")
        if action:
            failure = self._take_failure(action, group)
            if failure is not None:
                self.calls.append(RecordedCall(service, action, params, intercepted=True))
                return self._error(service, failure)
        if service == "autoscaling" and group in self._shortages:
            region = _region(request.headers.get("Authorization", ""))
            answer = await self._during_shortage(action, group, params, region)
            if answer is not None:
                return answer
        if service == "autoscaling" and action == "DescribeScalingActivities":
            injected = [a for a in self._activities if group is None or a.group == group]
            if injected:
                self.calls.append(RecordedCall(service, action, params, intercepted=True))
                return _xml(_activities_document(injected))
        if action:
            self.calls.append(RecordedCall(service, action, params))
        return await self._forward(request, body, action)

    def _take_failure(self, action: str, group: str | None) -> _Failure | None:
        for failure in self._failures:
            if failure.action != action or failure.remaining <= 0:
                continue
            if failure.group is not None and failure.group != group:
                continue
            failure.remaining -= 1
            return failure
        return None

    async def _during_shortage(
        self, action: str, group: str, params: Mapping[str, str], region: str
    ) -> web.StreamResponse | None:
        shortage = self._shortages[group]
        if action != "SetDesiredCapacity":
            return None
        shortage.region = region
        desired = int(params.get("DesiredCapacity", "0"))
        live = await self._live_instances(group, region)
        if desired <= live:
            shortage.held_desired = None
            return None
        shortage.held_desired = desired
        if shortage.report_activity:
            self.add_activity(
                group,
                "Failed",
                shortage.message,
                f"Launching a new EC2 instance. Status Reason: {shortage.message}",
            )
        self.calls.append(RecordedCall("autoscaling", action, params, intercepted=True))
        return _xml(
            f'<SetDesiredCapacityResponse xmlns="{_ASG_NS}"><ResponseMetadata>'
            f"<RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
            "</SetDesiredCapacityResponse>"
        )

    async def _live_instances(self, group: str, region: str) -> int:
        text = await self._upstream_form(
            {
                "Action": "DescribeAutoScalingGroups",
                "Version": "2011-01-01",
                "AutoScalingGroupNames.member.1": group,
            },
            region,
        )
        root = ET.fromstring(text)
        return sum(
            1
            for element in root.iter()
            if _local(element.tag) == "LifecycleState"
            and not (element.text or "").startswith("Terminat")
        )

    async def _upstream_form(self, form: Mapping[str, str], region: str) -> str:
        """A request of the front's own to moto (which reads the region from the credential
        scope and checks no signature)."""
        assert self._client is not None
        async with self._client.post(
            self.upstream + "/",
            data=dict(form),
            headers={
                "Authorization": f"AWS4-HMAC-SHA256 Credential=front/20260101/{region}/"
                "autoscaling/aws4_request, SignedHeaders=host, Signature=0"
            },
        ) as response:
            return await response.text()

    async def _forward(self, request: web.Request, body: bytes, action: str) -> web.Response:
        assert self._client is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        async with self._client.request(
            request.method, self.upstream + request.path_qs, data=body, headers=headers
        ) as upstream:
            data = await upstream.read()
            out_headers = {
                k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_HEADERS
            }
            status = upstream.status
        if action == "DescribeAutoScalingGroups" and status == 200:
            data = self._held_desired(data)
        return web.Response(body=data, status=status, headers=out_headers)

    def _held_desired(self, data: bytes) -> bytes:
        held = {g: s.held_desired for g, s in self._shortages.items() if s.held_desired}
        if not held:
            return data
        root = ET.fromstring(data)
        for member in root.iter():
            if _local(member.tag) != "member":
                continue
            name = next((c.text for c in member if _local(c.tag) == "AutoScalingGroupName"), None)
            if name not in held:
                continue
            for child in member:
                if _local(child.tag) == "DesiredCapacity":
                    child.text = str(held[name])
        return bytes(ET.tostring(root, encoding="utf-8"))

    @staticmethod
    def _error(service: str, failure: _Failure) -> web.Response:
        request_id = uuid.uuid4()
        code, message = escape(failure.code), escape(failure.message)
        if service == "ec2":
            text = (
                f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message>"
                f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
            )
        else:
            kind = "Receiver" if failure.status >= 500 else "Sender"
            text = (
                f'<ErrorResponse xmlns="{_ASG_NS}"><Error><Type>{kind}</Type>'
                f"<Code>{code}</Code><Message>{message}</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>"
            )
        return _xml(text, status=failure.status)


def _region(authorization: str) -> str:
    """The region of a SigV4 credential scope (``Credential=<key>/<date>/<region>/...``)."""
    scope = authorization.partition("Credential=")[2].split(",")[0].split("/")
    return scope[2] if len(scope) > 2 else "us-east-1"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/xml")


def _activities_document(activities: list[_Activity]) -> str:
    members = "".join(
        "<member>"
        f"<ActivityId>{a.activity_id}</ActivityId>"
        f"<AutoScalingGroupName>{escape(a.group)}</AutoScalingGroupName>"
        f"<Description>{escape(a.description)}</Description>"
        f"<Cause>At {a.start.isoformat()} a user request changed the desired capacity</Cause>"
        f"<StartTime>{a.start.isoformat().replace('+00:00', 'Z')}</StartTime>"
        f"<EndTime>{a.start.isoformat().replace('+00:00', 'Z')}</EndTime>"
        f"<StatusCode>{escape(a.status_code)}</StatusCode>"
        f"<StatusMessage>{escape(a.status_message)}</StatusMessage>"
        "<Progress>100</Progress>"
        "</member>"
        for a in sorted(activities, key=lambda a: a.start, reverse=True)
    )
    return (
        f'<DescribeScalingActivitiesResponse xmlns="{_ASG_NS}">'
        f"<DescribeScalingActivitiesResult><Activities>{members}</Activities>"
        "</DescribeScalingActivitiesResult>"
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
        "</DescribeScalingActivitiesResponse>"
    )
