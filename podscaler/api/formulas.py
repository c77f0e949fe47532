"""Static checks of ``scalingModifiers.formula`` (an expr-lang expression) at admission.

KEDA compiles the formula with the named, non-cpu/memory triggers as its variables, so a
formula that names a trigger that does not exist (or has no name) is rejected when the object is
created, not at the first poll. This module does the same for podscaler without evaluating
anything: it tokenizes the expression, checks that brackets balance and operands and operators
alternate, and that every free variable is a trigger name. Evaluation belongs to the engine.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

__all__ = ["FormulaError", "check_formula", "formula_variables"]

#: expr-lang words that are not variables.
_KEYWORDS: Final = frozenset(
    {
        "true",
        "false",
        "nil",
        "and",
        "or",
        "not",
        "in",
        "matches",
        "contains",
        "startsWith",
        "endsWith",
        "let",
        "if",
        "else",
    }
)

_TOKEN_RE: Final = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>(?:\d[\d_]*)?\.?\d[\d_]*(?:[eE][+-]?\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<pointer>\#[A-Za-z_0-9]*)
  | (?P<operator>\?\?|\?\.|\.\.|\*\*|==|!=|<=|>=|&&|\|\||[-+*/%^<>!?:.|=;])
  | (?P<open>[(\[{])
  | (?P<close>[)\]}])
  | (?P<comma>,)
    """,
    re.VERBOSE,
)

_PAIRS: Final = {")": "(", "]": "[", "}": "{"}
_PREFIX_OPERATORS: Final = frozenset({"-", "+", "!", "not"})


class FormulaError(ValueError):
    """The formula cannot compile; the message says where and why."""


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    position: int


def _tokens(formula: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(formula):
        match = _TOKEN_RE.match(formula, position)
        if match is None or match.end() == position:
            raise FormulaError(f"unexpected character {formula[position]!r} at position {position}")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(_Token(kind, match.group(), position))
        position = match.end()
    return tokens


def formula_variables(formula: str) -> list[str]:
    """Free variables of *formula* (trigger names it uses), in order of first use."""
    tokens = _tokens(formula)
    declared: set[str] = set()
    found: list[str] = []
    for index, token in enumerate(tokens):
        if token.kind != "name" or token.text in _KEYWORDS:
            continue
        before = tokens[index - 1] if index > 0 else None
        after = tokens[index + 1] if index + 1 < len(tokens) else None
        if before is not None and before.text == "let":
            declared.add(token.text)
            continue
        if before is not None and before.text in {".", "?."}:
            continue  # member access: x.field
        if after is not None and after.text == "(":
            continue  # function call: float(x), max(a, b)
        if after is not None and after.text == ":" and _inside_map_literal(tokens, index):
            continue  # map literal key: {a: 1}
        if token.text not in declared and token.text not in found:
            found.append(token.text)
    return found


def _inside_map_literal(tokens: list[_Token], index: int) -> bool:
    depth = 0
    for token in reversed(tokens[:index]):
        if token.kind == "close":
            depth += 1
        elif token.kind == "open":
            if depth == 0:
                return token.text == "{"
            depth -= 1
    return False


def check_formula(formula: str, variables: Collection[str]) -> None:
    """Raise :class:`FormulaError` unless *formula* is well formed over *variables*."""
    if not formula.strip():
        raise FormulaError("formula is empty")
    tokens = _tokens(formula)
    stack: list[_Token] = []
    expect_operand = True
    for token in tokens:
        if token.kind == "open":
            if not expect_operand and token.text == "{":
                raise FormulaError(f"unexpected {token.text!r} at position {token.position}")
            stack.append(token)
            expect_operand = True
        elif token.kind == "close":
            if not stack or stack[-1].text != _PAIRS[token.text]:
                raise FormulaError(f"unbalanced {token.text!r} at position {token.position}")
            opened = stack.pop()
            # An empty call "f()", list "[]" or map "{}" closes right after it opens.
            if expect_operand and tokens[tokens.index(opened) + 1] is not token:
                raise FormulaError(
                    f"missing operand before {token.text!r} at position {token.position}"
                )
            expect_operand = False
        elif token.kind == "comma":
            if expect_operand or not stack:
                raise FormulaError(f"unexpected ',' at position {token.position}")
            expect_operand = True
        elif token.kind == "operator" or (
            token.kind == "name" and token.text in _KEYWORDS - {"true", "false", "nil"}
        ):
            if expect_operand:
                if token.text not in _PREFIX_OPERATORS and token.text != "let":
                    raise FormulaError(
                        f"missing operand before {token.text!r} at position {token.position}"
                    )
                continue
            expect_operand = True
        else:
            if not expect_operand:
                raise FormulaError(
                    f"missing operator before {token.text!r} at position {token.position}"
                )
            expect_operand = False
    if stack:
        raise FormulaError(f"unclosed {stack[-1].text!r} at position {stack[-1].position}")
    if expect_operand:
        raise FormulaError("formula ends where an operand is expected")
    known = set(variables)
    for name in formula_variables(formula):
        if name not in known:
            hint = (
                f"; triggers usable in a formula: {', '.join(sorted(known))}"
                if known
                else "; no trigger has a name (cpu and memory triggers cannot be used)"
            )
            raise FormulaError(f"unknown name {name}{hint}")
