"""The mutating admission webhook: recommended requests (and limits) on new pods.

kube-apiserver sends every pod creation that the MutatingWebhookConfiguration selects
(``manifests/webhook/``) as an ``AdmissionReview`` (admission.k8s.io/v1). For a pod matched by a
VerticalScaler in update mode ``Initial``, ``Recreate``, ``InPlaceOrRecreate``, ``InPlace`` or
``Auto`` (the pod's labels match the selector of the scaler's target), the answer is a
JSONPatch setting the recommended resources (see :mod:`.podresources`) and annotating what
changed. When several scalers match, the oldest wins (then the name), as upstream picks one.

**Where the scalers come from.** In ``podscaler run`` the webhook answers from the vertical
recommender's memory (:class:`WebhookGate` is its :class:`ScalerSource`): the VerticalScalers
its informer holds, the label selectors its passes resolved, the recommendations it published.
Admitting a pod reads nothing from the API server — kube-apiserver waits for this answer on
every pod creation, so it must not wait for API round trips of its own. Scalers the recommender
refuses (invalid, target missing, the newer of two on one workload) are not applied. Without a
source (:func:`serve_admission_webhook` alone, as in the tests and ``bench/vertical.py``'s
baseline) the webhook lists the namespace's scalers and resolves their targets per review.

The webhook never stands in the way of a pod: anything it cannot work out (the API unreachable,
a target without a selector, a review it cannot read) is answered ``allowed: true`` without a
patch and logged, and the configuration's ``failurePolicy: Ignore`` covers the webhook being
down. The pod is then created with the resources it asked for.

Serving: HTTPS on :mod:`podscaler.serving`'s listener with its certificate handling (files
reloaded when replaced, or our own CA renewed before expiry, the CA bundle published into the
MutatingWebhookConfiguration first, and put back within seconds whenever the configuration is
re-applied without it: :func:`podscaler.serving.cabundle.guard_bundle`). The listener's
connection limits apply (:mod:`podscaler.serving.connections`), and a review body must arrive
within :data:`_BODY_SECONDS`. kube-apiserver calls webhooks without credentials unless
it is given an admission kubeconfig, so the listener does not authenticate; it only reads pods
it is sent and answers patches (no Secret, nothing stored).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from aiohttp import web
from pydantic import ValidationError

from podscaler.api.flags import flag
from podscaler.api.meta import GROUP_VERSION
from podscaler.api.selectors import LabelSelector
from podscaler.api.verticalscaler import VerticalScaler
from podscaler.controllers.vertical.podresources import admission_patch, container_updates
from podscaler.controllers.vertical.recommender import VerticalRecommender
from podscaler.controllers.vertical.targets import TargetProblem, TargetResolver
from podscaler.controllers.vertical.updater import recommended_of
from podscaler.engine.vpa.amounts import Resources
from podscaler.kube.clients import Kube
from podscaler.kube.errors import KubeError
from podscaler.serving.cabundle import guard_bundle, webhook_bundle_patch
from podscaler.serving.certificates import SelfSignedIssuer, service_hostnames
from podscaler.serving.security import CertificateOptions, certificate_source
from podscaler.serving.server import SecureServer, respond
from podscaler.serving.status import StatusError
from podscaler.serving.tls import CertificateKeeper, RotatingAuthority, ServingTls, follow_rotation

__all__ = [
    "ADMITTING_MODES",
    "DEFAULT_CONFIGURATION_NAME",
    "DEFAULT_PATH",
    "AdmissionWebhook",
    "AdmittingScaler",
    "ScalerSource",
    "WebhookGate",
    "WebhookOptions",
    "publish_ca_bundle",
    "recommender_scalers",
    "run_admission_webhook",
    "serve_admission_webhook",
]

log = logging.getLogger(__name__)

#: The update modes in which new pods get the recommendation.
#: ``InPlace`` too: AEP-8818 applies recommendations at admission "like all other modes", so a
#: pod created (or re-created by its controller) starts right-sized rather than waiting for a
#: resize that might be infeasible on its node.
ADMITTING_MODES: Final = frozenset({"Initial", "Recreate", "InPlaceOrRecreate", "InPlace", "Auto"})
DEFAULT_PATH: Final = "/mutate-pods"
DEFAULT_CONFIGURATION_NAME: Final = "podscaler-vertical"
#: The largest AdmissionReview read (kube-apiserver's own request bound is 3 MiB).
_MAX_REVIEW_BYTES: Final = 3 * 1024 * 1024
#: A review's body must arrive within this (kube-apiserver's webhook timeout is at most 30 s);
#: a client dribbling one pins no handler longer.
_BODY_SECONDS: Final = 10.0
_CONFIGURATIONS: Final = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
_SCALERS_PATH: Final = "/apis/" + GROUP_VERSION + "/namespaces/{namespace}/verticalscalers"


@dataclass(frozen=True)
class WebhookOptions:
    """``podscaler run``'s ``--admission-webhook-*`` flags (port 0, the default: not served)."""

    port: int = flag(
        0, help="Port of the VerticalScaler admission webhook over TLS (manifests: 9443; 0: off)."
    )
    host: str = flag("0.0.0.0", name="bind-address", help="Address the webhook listens on.")
    cert_file: Path | None = flag(
        None,
        name="tls-cert-file",
        help="Serving certificate (PEM), reloaded when replaced; needs the key file flag too.",
    )
    key_file: Path | None = flag(None, name="tls-key-file", help="Its private key (PEM).")
    cert_dir: Path | None = flag(
        None,
        help="Directory with tls.crt/tls.key (a mounted Secret); without certificates podscaler "
        "issues its own and publishes its CA in the MutatingWebhookConfiguration.",
    )
    service: str = flag(
        "podscaler-webhook", help="The Service kube-apiserver calls (certificate names)."
    )
    namespace: str = flag("podscaler", name="service-namespace", help="Namespace of that Service.")
    configuration: str = flag(
        DEFAULT_CONFIGURATION_NAME,
        help="The MutatingWebhookConfiguration whose caBundle podscaler keeps current.",
    )


