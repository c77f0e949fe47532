"""The embedded API server's audit log of writes (kube-apiserver's audit, reduced).

Off unless asked for (``ApiServer.audit = AuditLog()``): a long simulation would otherwise
keep every write. Each answered write (any method but GET/HEAD/OPTIONS) is recorded with the
server's time, the caller's ``User-Agent`` (the operator puts its replica identity there) and
the answer's status, so a test can ask "who wrote this target, when" as one reads
kube-apiserver's audit events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["AuditLog", "AuditRecord"]

_READS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class AuditRecord:
    at: datetime
    method: str
    path: str
    user_agent: str
    status: int


@dataclass
class AuditLog:
    records: list[AuditRecord] = field(default_factory=list)

    def record(
        self, now: Callable[[], datetime], method: str, path: str, user_agent: str, status: int
    ) -> None:
        if method.upper() in _READS:
            return
        self.records.append(AuditRecord(now(), method.upper(), path, user_agent, status))
