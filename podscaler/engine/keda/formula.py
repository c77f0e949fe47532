"""The ``scalingModifiers.formula`` language: a small, safe subset of expr-lang over a dict.

KEDA compiles the formula with expr-lang (``expr.Compile(formula, expr.Env(triggers),
expr.AsFloat64())``) after wrapping it in ``float(...)``, and runs it with every named trigger's
metric value bound to the trigger's name. Users write arithmetic (``a + b``, ``(a + b) / 2``),
conditions (``a > 2 ? a + b : 1``), nil-coalescing for ``fallback.behavior: scalingModifiers``
(``a ?? b ?? 8``), numeric functions (``max(a, b)``, ``ceil(a / 3)``) and, from KEDA's docs,
collection predicates (``count([a, b, c], {# > 1}) > 1 ? 5 : 0``). This module implements that
language and nothing that could reach outside the values it is given: a tokenizer, a Pratt
parser producing an immutable AST, and an evaluator. ``eval``/``compile`` are never used.

Semantics follow expr-lang (and therefore Go) where users can see the difference:

- integers and floats are distinct; ``+ - * %`` on two integers stay integer (wrapping at 64
  bits like Go), ``/`` and ``**``/``^`` always produce a float, mixed operands produce a float;
- float division by zero yields ``±Inf``/``NaN`` like Go; integer ``%`` by zero is an error;
  ``%`` needs two integers (``a % 2`` with a float metric value is an error in KEDA too);
- ``&&``/``||``/``!`` and the ternary condition need booleans, comparisons need comparable types;
- ``round`` rounds half away from zero (Go's ``math.Round``), ``int`` truncates toward zero.

Operator precedence, loosest first: ``? :``; ``||``/``or``; ``&&``/``and``;
``== != < > <= >= in``; ``+ -``; ``* / %``; unary ``!``/``not``; unary ``- +``; ``** ^``
(right-associative); ``??``.

Every failure — lexical, syntactic or at evaluation — is a :class:`FormulaError` carrying the
0-based character position it is about, so a status condition can point at the culprit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from podscaler.api.formulas import (
    FUNCTION_NAMES,
    PREDICATE_NAMES,
    ArrayLiteral,
    Binary,
    Call,
    Closure,
    Conditional,
    FormulaError,
    Literal,
    Name,
    Node,
    Pointer,
    Unary,
    Value,
    parse,
)

__all__ = [
    "Formula",
    "FormulaError",
    "Value",
    "compile_formula",
    "evaluate",
]

_INT64_MIN = -(2**63)


# ---------------------------------------------------------------------------------------------
# Evaluation


def _type_name(value: Value) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return "array"


def _is_number(value: Value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _wrap_int64(value: int) -> int:
    """Go's signed 64-bit overflow: wrap around instead of growing."""
    return (value - _INT64_MIN) % 2**64 + _INT64_MIN


def _as_float(value: int | float) -> float:
    return float(value)


def _power(base: float, exponent: float) -> float:
    """Go's ``math.Pow``: overflow saturates to ±Inf and domain errors give NaN, never raise."""
    odd = exponent.is_integer() and abs(exponent) < 2**53 and int(exponent) % 2 == 1
    if base == 0 and exponent < 0:
        return -math.inf if odd and math.copysign(1.0, base) < 0 else math.inf
    try:
        return math.pow(base, exponent)
    except OverflowError:
        return -math.inf if base < 0 and odd else math.inf
    except ValueError:
        return math.nan


def _divide(left: float, right: float) -> float:
    if right == 0:
        if left == 0 or math.isnan(left):
            return math.nan
        negative = (left < 0) != (math.copysign(1.0, right) < 0)
        return -math.inf if negative else math.inf
    try:
        return left / right
    except OverflowError:
        return math.inf if (left < 0) == (right < 0) else -math.inf


