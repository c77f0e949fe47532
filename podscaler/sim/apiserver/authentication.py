"""Who is calling the embedded API server, and whether it lets them in.

Two modes, chosen by how the server is started:

* **TLS** (``podscaler cluster serve --tls``, ``ApiServer(tls=True)``): a credential is
  required. The server mints a random bearer token at start and writes it into the kubeconfig
  it prints, as the user ``system:admin`` in ``system:masters``; tokens registered for other
  users (``AuthPolicy.allow_token``, ``Aggregator.add_token``) work too, and so does a client
  certificate signed by the aggregator's client CA (the ``client-ca-file`` it publishes), whose
  common name is the user and organizations the groups, as kube-apiserver reads them. A request
  without a credential, or with one the server does not know, is ``401 Unauthorized`` —
  except ``GET`` of ``/healthz``, ``/livez``, ``/readyz`` (and their sub-paths) and
  ``/version``, which kube-apiserver's default RBAC (``system:public-info-viewer``) grants to
  anonymous callers, so health checkers need no secret.
* **Plain HTTP** (the default, for the demo and tests on localhost): nobody has to
  authenticate and everybody may do everything; a known token still names its user (the
  aggregator forwards that user), anyone else is ``system:anonymous`` in
  ``system:unauthenticated`` — never an administrator.

There is no authorization beyond this: an authenticated caller may do anything on the
embedded server itself (``AuthPolicy`` answers the SubjectAccessReviews *other* servers ask,
see ``delegation.py``). SECURITY.md has the threat model.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import web

from podscaler.sim.apiserver.errors import ApiError

__all__ = [
    "ADMIN",
    "ANONYMOUS",
    "USER",
    "Authenticator",
    "Unauthorized",
    "User",
]


@dataclass(frozen=True)
class User:
    """An authenticated (or anonymous) caller: name, groups and extra attributes."""

    name: str
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


#: The kubeconfig's user: an administrator, as kubeadm's admin.conf user is.
ADMIN: Final = User("system:admin", ("system:masters", "system:authenticated"))
#: Whoever did not authenticate.
ANONYMOUS: Final = User("system:anonymous", ("system:unauthenticated",))
#: Where the request's :class:`User` is kept for the handlers (the aggregator forwards it).
USER: Final = web.RequestKey("podscaler.sim.user", User)

#: Finds the user of a bearer token registered outside the authenticator (None: unknown).
TokenLookup = Callable[[str], "User | None"]

#: Paths anonymous callers may GET with authentication required (upstream's public info).
_PUBLIC_PREFIXES: Final = ("/healthz", "/livez", "/readyz")
_PUBLIC_PATHS: Final = frozenset({"/version", "/version/"})


class Unauthorized(ApiError):
    code = 401
    reason = "Unauthorized"


def _unauthorized() -> Unauthorized:
    return Unauthorized("Unauthorized")


def is_public(request: web.Request) -> bool:
    """Whether anonymous callers may make ``request`` even when credentials are required."""
    if request.method not in ("GET", "HEAD"):
        return False
    path = request.path
    if path in _PUBLIC_PATHS:
        return True
    return any(path == p or path.startswith(p + "/") for p in _PUBLIC_PREFIXES)


class Authenticator:
    """Turns a request's credentials into a :class:`User` (see the module docstring); the
    server's ``lookup`` knows every token, this the administrator's."""

    def __init__(self, *, required: bool) -> None:
        #: Whether a request without a valid credential is refused (TLS mode).
        self.required = required
        #: The administrator's bearer token, written into the kubeconfig in TLS mode.
        self.admin_token = secrets.token_urlsafe(32)

    def token_user(self, token: str) -> User | None:
        """:data:`ADMIN` for the administrator's token (compared in constant time)."""
        if token and hmac.compare_digest(token.encode(), self.admin_token.encode()):
            return ADMIN
        return None

    def authenticate(self, request: web.Request, lookup: TokenLookup) -> User:
        """The caller of ``request``; ``lookup`` finds tokens registered elsewhere (the auth
        policy's and the aggregator's). Raises :class:`Unauthorized` where upstream would."""
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _, credential = header.partition(" ")
            credential = credential.strip()
            user = lookup(credential) if scheme.lower() == "bearer" and credential else None
            if user is not None:
                return user
            if self.required:
                # An invalid credential is refused even where anonymous access is allowed,
                # as kube-apiserver does.
                raise _unauthorized()
            return ANONYMOUS
        certificate = _peer_user(request)
        if certificate is not None:
            return certificate
        if self.required and not is_public(request):
            raise _unauthorized()
        return ANONYMOUS


def _peer_user(request: web.Request) -> User | None:
    """The user a verified client certificate names (CN → user, O → groups)."""
    transport = request.transport
    if transport is None:
        return None
    cert: Any = transport.get_extra_info("peercert")
    if not cert:
        return None
    name = ""
    groups: list[str] = []
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                name = str(value)
            elif key == "organizationName":
                groups.append(str(value))
    if not name:
        return None
    return User(name, (*groups, "system:authenticated"))