@dataclass(frozen=True, slots=True)
class AdmittingScaler:
    """A VerticalScaler as the webhook applies it: the spec, the selector of its target,
    what decides between two (creation time, name) and its published targets."""

    scaler: VerticalScaler
    selector: LabelSelector
    created: str
    name: str
    targets: Mapping[str, Resources]


class ScalerSource(Protocol):
    """The VerticalScalers of a namespace that admit pods, from memory (no API call)."""

    def admitting(self, namespace: str) -> Iterable[AdmittingScaler]: ...


def recommender_scalers(recommender: VerticalRecommender, namespace: str) -> list[AdmittingScaler]:
    """The recommender's scalers in *namespace* that admit pods: valid, target found, an
    admitting update mode; with the recommendation as published (status)."""
    found = []
    for (scaler_namespace, name), state in list(recommender.states.items()):
        scaler, selector = state.scaler, state.selector
        if scaler_namespace != namespace or scaler is None or selector is None:
            continue
        if state.problem is not None or scaler.spec.effective_update_mode not in ADMITTING_MODES:
            continue
        targets = recommended_of(state.written_status or state.obj.get("status")).targets
        found.append(AdmittingScaler(scaler, selector, state.created, name, targets))
    return found


class WebhookGate:
    """Between the webhook and the vertical controllers of one process.

    The updater's :class:`~podscaler.controllers.vertical.updater.AdmissionGate`: ready while
    this process serves the webhook, so evicted pods come back with new requests. And the
    webhook's :class:`ScalerSource`: the recommender's scalers, while one runs."""

    def __init__(self) -> None:
        self.serving = False
        self.recommender: VerticalRecommender | None = None

    def ready(self) -> bool:
        return self.serving

    def admitting(self, namespace: str) -> Iterable[AdmittingScaler]:
        if self.recommender is None:
            return ()
        return recommender_scalers(self.recommender, namespace)