def _arithmetic(op: str, left: Value, right: Value, position: int) -> Value:
    if op == "+" and isinstance(left, str) and isinstance(right, str):
        return left + right
    if not (_is_number(left) and _is_number(right)):
        raise FormulaError(
            f"invalid operation: {_type_name(left)} {op} {_type_name(right)}", position
        )
    assert isinstance(left, int | float)
    assert isinstance(right, int | float)
    both_int = isinstance(left, int) and isinstance(right, int)
    if op == "%":
        if not both_int:
            raise FormulaError(
                f"invalid operation: {_type_name(left)} % {_type_name(right)}", position
            )
        assert isinstance(left, int)
        assert isinstance(right, int)
        if right == 0:
            raise FormulaError("integer divide by zero", position)
        remainder = abs(left) % abs(right)
        return _wrap_int64(-remainder if left < 0 else remainder)
    if op == "/":
        return _divide(_as_float(left), _as_float(right))
    if op == "**":
        return _power(_as_float(left), _as_float(right))
    if both_int:
        assert isinstance(left, int)
        assert isinstance(right, int)
        exact = left + right if op == "+" else left - right if op == "-" else left * right
        return _wrap_int64(exact)
    a, b = _as_float(left), _as_float(right)
    try:
        return a + b if op == "+" else a - b if op == "-" else a * b
    except OverflowError:  # pragma: no cover - float ops saturate to inf in CPython
        return math.inf


def _compare(op: str, left: Value, right: Value, position: int) -> bool:
    if op == "==":
        return _equal(left, right)
    if op == "!=":
        return not _equal(left, right)
    if _is_number(left) and _is_number(right):
        assert isinstance(left, int | float)
        assert isinstance(right, int | float)
        a: float | int | str = left
        b: float | int | str = right
    elif isinstance(left, str) and isinstance(right, str):
        a, b = left, right
    else:
        raise FormulaError(
            f"invalid operation: {_type_name(left)} {op} {_type_name(right)}", position
        )
    if op == "<":
        return a < b  # type: ignore[operator]
    if op == ">":
        return a > b  # type: ignore[operator]
    if op == "<=":
        return a <= b  # type: ignore[operator]
    return a >= b  # type: ignore[operator]


def _equal(left: Value, right: Value) -> bool:
    if _is_number(left) and _is_number(right):
        return left == right
    if type(left) is not type(right):
        return False
    return left == right


def _need_bool(value: Value, what: str, position: int) -> bool:
    if not isinstance(value, bool):
        raise FormulaError(f"{what} needs a bool, got {_type_name(value)}", position)
    return value


def _need_number(value: Value, function: str, position: int) -> int | float:
    if not _is_number(value):
        raise FormulaError(f"{function}() needs a number, got {_type_name(value)}", position)
    assert isinstance(value, int | float)
    return value


def _need_array(value: Value, function: str, position: int) -> tuple[Value, ...]:
    if not isinstance(value, tuple):
        raise FormulaError(f"{function}() needs an array, got {_type_name(value)}", position)
    return value


def _go_round(value: float) -> float:
    if math.isnan(value) or math.isinf(value):
        return value
    return math.copysign(math.floor(abs(value) + 0.5), value)


def _to_int(value: Value, position: int) -> int:
    if isinstance(value, bool) or value is None or isinstance(value, tuple):
        raise FormulaError(f"int() cannot convert {_type_name(value)}", position)
    if isinstance(value, str):
        try:
            return _wrap_int64(int(value.strip(), 10))
        except ValueError:
            raise FormulaError(f"int() cannot parse {value!r}", position) from None
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise FormulaError(f"int() cannot convert {value}", position)
        return _wrap_int64(int(value))
    return value


def _to_float(value: Value, position: int) -> float:
    if isinstance(value, bool) or value is None or isinstance(value, tuple):
        raise FormulaError(f"float() cannot convert {_type_name(value)}", position)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise FormulaError(f"float() cannot parse {value!r}", position) from None
    return float(value)


def _numbers(args: Sequence[Value], function: str, position: int) -> list[int | float]:
    if len(args) == 1 and isinstance(args[0], tuple):
        args = args[0]
    if not args:
        raise FormulaError(f"{function}() needs at least one number", position)
    return [_need_number(arg, function, position) for arg in args]


