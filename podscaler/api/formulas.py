"""The ``scalingModifiers.formula`` language: tokens, syntax tree and a Pratt parser.

This is the one grammar of the formula. Admission (``podscaler validate``, the controller's
checks) parses with it, and the engine (``podscaler.engine.keda.formula``) evaluates the tree
it produces, so a formula is accepted exactly when the engine can evaluate it. It lives in
``api`` because validation needs it and ``api`` is the bottom layer. See the engine module for
the language's semantics. The parser bounds length (``MAX_LENGTH``) and nesting (``MAX_DEPTH``)
so no input can exhaust the stack, and every error is a :class:`FormulaError` with the 0-based
position it is about.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

#: A value the language handles. ``None`` is expr-lang's ``nil``.
Value = int | float | bool | str | None | tuple["Value", ...]

#: Longest formula accepted, in characters.
MAX_LENGTH = 4096

#: Deepest nesting the parser accepts; deeper input is rejected rather than exhausting the stack.
MAX_DEPTH = 64

_INT64_MAX = 2**63 - 1

#: Functions taking values, and builtins taking an array and a predicate (``{# > 1}``).
FUNCTION_NAMES = frozenset(
    {"abs", "ceil", "floor", "round", "int", "float", "max", "min", "sum", "mean", "median", "len"}
)
PREDICATE_NAMES = frozenset({"all", "any", "none", "one", "count", "filter", "map"})


class FormulaError(ValueError):
    """A formula that cannot be tokenized, parsed or evaluated; ``position`` is 0-based."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at position {position})")
        self.message = message
        self.position = position


def parse(source: str) -> Node:
    """The syntax tree of *source*; raises :class:`FormulaError` at the first problem."""
    if not isinstance(source, str):
        raise FormulaError("formula must be a string", 0)
    if len(source) > MAX_LENGTH:
        raise FormulaError(f"formula longer than {MAX_LENGTH} characters", MAX_LENGTH)
    if not source.strip():
        raise FormulaError("formula is empty", 0)
    return _Parser(_tokenize(source)).parse()


def formula_variables(source: str) -> list[str]:
    """The names *source* reads (the triggers it uses), in order of first use."""
    return [name.name for name in _free_names(parse(source))]


def _free_names(tree: Node) -> list[Name]:
    """Each name the tree reads, at its first occurrence."""
    found: dict[str, Name] = {}
    pending: list[Node] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, Name):
            if node.name not in found or node.position < found[node.name].position:
                found[node.name] = node
        elif isinstance(node, Unary):
            pending.append(node.operand)
        elif isinstance(node, Binary):
            pending += [node.left, node.right]
        elif isinstance(node, Conditional):
            pending += [node.condition, node.then, node.otherwise]
        elif isinstance(node, ArrayLiteral):
            pending += node.items
        elif isinstance(node, Call):
            pending += node.args
        elif isinstance(node, Closure):
            pending.append(node.body)
    return sorted(found.values(), key=lambda name: name.position)


def check_formula(source: str, variables: Collection[str]) -> None:
    """Raise :class:`FormulaError` unless *source* parses and reads only *variables*.

    KEDA compiles the formula with the named, non-cpu/memory triggers as its environment, so a
    formula naming anything else is rejected when the object is admitted, not at the first poll.
    """
    known = set(variables)
    for name in _free_names(parse(source)):
        if name.name not in known:
            hint = (
                f"; triggers usable in a formula: {', '.join(sorted(known))}"
                if known
                else "; no trigger has a name (cpu and memory triggers cannot be used)"
            )
            raise FormulaError(f"unknown name {name.name}{hint}", name.position)


# ---------------------------------------------------------------------------------------------
# Tokens


@dataclass(frozen=True)
class _Token:
    kind: str  # "number", "string", "name", "op", "eof"
    text: str
    position: int
    value: Value = None