class AdmissionWebhook:
    """Answers AdmissionReviews for pods from the VerticalScalers in the pod's namespace:
    from *source* when given (no API call per pod), else read from the API per review."""

    def __init__(self, kube: Kube, source: ScalerSource | None = None) -> None:
        self.kube = kube
        self.source = source
        self.targets = TargetResolver(kube)
        #: Reviews answered, and those that read the API server (benchmarks, tests).
        self.reviews = 0
        self.api_reads = 0

    async def _selector(self, namespace: str, scaler: VerticalScaler) -> LabelSelector | None:
        """The label selector of the scaler's target (``/scale``'s, else ``spec.selector``)."""
        ref = scaler.spec.target_ref
        target = {"apiVersion": ref.api_version, "kind": ref.kind, "name": ref.name}
        found = await self.targets.selector(self.targets.ref(namespace, target))
        if isinstance(found, TargetProblem):
            log.info("webhook: %s/%s: %s", namespace, scaler.metadata.name, found.message)
            return None
        return found

    async def matching_scaler(
        self, namespace: str, pod: Mapping[str, Any]
    ) -> tuple[VerticalScaler, Mapping[str, Resources] | None] | None:
        """The scaler that controls ``pod`` (admitting modes only) and its targets (None:
        the scaler's own status), or None."""
        labels = (pod.get("metadata") or {}).get("labels") or {}
        if self.source is not None:
            matched = [
                a
                for a in self.source.admitting(namespace)
                if not a.selector.is_empty and a.selector.matches(labels)
            ]
            if not matched:
                return None
            best = min(matched, key=lambda a: (a.created, a.name))
            return best.scaler, best.targets
        self.api_reads += 1
        listing = await self.kube.request("GET", _SCALERS_PATH.format(namespace=namespace))
        found: list[VerticalScaler] = []
        for item in listing.get("items") or ():
            try:
                scaler = VerticalScaler.model_validate(item)
            except ValidationError:
                continue
            if scaler.spec.effective_update_mode not in ADMITTING_MODES:
                continue
            try:
                selector = await self._selector(namespace, scaler)
            except KubeError as exc:
                log.info("webhook: target of %s not readable: %s", scaler.metadata.name, exc)
                continue
            if selector is not None and not selector.is_empty and selector.matches(labels):
                found.append(scaler)
        if not found:
            return None
        found.sort(key=lambda s: (str(s.metadata.creation_timestamp or ""), s.metadata.name or ""))
        return found[0], None

    async def review(self, review: Mapping[str, Any]) -> dict[str, Any]:
        """The AdmissionReview answering ``review`` (allowed, maybe with a JSONPatch)."""
        request = review.get("request")
        if not isinstance(request, Mapping) or not request.get("uid"):
            raise StatusError(400, "the body is not an AdmissionReview with a request")
        response: dict[str, Any] = {"uid": request["uid"], "allowed": True}
        answer = {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "response": response,
        }
        pod = request.get("object")
        resource = request.get("resource") or {}
        if (
            request.get("operation") != "CREATE"
            or not isinstance(pod, Mapping)
            or resource.get("group", "") != ""
            or resource.get("resource") != "pods"
        ):
            return answer
        namespace = str(request.get("namespace") or (pod.get("metadata") or {}).get("namespace"))
        self.reviews += 1
        try:
            matched = await self.matching_scaler(namespace, pod)
        except KubeError as exc:
            log.warning("webhook: cannot list VerticalScalers in %s: %s", namespace, exc)
            response["warnings"] = ["podscaler: recommendation not applied (API unavailable)"]
            return answer
        if matched is None:
            return answer
        scaler, targets = matched
        updates = container_updates(pod, scaler, targets)
        operations = admission_patch(pod, scaler.metadata.name or "", updates)
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(
            json.dumps(operations, separators=(",", ":")).encode()
        ).decode()
        return answer

    async def handle(self, request: web.Request, _user: object) -> web.StreamResponse:
        """The HTTP handler for :class:`~podscaler.serving.server.SecureServer`."""
        if request.method != "POST":
            raise StatusError(405, f"{request.method} is not allowed; POST an AdmissionReview")
        if request.content_length is not None and request.content_length > _MAX_REVIEW_BYTES:
            raise StatusError(413, "the AdmissionReview is too large")
        try:
            async with asyncio.timeout(_BODY_SECONDS):
                raw = await request.content.read(_MAX_REVIEW_BYTES + 1)
        except TimeoutError as exc:
            raise StatusError(408, "the AdmissionReview did not arrive in time") from exc
        if len(raw) > _MAX_REVIEW_BYTES:
            raise StatusError(413, "the AdmissionReview is too large")
        try:
            review = json.loads(raw)
        except ValueError as exc:
            raise StatusError(400, "the body is not JSON") from exc
        if not isinstance(review, dict):
            raise StatusError(400, "the body is not an AdmissionReview")
        return respond(await self.review(review))


async def publish_ca_bundle(kube: Kube, configuration: str, bundle: bytes) -> None:
    """Put ``bundle`` into every webhook's ``clientConfig.caBundle`` of ``configuration``."""
    path = f"{_CONFIGURATIONS}/{configuration}"
    current = await kube.request("GET", path)
    encoded = base64.b64encode(bundle).decode()
    webhooks = [
        {**w, "clientConfig": {**(w.get("clientConfig") or {}), "caBundle": encoded}}
        for w in current.get("webhooks") or ()
    ]
    await kube.request(
        "PATCH",
        path,
        body={"webhooks": webhooks},
        content_type="application/merge-patch+json",
    )


