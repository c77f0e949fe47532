"""Keeping credentials out of what podscaler says: logs, Events, status, API answers.

Masking the raw secret string is not enough. An upstream that echoes the request back (a
Prometheus answering 401 with the ``Authorization`` header in its error, an HTTP library
quoting the URL it called) shows the secret in a *derived* form: base64 of ``user:password``
in a Basic header, percent-encoded in a query string, JSON- or repr-escaped in a traceback.
:class:`Redactor` replaces

* every known secret and each derived form of it (:func:`derived_forms`, and for a
  user/password pair :func:`pair_forms`), and
* text that is shaped like a credential whoever it belongs to (:data:`PATTERNS`): the value of
  an ``Authorization``-like header, ``Basic``/``Bearer`` tokens, the password in a URL's
  userinfo, ``token=``/``apikey=``-style query parameters, AWS key ids and SigV4 signatures.

Two scopes use it. Each built trigger has its own redactor (its auth parameters): every error
text a trigger produces passes through it once, where the error enters the operator's state
(``controllers.triggers``), so status, Events, decision records, ``podscaler explain`` and
the metrics API only ever hold the redacted text, shortened to :data:`MAX_ERROR_CHARS`. The
process has one more (:data:`PROCESS_SECRETS`), fed with every Secret value the operator
reads; the log formatters pass each whole line — message, exception and traceback — through it,
so a library's debug logging cannot leak either.

Matching is linear in the text (an index on each form's first :data:`MIN_SECRET_CHARS`
characters), so a thousand triggers' secrets cost the same per log line as one. Values shorter
than :data:`MIN_SECRET_CHARS` are not matched: they cannot be told apart from ordinary words.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Hashable, Iterable
from typing import Final
from urllib.parse import quote, quote_plus

__all__ = [
    "MAX_ERROR_CHARS",
    "MIN_SECRET_CHARS",
    "PATTERNS",
    "PROCESS_SECRETS",
    "REDACTED",
    "Redactor",
    "SecretRegistry",
    "derived_forms",
    "excerpt",
    "pair_forms",
    "redact_patterns",
]

REDACTED: Final = "[redacted]"

#: Shorter values are not secrets we can find in text without redacting ordinary words.
MIN_SECRET_CHARS: Final = 4

#: An error text kept in status, an Event or a record is at most this long (an upstream's
#: answer is quoted as a short excerpt, never in full).
MAX_ERROR_CHARS: Final = 300

_TOKEN_CHARS: Final = r"[A-Za-z0-9+/=._~%-]"

#: Credential-shaped text, whoever's it is. Each pattern's group ``keep`` survives; the rest of
#: the match becomes :data:`REDACTED`.
PATTERNS: Final = (
    # header-like names followed by a value: "Authorization: Basic abc", 'x-api-key': 'abc'
    re.compile(
        r"(?i)(?P<keep>\b(?:proxy-)?authorization\b['\"]?\s*[:=]\s*(?:b?['\"])?"
        r"(?:(?:basic|bearer|digest|negotiate|token|aws4-hmac-sha256)\s+)?)"
        r"[^\s'\",;}]+(?:,\s*(?:SignedHeaders|Signature)=[^\s'\",;}]+)*"
    ),
    re.compile(
        r"(?i)(?P<keep>\b(?:x-api-key|api[-_]?key|x-auth-token|cookie|set-cookie|"
        r"x-amz-security-token|password|passwd|client[-_]?secret|(?:aws_)?secret[-_]?access[-_]?key|"
        r"(?:aws_)?session[-_]?token|access[-_]?token|bearer[-_]?token)\b['\"]?\s*[:=]\s*(?:b?['\"])?)"
        r"[^\s'\",;&}]+"
    ),
    # a scheme and a token anywhere: "Basic YWxp...", "Bearer eyJ..."
    re.compile(
        r"(?i)(?P<keep>\b(?:basic|bearer)\s+)(?="
        + _TOKEN_CHARS
        + r"*[0-9+/=])"
        + _TOKEN_CHARS
        + r"{8,}"
    ),
    # userinfo in a URL: scheme://user:password@host
    re.compile(r"(?P<keep>[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@'\"]+(?=@)"),
    # credentials in query strings
    re.compile(
        r"(?i)(?P<keep>[?&;](?:api[-_]?key|key|token|access_token|auth|password|secret|sig|"
        r"signature|x-amz-signature|x-amz-credential|x-amz-security-token)=)[^&\s'\"#]+"
    ),
    # AWS access key ids (long-term, temporary, role and user ids) and SigV4 parts
    re.compile(r"(?P<keep>)\b(?:AKIA|ASIA|AROA|AIDA|ANPA|ANVA|AGPA|APKA)[A-Z0-9]{12,}\b"),
    re.compile(r"(?P<keep>Credential=)[^,\s'\"&]+"),
    re.compile(r"(?P<keep>Signature=)[0-9a-fA-F]+"),
)


def redact_patterns(text: str) -> str:
    """*text* with credential-shaped parts (:data:`PATTERNS`) replaced."""
    for pattern in PATTERNS:
        if pattern.search(text):
            text = pattern.sub(lambda m: m.group("keep") + REDACTED, text)
    return text


def derived_forms(secret: str) -> set[str]:
    """*secret* and the spellings it takes on its way into text someone else wrote:
    percent-encoded (path and form style), base64 (standard and URL-safe, with and without
    padding), JSON- and repr-escaped."""
    if len(secret) < MIN_SECRET_CHARS:
        return set()
    raw = secret.encode("utf-8", errors="surrogatepass")
    encoded = base64.b64encode(raw).decode("ascii")
    urlsafe = base64.urlsafe_b64encode(raw).decode("ascii")
    forms = {
        secret,
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        quote(secret),
        encoded,
        encoded.rstrip("="),
        urlsafe,
        urlsafe.rstrip("="),
        json.dumps(secret)[1:-1],
        repr(secret)[1:-1],
    }
    return {form for form in forms if len(form) >= MIN_SECRET_CHARS}


def pair_forms(user: str, password: str) -> set[str]:
    """What a user/password pair becomes in a Basic ``Authorization`` header or a URL:
    ``user:password`` and its :func:`derived_forms` (base64 of it is the header's value)."""
    if not password:
        return set()
    joined = f"{user}:{password}"
    forms = derived_forms(joined)
    forms.add(f"{quote(user, safe='')}:{quote(password, safe='')}")
    return forms


class Redactor:
    """Replaces known secrets (with their derived forms) and credential-shaped text.

    Immutable once built; build a new one when the secrets change.
    """

    __slots__ = ("_index",)

    def __init__(self, forms: Iterable[str] = ()) -> None:
        index: dict[str, list[str]] = {}
        for form in sorted(set(forms), key=len, reverse=True):
            if len(form) >= MIN_SECRET_CHARS:
                index.setdefault(form[:MIN_SECRET_CHARS], []).append(form)
        self._index = index

    @classmethod
    def for_secrets(cls, secrets: Iterable[str], pairs: Iterable[tuple[str, str]] = ()) -> Redactor:
        """A redactor for *secrets* and *pairs* (user, password), derived forms included."""
        forms: set[str] = set()
        for secret in secrets:
            forms |= derived_forms(secret)
        for user, password in pairs:
            forms |= pair_forms(user, password)
        return cls(forms)

    def __bool__(self) -> bool:
        return bool(self._index)

    def redact(self, text: str) -> str:
        """*text* with every known form and every credential-shaped part replaced."""
        return redact_patterns(self.redact_known(text))

    def redact_known(self, text: str) -> str:
        """*text* with every known form replaced (the longest first where they overlap)."""
        index = self._index
        if not index or len(text) < MIN_SECRET_CHARS:
            return text
        out: list[str] = []
        start = 0
        i = 0
        end = len(text) - MIN_SECRET_CHARS + 1
        while i < end:
            candidates = index.get(text[i : i + MIN_SECRET_CHARS])
            if candidates is not None:
                for form in candidates:
                    if text.startswith(form, i):
                        out.append(text[start:i])
                        out.append(REDACTED)
                        i += len(form)
                        start = i
                        break
                else:
                    i += 1
                continue
            i += 1
        if start == 0:
            return text
        out.append(text[start:])
        return "".join(out)


def excerpt(text: str, redactor: Redactor | None = None, limit: int = MAX_ERROR_CHARS) -> str:
    """*text* redacted, on one line, at most *limit* characters (``…`` marks a cut)."""
    flat = " ".join(text.split())
    flat = redactor.redact(flat) if redactor is not None else redact_patterns(flat)
    if len(flat) > limit:
        return flat[: limit - 1] + "…"
    return flat


class SecretRegistry:
    """The process's secrets, by owner (a Secret's namespace and name): :meth:`remember`
    replaces an owner's values, so a rotated Secret does not grow it. Thread-safe; the
    :class:`Redactor` is rebuilt lazily after a change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._forms: dict[Hashable, frozenset[str]] = {}
        self._redactor: Redactor | None = Redactor()

    def remember(
        self, owner: Hashable, secrets: Iterable[str], pairs: Iterable[tuple[str, str]] = ()
    ) -> None:
        forms: set[str] = set()
        for secret in secrets:
            forms |= derived_forms(secret)
        for user, password in pairs:
            forms |= pair_forms(user, password)
        frozen = frozenset(forms)
        with self._lock:
            if self._forms.get(owner) == frozen:
                return
            self._forms[owner] = frozen
            self._redactor = None

    def forget(self, owner: Hashable) -> None:
        with self._lock:
            if self._forms.pop(owner, None) is not None:
                self._redactor = None

    def redactor(self) -> Redactor:
        with self._lock:
            if self._redactor is None:
                forms: set[str] = set()
                for owned in self._forms.values():
                    forms |= owned
                self._redactor = Redactor(forms)
            return self._redactor

    def redact(self, text: str) -> str:
        return self.redactor().redact(text)


#: Every Secret value this process has read (see :mod:`podscaler.controllers.triggers.auth`).
PROCESS_SECRETS: Final = SecretRegistry()