_OPERATORS = sorted(
    [
        "??", "||", "&&", "==", "!=", "<=", ">=", "**",
        "<", ">", "+", "-", "*", "/", "%", "^", "!", "?", ":",
        "(", ")", "[", "]", "{", "}", ",", "#",
    ],
    key=len,
    reverse=True,
)  # fmt: skip
_WORD_OPERATORS = {"and", "or", "not", "in"}


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    n = len(source)
    while i < n:
        ch = source[i]
        if ch in " \t\r\n":
            i += 1
            continue
        if ch.isdigit() or (ch == "." and i + 1 < n and source[i + 1].isdigit()):
            i = _number(source, i, tokens)
            continue
        if ch in "'\"":
            i = _string(source, i, tokens)
            continue
        if ch.isascii() and (ch.isalpha() or ch in "_$"):
            start = i
            while i < n and source[i].isascii() and (source[i].isalnum() or source[i] in "_$"):
                i += 1
            word = source[start:i]
            kind = "op" if word in _WORD_OPERATORS else "name"
            tokens.append(_Token(kind, word, start))
            continue
        for op in _OPERATORS:
            if source.startswith(op, i):
                tokens.append(_Token("op", op, i))
                i += len(op)
                break
        else:
            raise FormulaError(f"unexpected character {ch!r}", i)
    tokens.append(_Token("eof", "", n))
    return tokens


def _number(source: str, start: int, tokens: list[_Token]) -> int:
    n = len(source)
    i = start
    if source.startswith(("0x", "0X"), i):
        i += 2
        while i < n and (source[i] in "0123456789abcdefABCDEF_"):
            i += 1
        text = source[start:i]
        digits = text[2:].replace("_", "")
        if not digits:
            raise FormulaError(f"invalid number {text!r}", start)
        return _int_token(int(digits, 16), text, start, tokens, i)
    while i < n and (source[i].isdigit() or source[i] == "_"):
        i += 1
    is_float = False
    # A '.' followed by a digit (or nothing numeric-looking) continues the number.
    if i < n and source[i] == "." and not source.startswith("..", i):
        is_float = True
        i += 1
        while i < n and (source[i].isdigit() or source[i] == "_"):
            i += 1
    if i < n and source[i] in "eE":
        j = i + 1
        if j < n and source[j] in "+-":
            j += 1
        if j < n and source[j].isdigit():
            is_float = True
            i = j
            while i < n and source[i].isdigit():
                i += 1
    text = source[start:i]
    cleaned = text.replace("_", "")
    if i < n and (source[i].isalpha() or source[i] == "_"):
        raise FormulaError(f"invalid number {source[start : i + 1]!r}", start)
    try:
        if is_float:
            tokens.append(_Token("number", text, start, float(cleaned)))
            return i
        return _int_token(int(cleaned, 10), text, start, tokens, i)
    except ValueError:
        raise FormulaError(f"invalid number {text!r}", start) from None


def _int_token(value: int, text: str, start: int, tokens: list[_Token], end: int) -> int:
    if value > _INT64_MAX:
        raise FormulaError(f"integer {text!r} out of range", start)
    tokens.append(_Token("number", text, start, value))
    return end


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "0": "\0"}


def _string(source: str, start: int, tokens: list[_Token]) -> int:
    quote = source[start]
    i = start + 1
    out: list[str] = []
    while i < len(source):
        ch = source[i]
        if ch == quote:
            tokens.append(_Token("string", source[start : i + 1], start, "".join(out)))
            return i + 1
        if ch == "\\":
            if i + 1 >= len(source) or source[i + 1] not in _ESCAPES:
                raise FormulaError("invalid escape in string", i)
            out.append(_ESCAPES[source[i + 1]])
            i += 2
            continue
        out.append(ch)
        i += 1
    raise FormulaError("unterminated string", start)


# ---------------------------------------------------------------------------------------------
# AST


@dataclass(frozen=True)
class Literal:
    value: Value
    position: int


@dataclass(frozen=True)
class Name:
    name: str
    position: int


@dataclass(frozen=True)
class Pointer:
    """``#``: the current element inside a predicate closure."""

    position: int


@dataclass(frozen=True)
class Unary:
    op: str
    operand: Node
    position: int


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node
    position: int


@dataclass(frozen=True)
class Conditional:
    condition: Node
    then: Node
    otherwise: Node
    position: int


@dataclass(frozen=True)
class ArrayLiteral:
    items: tuple[Node, ...]
    position: int


@dataclass(frozen=True)
class Closure:
    body: Node
    position: int


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple[Node, ...]
    position: int


Node = Literal | Name | Pointer | Unary | Binary | Conditional | ArrayLiteral | Closure | Call

