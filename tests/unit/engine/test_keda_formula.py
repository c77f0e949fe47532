"""The scalingModifiers formula language: what users write evaluates as expr-lang would, and
nothing a user can type makes the evaluator raise anything but a FormulaError with a position."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.engine.keda.formula import FormulaError, compile_formula, evaluate


@pytest.mark.parametrize(
    ("formula", "variables", "expected"),
    [
        ("trig_one + trig_two", {"trig_one": 2.0, "trig_two": 5.0}, 7.0),
        ("(trig_one + trig_two) / 2", {"trig_one": 2.0, "trig_two": 5.0}, 3.5),
        ("trig_one > 2 ? trig_one + trig_two : 1", {"trig_one": 3.0, "trig_two": 1.0}, 4.0),
        ("trig_one > 2 ? trig_one + trig_two : 1", {"trig_one": 1.0, "trig_two": 1.0}, 1.0),
        ("count([a, b, c], {# > 1}) > 1 ? 5 : 0", {"a": 2.0, "b": 3.0, "c": 0.0}, 5.0),
        ("max(a, b) * 2", {"a": 1.0, "b": 4.0}, 8.0),
        ("min([a, b])", {"a": 1.0, "b": 4.0}, 1.0),
        ("ceil(a / 3) + floor(a / 3)", {"a": 10.0}, 7.0),
        ("round(2.5) + round(-2.5)", {}, 0.0),
        ("abs(a - b)", {"a": 1.0, "b": 4.0}, 3.0),
        ("a ?? b ?? 8", {"a": None, "b": None}, 8.0),
        ("a ?? b ?? 8", {"a": None, "b": 3.0}, 3.0),
        ("a > 1 && b < 1 || !(a == 2)", {"a": 2.0, "b": 0.0}, None),
        ("7 % 3 + 2 ** 3", {}, 9.0),
        ("-2 ** 2", {}, -4.0),
        ("a in [1, 2, 3] ? 1 : 0", {"a": 2.0}, 1.0),
        ("sum([a, b]) / len([a, b])", {"a": 1.0, "b": 3.0}, 2.0),
    ],
)
def test_formulas_users_write_evaluate_like_expr_lang(
    formula: str, variables: dict[str, float | None], expected: float | None
) -> None:
    if expected is None:
        with pytest.raises(FormulaError):  # a bool is not a metric value
            evaluate(formula, variables)
    else:
        assert evaluate(formula, variables) == pytest.approx(expected)


def test_division_by_zero_gives_infinity_like_go_not_an_exception() -> None:
    assert evaluate("a / 0", {"a": 1.0}) == math.inf
    assert math.isnan(evaluate("0 / 0", {}) or 0.0)


@pytest.mark.parametrize(
    ("formula", "position"),
    [("a +", 3), ("(a", 2), ("a ? b", 5), ("foo(1)", 0), ("a @ b", 2), ("1 2", 2), ("#", 0)],
)
def test_syntax_errors_name_the_position(formula: str, position: int) -> None:
    with pytest.raises(FormulaError) as caught:
        compile_formula(formula)
    assert caught.value.position == position
    assert f"position {position}" in str(caught.value)


def test_an_unknown_trigger_name_is_an_error_at_its_position() -> None:
    with pytest.raises(FormulaError) as caught:
        evaluate("a + missing", {"a": 1.0})
    assert caught.value.position == 4
    assert "missing" in caught.value.message


def test_modulo_on_a_float_metric_is_rejected_as_in_keda() -> None:
    with pytest.raises(FormulaError, match="float % int"):
        evaluate("a % 2", {"a": 3.0})


def test_the_formula_lists_the_triggers_it_reads() -> None:
    assert compile_formula("count([a, b], {# > c}) + d ?? 1").names == {"a", "b", "c", "d"}


ALPHABET = st.sampled_from([*list("ab01239.+-*/%()?:!&|<>=[]{}#,' \"_xe"), "??", "**", "max("])


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=40), st.lists(ALPHABET, max_size=30).map("".join)))
def test_arbitrary_input_only_ever_raises_formula_error(source: str) -> None:
    with contextlib.suppress(FormulaError):
        evaluate(source, {"a": 1.5, "b": -2.0, "x": 3.0, "xe": 0.0})


# --- generated arithmetic agrees with the same tree computed in Python, Go-style ------------


@dataclass(frozen=True)
class Num:
    value: int | float


@dataclass(frozen=True)
class Op:
    op: str
    left: Num | Op
    right: Num | Op


def render(node: Num | Op) -> str:
    if isinstance(node, Num):
        text = repr(node.value)
        return f"({text})" if node.value < 0 else text
    return f"({render(node.left)} {node.op} {render(node.right)})"


def reference(node: Num | Op) -> int | float:
    """Go semantics on the same tree: ints stay ints for + - *, '/' is float division."""
    if isinstance(node, Num):
        return node.value
    left, right = reference(node.left), reference(node.right)
    if node.op == "/":
        lf, rf = float(left), float(right)
        if rf == 0:
            return (
                math.nan
                if lf == 0 or math.isnan(lf)
                else math.copysign(math.inf, lf) * (math.copysign(1.0, rf))
            )
        return lf / rf
    if node.op == "+":
        return left + right
    if node.op == "-":
        return left - right
    return left * right


numbers = st.one_of(
    st.integers(min_value=-100, max_value=100).map(Num),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).map(Num),
)
trees = st.recursive(
    numbers,
    lambda children: st.builds(Op, st.sampled_from(["+", "-", "*", "/"]), children, children),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(trees)
def test_generated_arithmetic_agrees_with_python(tree: Num | Op) -> None:
    expected = float(reference(tree))
    actual = evaluate(render(tree), {})
    assert actual is not None
    if math.isnan(expected):
        assert math.isnan(actual)
    else:
        assert actual == pytest.approx(expected, rel=1e-12, abs=1e-12)
