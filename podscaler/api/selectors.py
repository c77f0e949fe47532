"""Label and field selectors as Kubernetes understands them.

Every list, watch and controller in podscaler narrows objects with selectors: the embedded API
server answers ``?labelSelector=`` and ``?fieldSelector=``, workload controllers find their pods
by ``spec.selector``, and PodDisruptionBudgets pick the pods they protect. kubectl and the
client libraries send the exact string grammar of apimachinery's ``labels`` and ``fields``
packages, and they show the server's error text to the user, so this module follows that grammar
and those error messages closely rather than inventing a friendlier dialect. Nothing here does
I/O; ``api`` is the bottom layer and imports nothing else of podscaler.

Differences from apimachinery, all deliberate:

* ``a=b`` and ``a==b`` are one operator here; the canonical string form writes ``=``.
* Requirements are kept sorted by (key, operator, values), so two selectors that select the
  same way by the same requirements compare equal regardless of the order they were written.
* A ``nil`` ``metav1.LabelSelector`` ("select nothing") is the caller's business: ``from_dict``
  takes a mapping, and an empty mapping selects everything, as upstream.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FieldSelector",
    "LabelSelector",
    "Operator",
    "Requirement",
    "SelectorError",
    "field_set",
    "label_key_problems",
    "label_value_problems",
    "parse_field_selector",
    "parse_label_selector",
    "supported_fields",
]


class SelectorError(ValueError):
    """A selector that Kubernetes would reject; the message names the offending part.

    The API server turns it into a 400 Bad Request, as kube-apiserver does.
    """


class Operator(enum.StrEnum):
    """Label selector operators; the values are the spellings of the string form."""

    IN = "in"
    NOT_IN = "notin"
    EQUALS = "="
    NOT_EQUALS = "!="
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


# --- syntax of label keys and values (apimachinery validation) -------------------------------

_NAME_MAX = 63
_PREFIX_MAX = 253
_NAME_RE = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS1123_SUBDOMAIN_RE = re.compile(
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
)
_VALUE_RE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")

_NAME_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
    "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def _key_problems(key: str) -> list[str]:
    """Why ``key`` is not a qualified name (``[prefix/]name``); empty when it is one."""
    parts = key.split("/")
    if len(parts) == 1:
        name = parts[0]
        problems: list[str] = []
    elif len(parts) == 2:
        prefix, name = parts
        problems = []
        if not prefix:
            problems.append("prefix part must be non-empty")
        else:
            if len(prefix) > _PREFIX_MAX:
                problems.append(f"prefix part must be no more than {_PREFIX_MAX} characters")
            if not _DNS1123_SUBDOMAIN_RE.fullmatch(prefix):
                problems.append("prefix part " + _SUBDOMAIN_MSG)
    else:
        return [
            "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and "
            "must start and end with an alphanumeric character, with an optional DNS subdomain "
            "prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        problems.append("name part must be non-empty")
    else:
        if len(name) > _NAME_MAX:
            problems.append(f"name part must be no more than {_NAME_MAX} characters")
        if not _NAME_RE.fullmatch(name):
            problems.append(_NAME_MSG)
    return problems


def label_key_problems(key: str) -> list[str]:
    """Why ``key`` is not a valid label or annotation key (a qualified name), with
    kube-apiserver's messages; empty when it is one."""
    return _key_problems(key)


def label_value_problems(value: str) -> list[str]:
    """Why ``value`` is not a valid label value, with kube-apiserver's messages."""
    problems = []
    if len(value) > _NAME_MAX:
        problems.append(f"must be no more than {_NAME_MAX} characters")
    if not _VALUE_RE.fullmatch(value):
        problems.append(_VALUE_MSG)
    return problems


def _validate_key(key: str, where: str = "key") -> None:
    problems = _key_problems(key)
    if problems:
        raise SelectorError(f'{where}: Invalid value: "{key}": {"; ".join(problems)}')


def _validate_value(key: str, value: str, where: str = "values") -> None:
    problems = label_value_problems(value)
    if problems:
        raise SelectorError(f'{where}[{key}]: Invalid value: "{value}": {"; ".join(problems)}')