# Binary precedence and associativity, as expr-lang's operator table orders them.
_BINARY: dict[str, tuple[int, bool]] = {
    "or": (10, False),
    "||": (10, False),
    "and": (15, False),
    "&&": (15, False),
    "==": (20, False),
    "!=": (20, False),
    "<": (20, False),
    ">": (20, False),
    "<=": (20, False),
    ">=": (20, False),
    "in": (20, False),
    "+": (30, False),
    "-": (30, False),
    "*": (60, False),
    "/": (60, False),
    "%": (60, False),
    "**": (100, True),
    "^": (100, True),
    "??": (500, False),
}
_UNARY = {"not": 50, "!": 50, "-": 90, "+": 90}
_CANONICAL = {"or": "||", "and": "&&", "not": "!", "^": "**"}


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = 0
        self.closure_depth = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "eof":
            self.index += 1
        return token

    def expect(self, text: str) -> _Token:
        token = self.current
        if token.kind != "op" or token.text != text:
            raise FormulaError(f"expected {text!r}, found {_describe(token)}", token.position)
        return self.advance()

    def parse(self) -> Node:
        node = self.expression(0)
        if self.current.kind != "eof":
            raise FormulaError(f"unexpected {_describe(self.current)}", self.current.position)
        return node

    def expression(self, min_precedence: int) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FormulaError("formula nested too deeply", self.current.position)
        try:
            left = self.unary()
            while True:
                token = self.current
                if token.kind != "op" or token.text not in _BINARY:
                    break
                precedence, right_assoc = _BINARY[token.text]
                if precedence < min_precedence:
                    break
                self.advance()
                right = self.expression(precedence if right_assoc else precedence + 1)
                op = _CANONICAL.get(token.text, token.text)
                left = Binary(op, left, right, token.position)
            if min_precedence == 0 and self.current.kind == "op" and self.current.text == "?":
                question = self.advance()
                then = self.expression(0)
                self.expect(":")
                otherwise = self.expression(0)
                left = Conditional(left, then, otherwise, question.position)
            return left
        finally:
            self.depth -= 1

    def unary(self) -> Node:
        token = self.current
        if token.kind == "op" and token.text in _UNARY:
            self.advance()
            operand = self.expression(_UNARY[token.text])
            return Unary(_CANONICAL.get(token.text, token.text), operand, token.position)
        return self.primary()

    def primary(self) -> Node:
        token = self.advance()
        if token.kind in ("number", "string"):
            return Literal(token.value, token.position)
        if token.kind == "name":
            if token.text in ("true", "false"):
                return Literal(token.text == "true", token.position)
            if token.text == "nil":
                return Literal(None, token.position)
            if self.current.kind == "op" and self.current.text == "(":
                return self.call(token)
            return Name(token.text, token.position)
        if token.kind == "op":
            if token.text == "(":
                node = self.expression(0)
                self.expect(")")
                return node
            if token.text == "[":
                return ArrayLiteral(self.items("]"), token.position)
            if token.text == "#":
                if self.closure_depth == 0:
                    raise FormulaError("'#' outside a predicate", token.position)
                return Pointer(token.position)
            if token.text == "{":
                raise FormulaError(
                    "a predicate {...} is only allowed as an argument", token.position
                )
        raise FormulaError(f"unexpected {_describe(token)}", token.position)

    def items(self, closing: str) -> tuple[Node, ...]:
        items: list[Node] = []
        while not (self.current.kind == "op" and self.current.text == closing):
            items.append(self.expression(0))
            if self.current.kind == "op" and self.current.text == ",":
                self.advance()
                continue
            break
        self.expect(closing)
        return tuple(items)

    def call(self, name: _Token) -> Call:
        if name.text not in FUNCTION_NAMES and name.text not in PREDICATE_NAMES:
            raise FormulaError(f"unknown function {name.text!r}", name.position)
        self.expect("(")
        args: list[Node] = []
        while not (self.current.kind == "op" and self.current.text == ")"):
            if name.text in PREDICATE_NAMES and len(args) == 1:
                args.append(self.predicate())
            else:
                args.append(self.expression(0))
            if self.current.kind == "op" and self.current.text == ",":
                self.advance()
                continue
            break
        self.expect(")")
        return Call(name.text, tuple(args), name.position)

    def predicate(self) -> Closure:
        start = self.current
        self.closure_depth += 1
        try:
            if start.kind == "op" and start.text == "{":
                self.advance()
                body = self.expression(0)
                self.expect("}")
            else:
                body = self.expression(0)
        finally:
            self.closure_depth -= 1
        return Closure(body, start.position)


def _describe(token: _Token) -> str:
    return "end of formula" if token.kind == "eof" else repr(token.text)
