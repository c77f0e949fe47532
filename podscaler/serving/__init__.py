"""Serving behind kube-apiserver: TLS with rotation, who is asking, may they — shared by every
server podscaler runs (the external metrics API, the admission webhook).

The modules, bottom up:

* ``status`` — errors as ``metav1.Status`` documents (pure);
* ``certificates``, ``tls`` — serving certificates from files or our own CA, swapped live on a
  listener that requests optional client certificates;
* ``authentication`` — front proxy / client certificate / TokenReview, configured from
  ``kube-system/extension-apiserver-authentication``;
* ``authorization`` — SubjectAccessReview, cached;
* ``server`` — :class:`SecureServer`: the listener and the request pipeline (health,
  authentication, then the server's own handler, which asks for authorization);
* ``security`` — :func:`prepare` all of that at start, and :meth:`Security.keep_fresh` for the
  server's life.

A server built on this package writes only its routes: for example ::

    security = await prepare(kube, CertificateOptions(hostnames=names), component="webhook",
                             publish_ca_bundle=patch_webhook_configuration)
    server = SecureServer(handle, tls=security.tls, authenticator=security.authenticator,
                          authorizer=security.authorizer, component="webhook")
    await server.start("0.0.0.0", 9443)
    await security.keep_fresh()
"""

from podscaler.serving.authentication import (
    AuthenticationConfig,
    Authenticator,
    RequestHeaderConfig,
    TokenReviewer,
    Unauthenticated,
    UserInfo,
)
from podscaler.serving.authorization import Attributes, Decision, SubjectAccessReviewer
from podscaler.serving.certificates import (
    CertificateFiles,
    SelfSignedIssuer,
    ServingMaterial,
    service_hostnames,
)
from podscaler.serving.security import CertificateOptions, Security, prepare
from podscaler.serving.server import Handler, SecureServer, respond
from podscaler.serving.status import StatusError, status_body
from podscaler.serving.tls import CertificateKeeper, ServingTls

__all__ = [
    "Attributes",
    "AuthenticationConfig",
    "Authenticator",
    "CertificateFiles",
    "CertificateKeeper",
    "CertificateOptions",
    "Decision",
    "Handler",
    "RequestHeaderConfig",
    "SecureServer",
    "Security",
    "SelfSignedIssuer",
    "ServingMaterial",
    "ServingTls",
    "StatusError",
    "SubjectAccessReviewer",
    "TokenReviewer",
    "Unauthenticated",
    "UserInfo",
    "prepare",
    "respond",
    "service_hostnames",
    "status_body",
]