# --- requirements and label selectors ---------------------------------------------------------


@dataclass(frozen=True, order=True)
class Requirement:
    """One clause of a label selector: ``key``, ``operator`` and its (sorted, unique) values."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    @classmethod
    def build(cls, key: str, operator: Operator, values: Iterable[str] = ()) -> Requirement:
        """Validate like apimachinery's ``NewRequirement`` and return the requirement."""
        _validate_key(key)
        vals = sorted(set(values))
        if operator in (Operator.IN, Operator.NOT_IN):
            if not vals:
                raise SelectorError(
                    f"values: Invalid value: {vals}: for 'in', 'notin' operators, "
                    "values set can't be empty"
                )
        elif operator is Operator.EQUALS or operator is Operator.NOT_EQUALS:
            if len(vals) != 1:
                raise SelectorError(
                    f"values: Invalid value: {vals}: exact-match compatibility requires "
                    "one single value"
                )
        elif operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST):
            if vals:
                raise SelectorError(
                    f"values: Invalid value: {vals}: values set must be empty for exists "
                    "and does not exist"
                )
        else:  # gt, lt
            if len(vals) != 1:
                raise SelectorError(
                    f"values: Invalid value: {vals}: for 'Gt', 'Lt' operators, exactly one "
                    "value is required"
                )
            if _as_int64(vals[0]) is None:
                raise SelectorError(
                    f"values[0]: Invalid value: {vals[0]!r}: for 'Gt', 'Lt' operators, the "
                    "value must be an integer"
                )
        for value in vals:
            _validate_value(key, value)
        return cls(key, operator, tuple(vals))

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this requirement (apimachinery's rules).

        Negative operators (``!=``, ``notin``) also match objects without the key, which is
        what makes ``env!=prod`` select unlabelled objects.
        """
        op = self.operator
        present = self.key in labels
        if op is Operator.EXISTS:
            return present
        if op is Operator.DOES_NOT_EXIST:
            return not present
        if op in (Operator.IN, Operator.EQUALS):
            return present and labels[self.key] in self.values
        if op in (Operator.NOT_IN, Operator.NOT_EQUALS):
            return not present or labels[self.key] not in self.values
        if not present:
            return False
        have = _as_int64(labels[self.key])
        if have is None:
            return False
        want = int(self.values[0])
        return have > want if op is Operator.GREATER_THAN else have < want

    def __str__(self) -> str:
        op = self.operator
        if op is Operator.EXISTS:
            return self.key
        if op is Operator.DOES_NOT_EXIST:
            return "!" + self.key
        if op in (Operator.IN, Operator.NOT_IN):
            # A lone empty value has to be written `(,)`: `()` would be the empty set.
            return f"{self.key} {op.value} ({','.join(self.values) or ','})"
        symbol = {Operator.GREATER_THAN: ">", Operator.LESS_THAN: "<"}.get(op, op.value)
        return f"{self.key}{symbol}{self.values[0]}"


def _as_int64(text: str) -> int | None:
    """``strconv.ParseInt(text, 10, 64)``: optional sign, decimal digits, within int64."""
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        return None
    value = int(text)
    if not -(2**63) <= value < 2**63:
        return None
    return value


@dataclass(frozen=True)
class LabelSelector:
    """A conjunction of label requirements; no requirements selects everything."""

    requirements: tuple[Requirement, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "requirements", tuple(sorted(self.requirements)))

    @classmethod
    def everything(cls) -> LabelSelector:
        return cls(())

    @classmethod
    def from_labels(cls, labels: Mapping[str, str]) -> LabelSelector:
        """The selector matching exactly these labels (``labels.SelectorFromSet``)."""
        return cls(tuple(Requirement.build(k, Operator.EQUALS, [v]) for k, v in labels.items()))

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> LabelSelector:
        """Convert a structured ``metav1.LabelSelector`` (``matchLabels``/``matchExpressions``).

        Errors name the field path (``matchExpressions[1].operator``) so a 422 tells the user
        which part of their manifest to fix.
        """
        if not isinstance(obj, Mapping):
            raise SelectorError(f"selector: must be an object, not {type(obj).__name__}")
        reqs: list[Requirement] = []
        match_labels = obj.get("matchLabels") or {}
        if not isinstance(match_labels, Mapping):
            raise SelectorError("matchLabels: must be an object of string values")
        for key, value in match_labels.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise SelectorError(f"matchLabels[{key}]: must be a string")
            try:
                reqs.append(Requirement.build(key, Operator.EQUALS, [value]))
            except SelectorError as exc:
                raise SelectorError(f"matchLabels: {exc}") from exc
        expressions = obj.get("matchExpressions") or []
        if not isinstance(expressions, list):
            raise SelectorError("matchExpressions: must be a list")
        for index, expr in enumerate(expressions):
            reqs.append(_expression_requirement(index, expr))
        return cls(tuple(reqs))

    @property
    def is_empty(self) -> bool:
        """True when the selector has no requirements and so selects everything."""
        return not self.requirements

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


_STRUCTURED_OPERATORS = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
}


def _expression_requirement(index: int, expr: Any) -> Requirement:
    where = f"matchExpressions[{index}]"
    if not isinstance(expr, Mapping):
        raise SelectorError(f"{where}: must be an object")
    key = expr.get("key")
    if not isinstance(key, str):
        raise SelectorError(f"{where}.key: Required value")
    raw_op = expr.get("operator")
    operator = _STRUCTURED_OPERATORS.get(raw_op) if isinstance(raw_op, str) else None
    if operator is None:
        raise SelectorError(
            f'{where}.operator: Invalid value: "{raw_op}": not a valid selector operator '
            "(In, NotIn, Exists, DoesNotExist)"
        )
    values = expr.get("values") or []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise SelectorError(f"{where}.values: must be a list of strings")
    if operator in (Operator.IN, Operator.NOT_IN) and not values:
        raise SelectorError(
            f"{where}.values: Required value: must be specified when `operator` is 'In' or 'NotIn'"
        )
    if operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and values:
        raise SelectorError(
            f"{where}.values: Forbidden: may not be specified when `operator` is 'Exists' or "
            "'DoesNotExist'"
        )
    try:
        return Requirement.build(key, operator, values)
    except SelectorError as exc:
        raise SelectorError(f"{where}.{exc}") from exc


# --- the string grammar ---------------------------------------------------------------------

_WHITESPACE = frozenset(" \t\r\n")
_SPECIAL = frozenset("!=,()<>")


def _tokens(text: str) -> list[str]:
    """Split selector text into identifiers and the symbols ``! != = == , ( ) < >``.

    Like apimachinery's lexer, an identifier runs until whitespace or a symbol character, so
    ``a b`` is two identifiers and ``a=b=c`` is ``a`` ``=`` ``b`` ``=`` ``c``.
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _WHITESPACE:
            i += 1
        elif ch in _SPECIAL:
            if ch in "!=" and i + 1 < n and text[i + 1] == "=":
                out.append(ch + "=")
                i += 2
            else:
                out.append(ch)
                i += 1
        else:
            j = i
            while j < n and text[j] not in _WHITESPACE and text[j] not in _SPECIAL:
                j += 1
            out.append(text[i:j])
            i = j
    return out


_SYMBOLS = frozenset(["!", "!=", "=", "==", ",", "(", ")", "<", ">"])
_KEYWORDS = frozenset(["in", "notin"])
_END = ""  # the end-of-string token; identifiers are never empty


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self) -> str:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else _END

    def take(self) -> str:
        tok = self.peek()
        self.pos += 1
        return tok

    @staticmethod
    def shown(tok: str) -> str:
        return tok if tok != _END else "end of string"

    @staticmethod
    def is_value(tok: str) -> bool:
        """In value position the keywords ``in``/``notin`` are plain identifiers."""
        return tok != _END and tok not in _SYMBOLS

    @staticmethod
    def is_key(tok: str) -> bool:
        return tok != _END and tok not in _SYMBOLS and tok not in _KEYWORDS

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok = self.peek()
            if tok == _END:
                return reqs
            if tok != "!" and not self.is_value(tok):
                raise SelectorError(
                    f"found '{self.shown(tok)}', expected: !, identifier, or 'end of string'"
                )
            reqs.append(self.requirement())
            tok = self.take()
            if tok == _END:
                return reqs
            if tok != ",":
                raise SelectorError(f"found '{tok}', expected: ',' or 'end of string'")
            nxt = self.peek()
            if nxt != "!" and not self.is_value(nxt):
                raise SelectorError(f"found '{self.shown(nxt)}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        negated = self.peek() == "!"
        if negated:
            self.take()
        key = self.take()
        if not self.is_key(key):
            raise SelectorError(f"found '{self.shown(key)}', expected: identifier")
        if negated:
            return Requirement.build(key, Operator.DOES_NOT_EXIST)
        tok = self.peek()
        if tok in (_END, ","):
            return Requirement.build(key, Operator.EXISTS)
        self.take()
        if tok in ("=", "=="):
            return Requirement.build(key, Operator.EQUALS, [self.exact_value()])
        if tok == "!=":
            return Requirement.build(key, Operator.NOT_EQUALS, [self.exact_value()])
        if tok in (">", "<"):
            op = Operator.GREATER_THAN if tok == ">" else Operator.LESS_THAN
            return Requirement.build(key, op, [self.exact_value()])
        if tok in _KEYWORDS:
            op = Operator.IN if tok == "in" else Operator.NOT_IN
            return Requirement.build(key, op, self.value_set())
        raise SelectorError(f"found '{tok}', expected: in, notin, =, ==, !=, gt, lt")

    def exact_value(self) -> str:
        tok = self.peek()
        if tok in (_END, ","):
            return ""  # `a=` selects the empty value, as upstream
        self.take()
        if not self.is_value(tok):
            raise SelectorError(f"found '{tok}', expected: identifier")
        return tok

    def value_set(self) -> list[str]:
        tok = self.take()
        if tok != "(":
            raise SelectorError(f"found '{self.shown(tok)}', expected: '('")
        if self.peek() == ")":
            self.take()
            return []
        values: list[str] = []
        expect_value = True
        while True:
            tok = self.take()
            if expect_value and self.is_value(tok):
                values.append(tok)
                expect_value = False
            elif tok == ",":
                if expect_value:
                    values.append("")  # `(a,,b)` and `(a,)` carry an empty value
                expect_value = True
            elif tok == ")":
                if expect_value:
                    values.append("")
                return values
            else:
                raise SelectorError(f"found '{self.shown(tok)}', expected: ',' or ')'")


def parse_label_selector(text: str) -> LabelSelector:
    """Parse the ``?labelSelector=`` string form; empty or blank text selects everything."""
    if not isinstance(text, str):
        raise SelectorError(f"label selector must be a string, not {type(text).__name__}")
    return _parse_label_selector(text)


@functools.lru_cache(maxsize=1024)
def _parse_label_selector(text: str) -> LabelSelector:
    # Cached (the result is immutable): a controller lists with the same selector on every poll.
    try:
        return LabelSelector(tuple(_Parser(text).parse()))
    except SelectorError as exc:
        raise SelectorError(f"unable to parse requirement: {exc}") from exc


# --- field selectors ------------------------------------------------------------------------


def _escape_field_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _unescape_field_value(raw: str) -> str:
    """Undo ``\\\\``, ``\\,`` and ``\\=``; anything else after a backslash is an error.

    A bare ``,`` or ``=`` cannot occur in a value (the term split would have taken it), so
    upstream rejects it rather than guessing what the client meant.
    """
    out: list[str] = []
    escaped = False
    for ch in raw:
        if escaped:
            if ch not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{ch}")
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in ",=":
            raise SelectorError(f"invalid field selector: unescaped character in value: {ch}")
        else:
            out.append(ch)
    if escaped:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_terms(text: str) -> list[str]:
    terms: list[str] = []
    start = 0
    escaped = False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


@dataclass(frozen=True)
class FieldSelector:
    """A conjunction of ``field=value`` / ``field!=value`` terms.

    A field missing from the object's field set compares as the empty string, which is how
    ``spec.nodeName=`` finds unscheduled pods.
    """

    requirements: tuple[tuple[str, str, str], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "requirements", tuple(sorted(self.requirements)))

    @classmethod
    def everything(cls) -> FieldSelector:
        return cls(())

    @property
    def is_empty(self) -> bool:
        return not self.requirements

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(field for field, _, _ in self.requirements)

    def matches(self, fields: Mapping[str, str]) -> bool:
        for field, op, value in self.requirements:
            have = fields.get(field, "")
            if (have == value) != (op == "="):
                return False
        return True

    def for_kind(self, kind: str, group: str = "") -> FieldSelector:
        """This selector checked against the fields ``kind`` supports, aliases resolved.

        Raises ``SelectorError("field label not supported: X")`` like kube-apiserver, which
        answers it with 400.
        """
        allowed = supported_fields(kind, group)
        aliases = _FIELD_ALIASES.get((group, kind), {})
        out: list[tuple[str, str, str]] = []
        for field, op, value in self.requirements:
            field = aliases.get(field, field)
            if field not in allowed:
                raise SelectorError(f"field label not supported: {field}")
            out.append((field, op, value))
        return FieldSelector(tuple(out))

    def __str__(self) -> str:
        return ",".join(
            f"{field}{'=' if op == '=' else '!='}{_escape_field_value(value)}"
            for field, op, value in self.requirements
        )


def parse_field_selector(text: str) -> FieldSelector:
    """Parse the ``?fieldSelector=`` string form (``a=b``, ``a==b``, ``a!=b``, comma-joined).

    Empty terms are skipped and whitespace is significant, as in apimachinery. The operator is
    the first ``!=``, ``==`` or ``=`` in the term; the value may escape ``\\``, ``,`` and ``=``
    with a backslash.
    """
    if not isinstance(text, str):
        raise SelectorError(f"field selector must be a string, not {type(text).__name__}")
    reqs: list[tuple[str, str, str]] = []
    for term in _split_terms(text) if text else []:
        if not term:
            continue
        for i in range(len(term)):
            rest = term[i:]
            op = next((o for o in ("!=", "==", "=") if rest.startswith(o)), None)
            if op is not None:
                field, raw = term[:i], term[i + len(op) :]
                break
        else:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
        reqs.append((field, "!=" if op == "!=" else "=", _unescape_field_value(raw)))
    return FieldSelector(tuple(reqs))


# --- which fields each kind exposes -------------------------------------------------------------

_META_NAMESPACED = frozenset({"metadata.name", "metadata.namespace"})

_POD_FIELDS = frozenset(
    {
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    }
)
_CORE_EVENT_FIELDS = (
    "kind",
    "namespace",
    "name",
    "uid",
    "apiVersion",
    "resourceVersion",
    "fieldPath",
)

#: (group, kind) -> field labels accepted in a field selector, from the field label conversion
#: functions registered in kube-apiserver. Kinds not listed accept metadata.name and
#: metadata.namespace, as upstream's default conversion does.
_SUPPORTED: dict[tuple[str, str], frozenset[str]] = {
    ("", "Pod"): _META_NAMESPACED | _POD_FIELDS,
    ("", "Node"): frozenset({"metadata.name", "spec.unschedulable"}),
    ("", "Namespace"): frozenset({"metadata.name", "status.phase"}),
    ("", "Secret"): _META_NAMESPACED | {"type"},
    ("", "Service"): _META_NAMESPACED | {"spec.clusterIP", "spec.type"},
    ("", "ReplicationController"): _META_NAMESPACED | {"status.replicas"},
    ("", "Event"): _META_NAMESPACED
    | {f"involvedObject.{f}" for f in _CORE_EVENT_FIELDS}
    | {"reason", "reportingComponent", "source", "type"},
    ("events.k8s.io", "Event"): _META_NAMESPACED
    | {f"regarding.{f}" for f in _CORE_EVENT_FIELDS}
    | {"reason", "reportingController", "type"},
    ("apps", "ReplicaSet"): _META_NAMESPACED | {"status.replicas"},
    ("batch", "Job"): _META_NAMESPACED | {"status.successful"},
}

_FIELD_ALIASES: dict[tuple[str, str], dict[str, str]] = {
    # Old v1 clients still send spec.host for pods.
    ("", "Pod"): {"spec.host": "spec.nodeName"},
}


def supported_fields(kind: str, group: str = "") -> frozenset[str]:
    """The field labels a field selector may name for objects of ``group``/``kind``."""
    return _SUPPORTED.get((group, kind), _META_NAMESPACED)


def _get(obj: Mapping[str, Any], *path: str) -> Any:
    cur: Any = obj
    for part in path:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(part)
    return cur


def _text(value: Any) -> str:
    """Field values as Go's formatting renders them: bools lower-case, absent as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def field_set(obj: Mapping[str, Any], kind: str, group: str | None = None) -> dict[str, str]:
    """The selectable field values of ``obj``, keyed the way field selectors name them.

    ``group`` defaults to the group of the object's ``apiVersion``; it only matters for Event,
    which core/v1 describes with ``involvedObject`` and events.k8s.io/v1 with ``regarding``.
    """
    if group is None:
        api_version = obj.get("apiVersion")
        group = (
            api_version.rpartition("/")[0]
            if isinstance(api_version, str) and "/" in api_version
            else ""
        )
    out = {
        "metadata.name": _text(_get(obj, "metadata", "name")),
        "metadata.namespace": _text(_get(obj, "metadata", "namespace")),
    }
    if (group, kind) == ("", "Pod"):
        pod_ips = _get(obj, "status", "podIPs")
        pod_ip = _get(obj, "status", "podIP")
        if not pod_ip and isinstance(pod_ips, list) and pod_ips:
            pod_ip = _get(pod_ips[0], "ip") if isinstance(pod_ips[0], Mapping) else None
        out.update(
            {
                "spec.nodeName": _text(_get(obj, "spec", "nodeName")),
                "spec.restartPolicy": _text(_get(obj, "spec", "restartPolicy")),
                "spec.schedulerName": _text(_get(obj, "spec", "schedulerName")),
                "spec.serviceAccountName": _text(_get(obj, "spec", "serviceAccountName")),
                "spec.hostNetwork": _text(bool(_get(obj, "spec", "hostNetwork"))),
                "status.phase": _text(_get(obj, "status", "phase")),
                "status.podIP": _text(pod_ip),
                "status.nominatedNodeName": _text(_get(obj, "status", "nominatedNodeName")),
            }
        )
    elif (group, kind) == ("", "Node"):
        out["spec.unschedulable"] = _text(bool(_get(obj, "spec", "unschedulable")))
    elif (group, kind) == ("", "Namespace"):
        out["status.phase"] = _text(_get(obj, "status", "phase"))
    elif (group, kind) == ("", "Secret"):
        out["type"] = _text(obj.get("type"))
    elif (group, kind) == ("", "Service"):
        out["spec.clusterIP"] = _text(_get(obj, "spec", "clusterIP"))
        out["spec.type"] = _text(_get(obj, "spec", "type"))
    elif (group, kind) in (("", "ReplicationController"), ("apps", "ReplicaSet")):
        out["status.replicas"] = _text(_get(obj, "status", "replicas") or 0)
    elif (group, kind) == ("batch", "Job"):
        out["status.successful"] = _text(_get(obj, "status", "succeeded") or 0)
    elif (group, kind) == ("", "Event"):
        for f in _CORE_EVENT_FIELDS:
            out[f"involvedObject.{f}"] = _text(_get(obj, "involvedObject", f))
        out["reason"] = _text(obj.get("reason"))
        out["reportingComponent"] = _text(obj.get("reportingComponent"))
        out["source"] = _text(_get(obj, "source", "component"))
        out["type"] = _text(obj.get("type"))
    elif (group, kind) == ("events.k8s.io", "Event"):
        for f in _CORE_EVENT_FIELDS:
            out[f"regarding.{f}"] = _text(_get(obj, "regarding", f))
        out["reason"] = _text(obj.get("reason"))
        out["reportingController"] = _text(obj.get("reportingController"))
        out["type"] = _text(obj.get("type"))
    return out
