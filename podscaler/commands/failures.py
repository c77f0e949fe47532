"""Ordinary failures of the commands: the one exception they raise for a mistake a person can
fix, and the checks that find such mistakes before any work starts.

Only the standard library is imported here, so the command group can catch
:class:`CommandFailure` without loading aiohttp or the Kubernetes client for commands that need
neither (``podscaler validate`` in a pipeline).
"""

from __future__ import annotations

import errno
import socket
import tempfile
from pathlib import Path

__all__ = ["CommandFailure", "check_listenable", "check_writable", "describe_listen_error"]


class CommandFailure(Exception):
    """An ordinary failure a person can fix: the message says what is wrong and what to do.

    The CLI prints the message as one line and exits with ``exit_code``: 1 when the
    environment is at fault (nothing listens there, no such object), 2 when the command line is
    (an argument that cannot work).
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def describe_listen_error(exc: OSError, host: str, port: int, option: str) -> str:
    """Why a server could not listen on ``host:port``, and which *option* changes it."""
    if exc.errno == errno.EADDRINUSE:
        why = "the port is in use (another podscaler, or any other server?)"
    elif exc.errno == errno.EACCES:
        why = "permission denied (ports below 1024 need privileges)"
    elif exc.errno == errno.EADDRNOTAVAIL:
        why = f"{host} is not an address of this machine"
    else:
        why = exc.strerror or str(exc)
    return f"cannot listen on {host}:{port}: {why}; choose another with {option}"


def check_listenable(host: str, port: int, option: str) -> None:
    """Fail early, with :func:`describe_listen_error`'s message, when ``host:port`` cannot be
    listened on (port 0 always can). The real server binds again right after; this only
    spares the user a half-started server's traceback."""
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise CommandFailure(
            f"cannot listen on {host}:{port}: {exc.strerror}; choose another address", 2
        ) from exc
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            raise CommandFailure(describe_listen_error(exc, host, port, option)) from exc


def check_writable(path: Path, option: str) -> Path:
    """The absolute path of a file a command will write later (a report after a simulated
    day, a kubeconfig), checked now by creating a scratch file beside it: its directory is
    created if missing, and the path must not be a directory. A mistake costs a second, not
    the run."""
    path = path.expanduser().absolute()
    if path.is_dir():
        raise CommandFailure(f"{option} {path} is a directory; give a file name", 2)
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise CommandFailure(f"{option} {path}: {parent} is not a directory", 2)
            break
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}."):
            pass
    except OSError as exc:
        raise CommandFailure(
            f"{option} {path}: cannot write there ({exc.strerror or exc}); choose another place",
            2,
        ) from exc
    return path