def _extreme(args: Sequence[Value], function: str, position: int) -> Value:
    numbers = _numbers(args, function, position)
    best = numbers[0]
    for candidate in numbers[1:]:
        if math.isnan(candidate) or (candidate > best if function == "max" else candidate < best):
            best = candidate
    return best


def _sum(args: Sequence[Value], position: int) -> Value:
    items = _need_array(_single(args, "sum", position), "sum", position)
    total: int | float = 0
    for item in items:
        total = _arithmetic("+", total, _need_number(item, "sum", position), position)  # type: ignore[assignment]
    return total


def _mean(args: Sequence[Value], position: int) -> Value:
    numbers = _numbers(args, "mean", position)
    return math.fsum(float(x) for x in numbers) / len(numbers)


def _median(args: Sequence[Value], position: int) -> Value:
    numbers = sorted(float(x) for x in _numbers(args, "median", position))
    middle = len(numbers) // 2
    if len(numbers) % 2:
        return numbers[middle]
    return (numbers[middle - 1] + numbers[middle]) / 2


def _single(args: Sequence[Value], function: str, position: int) -> Value:
    if len(args) != 1:
        raise FormulaError(f"{function}() takes exactly one argument", position)
    return args[0]


def _len(args: Sequence[Value], position: int) -> Value:
    value = _single(args, "len", position)
    if isinstance(value, str | tuple):
        return len(value)
    raise FormulaError(f"len() needs an array or string, got {_type_name(value)}", position)


def _unary_number(function: str, fn: Callable[[int | float], Value]) -> _Function:
    def apply(args: Sequence[Value], position: int) -> Value:
        return fn(_need_number(_single(args, function, position), function, position))

    return apply


_Function = Callable[[Sequence[Value], int], Value]

_FUNCTIONS: dict[str, _Function] = {
    "abs": _unary_number("abs", abs),
    "ceil": _unary_number("ceil", lambda x: float(math.ceil(x)) if math.isfinite(x) else float(x)),
    "floor": _unary_number(
        "floor", lambda x: float(math.floor(x)) if math.isfinite(x) else float(x)
    ),
    "round": _unary_number("round", lambda x: _go_round(float(x))),
    "int": lambda args, pos: _to_int(_single(args, "int", pos), pos),
    "float": lambda args, pos: _to_float(_single(args, "float", pos), pos),
    "max": lambda args, pos: _extreme(args, "max", pos),
    "min": lambda args, pos: _extreme(args, "min", pos),
    "sum": _sum,
    "mean": _mean,
    "median": _median,
    "len": _len,
}
_PREDICATES = PREDICATE_NAMES
assert set(_FUNCTIONS) == FUNCTION_NAMES


@dataclass(frozen=True)
class _Scope:
    variables: Mapping[str, Value]
    element: tuple[Value, ...] = ()  # the current '#', innermost last


def _eval(node: Node, scope: _Scope) -> Value:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Name):
        if node.name not in scope.variables:
            raise FormulaError(f"unknown name {node.name!r}", node.position)
        return scope.variables[node.name]
    if isinstance(node, Pointer):
        return scope.element[-1]
    if isinstance(node, Unary):
        operand = _eval(node.operand, scope)
        if node.op == "!":
            return not _need_bool(operand, "'!'", node.position)
        if not _is_number(operand):
            raise FormulaError(f"invalid operation: {node.op}{_type_name(operand)}", node.position)
        assert isinstance(operand, int | float)
        if node.op == "+":
            return operand
        return _wrap_int64(-operand) if isinstance(operand, int) else -operand
    if isinstance(node, Binary):
        return _binary(node, scope)
    if isinstance(node, Conditional):
        condition = _need_bool(_eval(node.condition, scope), "'?:'", node.position)
        return _eval(node.then if condition else node.otherwise, scope)
    if isinstance(node, ArrayLiteral):
        return tuple(_eval(item, scope) for item in node.items)
    if isinstance(node, Call):
        return _call(node, scope)
    raise FormulaError("a predicate is only allowed as an argument", node.position)