async def serve_admission_webhook(
    kube: Kube,
    *,
    host: str,
    port: int,
    certificates: CertificateOptions,
    configuration: str = DEFAULT_CONFIGURATION_NAME,
    service: tuple[str, str] | None = None,
    on_ready: Callable[[SecureServer], None] | None = None,
    source: ScalerSource | None = None,
    guard_ca_bundle: bool = True,
    shared: RotatingAuthority | None = None,
) -> None:
    """Serve the webhook until cancelled, keeping its certificate fresh.

    With no certificate files, a certificate from our own CA is issued for the Service's names
    (``service`` = namespace, name) and the CA is published into ``configuration`` before it
    is served; a failure to publish is logged (the webhook serves; its configuration's
    ``failurePolicy: Ignore`` keeps pods flowing until the bundle lands), and guarded against
    re-applies (``guard_ca_bundle``; False only where the loop's clock is faked).
    ``certificates.ca``:
    the CA the replicas share (:mod:`podscaler.metricsapi.sharedca`), so that every replica
    publishes the same bundle; None mints one (right for a single replica only).
    ``shared``: that CA's rotation, kept by the metrics API (:func:`follow_rotation`); the
    webhook issues from each new CA and publishes each bundle as the metrics API does.
    """
    if not certificates.hostnames and service is not None:
        certificates = CertificateOptions(
            cert_file=certificates.cert_file,
            key_file=certificates.key_file,
            cert_dir=certificates.cert_dir,
            hostnames=tuple(service_hostnames(service[1], service[0])),
            ca=certificates.ca,
        )

    async def publish(bundle: bytes) -> None:
        try:
            await publish_ca_bundle(kube, configuration, bundle)
        except KubeError as exc:
            log.error("webhook: cannot publish the CA bundle into %s: %s", configuration, exc)

    issuer = certificate_source(certificates, component="webhook")
    keeper = CertificateKeeper(
        issuer,
        publish_ca_bundle=publish if isinstance(issuer, SelfSignedIssuer) else None,
        component="webhook",
    )
    tls = ServingTls(await keeper.initial())
    if shared is not None:
        await follow_rotation(shared, keeper, tls)
    webhook = AdmissionWebhook(kube, source)
    server = SecureServer(
        webhook.handle,
        tls=tls,
        authenticator=None,
        authorizer=None,
        component="webhook",
        serves="the admission webhook",
    )
    await server.start(host, port)
    try:
        if on_ready is not None:
            on_ready(server)
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(keeper.run(tls))
            if guard_ca_bundle and keeper.publish_ca_bundle is not None:
                tasks.create_task(
                    guard_bundle(
                        kube,
                        lambda: keeper.published,
                        collection=_CONFIGURATIONS,
                        name=configuration,
                        patch_for=webhook_bundle_patch,
                        component="webhook",
                    )
                )
    finally:
        await server.stop()


async def run_admission_webhook(
    kube: Kube,
    options: WebhookOptions,
    gate: WebhookGate | None = None,
    *,
    certificates: CertificateOptions | None = None,
    shared: RotatingAuthority | None = None,
) -> None:
    """The webhook for the operator's lifetime (``podscaler run --admission-webhook-port``).
    ``certificates``: instead of the flags' (the operator's, with the replicas' shared CA);
    ``shared``: that CA's rotation, to follow."""

    def ready(_server: SecureServer) -> None:
        if gate is not None:
            gate.serving = True

    try:
        await _serve(kube, options, ready, certificates, gate, shared)
    finally:
        if gate is not None:
            gate.serving = False


async def _serve(
    kube: Kube,
    options: WebhookOptions,
    ready: Callable[[SecureServer], None],
    certificates: CertificateOptions | None,
    source: ScalerSource | None,
    shared: RotatingAuthority | None = None,
) -> None:
    await serve_admission_webhook(
        kube,
        host=options.host,
        port=options.port,
        certificates=certificates
        or CertificateOptions(
            cert_file=options.cert_file, key_file=options.key_file, cert_dir=options.cert_dir
        ),
        configuration=options.configuration,
        service=(options.namespace, options.service),
        on_ready=ready,
        source=source,
        shared=shared,
    )