def _binary(node: Binary, scope: _Scope) -> Value:
    op = node.op
    if op == "??":
        left = _eval(node.left, scope)
        return _eval(node.right, scope) if left is None else left
    if op in ("&&", "||"):
        left_bool = _need_bool(_eval(node.left, scope), f"'{op}'", node.position)
        if (op == "&&" and not left_bool) or (op == "||" and left_bool):
            return left_bool
        return _need_bool(_eval(node.right, scope), f"'{op}'", node.position)
    left = _eval(node.left, scope)
    right = _eval(node.right, scope)
    if op in ("==", "!=", "<", ">", "<=", ">="):
        return _compare(op, left, right, node.position)
    if op == "in":
        if not isinstance(right, tuple):
            raise FormulaError(f"'in' needs an array, got {_type_name(right)}", node.position)
        return any(_equal(left, item) for item in right)
    return _arithmetic(op, left, right, node.position)


def _call(node: Call, scope: _Scope) -> Value:
    if node.function in _PREDICATES:
        return _call_predicate(node, scope)
    args = [_eval(arg, scope) for arg in node.args]
    return _FUNCTIONS[node.function](args, node.position)


def _call_predicate(node: Call, scope: _Scope) -> Value:
    if len(node.args) != 2 or not isinstance(node.args[1], Closure):
        raise FormulaError(f"{node.function}() takes an array and a predicate", node.position)
    items = _need_array(_eval(node.args[0], scope), node.function, node.position)
    body = node.args[1].body

    def apply(item: Value) -> Value:
        return _eval(body, _Scope(scope.variables, (*scope.element, item)))

    if node.function == "map":
        return tuple(apply(item) for item in items)
    verdicts = [_need_bool(apply(item), f"{node.function}()", node.position) for item in items]
    if node.function == "all":
        return all(verdicts)
    if node.function == "any":
        return any(verdicts)
    if node.function == "none":
        return not any(verdicts)
    if node.function == "one":
        return verdicts.count(True) == 1
    if node.function == "count":
        return verdicts.count(True)
    return tuple(item for item, keep in zip(items, verdicts, strict=True) if keep)


# ---------------------------------------------------------------------------------------------
# Public API


@dataclass(frozen=True)
class Formula:
    """A parsed formula: parse once (at admission or when the spec changes), evaluate per poll."""

    source: str
    tree: Node

    @property
    def names(self) -> frozenset[str]:
        """The variable names the formula reads (trigger names it depends on)."""
        found: set[str] = set()
        stack: list[Node] = [self.tree]
        while stack:
            node = stack.pop()
            if isinstance(node, Name):
                found.add(node.name)
            elif isinstance(node, Unary):
                stack.append(node.operand)
            elif isinstance(node, Binary):
                stack.extend((node.left, node.right))
            elif isinstance(node, Conditional):
                stack.extend((node.condition, node.then, node.otherwise))
            elif isinstance(node, ArrayLiteral):
                stack.extend(node.items)
            elif isinstance(node, Closure):
                stack.append(node.body)
            elif isinstance(node, Call):
                stack.extend(node.args)
        return frozenset(found)

    def evaluate(self, variables: Mapping[str, Value]) -> Value:
        """The formula's raw value over *variables* (a trigger name → metric value map)."""
        try:
            return _eval(self.tree, _Scope(variables))
        except RecursionError:  # pragma: no cover - MAX_DEPTH keeps trees shallow
            raise FormulaError("formula nested too deeply", 0) from None

    def evaluate_float(self, variables: Mapping[str, Value]) -> float | None:
        """The composite metric value: the result cast with expr-lang's ``float()``.

        ``None`` (nil) passes through: with ``fallback.behavior: scalingModifiers`` a formula
        whose every branch fell back to nil yields no value and the caller substitutes
        ``fallback.replicas * target``, as KEDA does.
        """
        result = self.evaluate(variables)
        if result is None:
            return None
        return _to_float(result, 0)


def compile_formula(source: str) -> Formula:
    """Parse *source*; raises :class:`FormulaError` naming the position of the first problem."""
    return Formula(source, parse(source))


def evaluate(source: str, variables: Mapping[str, Value]) -> float | None:
    """Parse and evaluate in one go, cast to float like KEDA's composite metric."""
    return compile_formula(source).evaluate_float(variables)
