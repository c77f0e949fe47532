"""Kubernetes resource quantities (``500m``, ``1Gi``, ``1e3``) with exact decimal arithmetic.

A quantity is ``<sign><number><suffix>`` where the suffix is one of three families:

* binary SI: ``Ki Mi Gi Ti Pi Ei`` (powers of 1024),
* decimal SI: ``n u m "" k M G T P E`` (powers of 1000),
* decimal exponent: ``e<int>`` / ``E<int>`` (powers of ten).

The value is held as a :class:`~decimal.Decimal`, never a float, because quantities are compared
and summed (requests, targets, binpacking) and float noise would make ``0.1 + 0.2 != 0.3``.
As k8s.io/apimachinery does, values finer than one nano-unit are rounded up (away from zero) to
the nano-unit when parsed, so every quantity has an exact canonical text form.

Canonical formatting follows apimachinery: the suffix family of the input is kept, except that a
binary quantity whose magnitude is below 1024 or that has a fractional part is written in
decimal SI; the mantissa is the smallest integer the family allows (``1000m`` → ``1``, ``0.5`` →
``500m``, ``1.5Gi`` → ``1536Mi``, ``2048Ki`` → ``2Mi``); zero is always ``0``.

This module imports nothing of pydantic for :class:`Quantity` itself; :data:`QuantityField` is the
annotated type models use to declare a quantity field that accepts strings and numbers.
"""

from __future__ import annotations

import decimal
import functools
import re
from decimal import Decimal
from functools import total_ordering
from typing import Annotated, Any, Final, Literal

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

__all__ = [
    "QUANTITY_PATTERN",
    "Quantity",
    "QuantityError",
    "QuantityField",
    "QuantityFormat",
    "parse_quantity",
]

QuantityFormat = Literal["DecimalSI", "BinarySI", "DecimalExponent"]

#: Exponents of ten of the decimal SI suffixes.
_DECIMAL_SUFFIX_EXPONENTS: Final[dict[str, int]] = {
    "n": -9,
    "u": -6,
    "m": -3,
    "": 0,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}
_DECIMAL_EXPONENT_SUFFIXES: Final[dict[int, str]] = {
    exp: suffix for suffix, exp in _DECIMAL_SUFFIX_EXPONENTS.items()
}

#: Powers of 1024 of the binary SI suffixes.
_BINARY_SUFFIX_POWERS: Final[dict[str, int]] = {
    "Ki": 1,
    "Mi": 2,
    "Gi": 3,
    "Ti": 4,
    "Pi": 5,
    "Ei": 6,
}
_BINARY_POWER_SUFFIXES: Final[dict[int, str]] = {
    power: suffix for suffix, power in _BINARY_SUFFIX_POWERS.items()
}

#: Regular expression a quantity string matches (also placed in the CRD schemas).
QUANTITY_PATTERN: Final[str] = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)

_QUANTITY_RE: Final = re.compile(
    r"^(?P<sign>[+-])?(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?P<suffix>[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?$"
)

#: One nano-unit: apimachinery keeps no finer precision than this.
_NANO: Final = Decimal("1e-9")

#: Enough digits for any quantity Kubernetes accepts (int64 nano-units and well beyond).
_CONTEXT: Final = decimal.Context(prec=200, rounding=decimal.ROUND_HALF_EVEN)


class QuantityError(ValueError):
    """A string or number is not a valid Kubernetes quantity; the message says why."""


def _round_up_to_nano(value: Decimal) -> Decimal:
    """Round away from zero to a whole number of nano-units, as apimachinery does on parse."""
    try:
        return value.quantize(_NANO, rounding=decimal.ROUND_UP, context=_CONTEXT)
    except decimal.InvalidOperation as error:  # more digits than any quantity can hold
        raise QuantityError(f"quantity {value} is too large") from error


@total_ordering
class Quantity:
    """An immutable Kubernetes quantity: an exact decimal ``value`` and the suffix family
    (``format``) it was written in, which decides how it is printed.

    Quantities compare, hash and sort by value only (``Quantity("1")`` equals
    ``Quantity("1000m")``), as ``resource.Quantity.Cmp`` does.
    """

    __slots__ = ("_format", "_value")

    _value: Decimal
    _format: QuantityFormat

    def __init__(self, value: str | int | Decimal | Quantity, fmt: QuantityFormat | None = None):
        if isinstance(value, Quantity):
            amount, parsed_format = value.value, value.format
        elif isinstance(value, str):
            amount, parsed_format = _parse(value)
        elif isinstance(value, bool):
            raise QuantityError(f"a quantity must be a string or a number, not {value!r}")
        elif isinstance(value, int):
            amount, parsed_format = Decimal(value), "DecimalSI"
        elif isinstance(value, Decimal):
            if not value.is_finite():
                raise QuantityError(f"a quantity must be finite, not {value}")
            amount, parsed_format = _round_up_to_nano(value), "DecimalSI"
        else:
            raise QuantityError(f"a quantity must be a string or a number, not {value!r}")
        object.__setattr__(self, "_value", amount)
        object.__setattr__(self, "_format", fmt or parsed_format)

    @classmethod
    def from_number(
        cls, number: float | int | Decimal, fmt: QuantityFormat = "DecimalSI"
    ) -> Quantity:
        """A quantity from a number; floats go through their shortest repr, so ``0.1`` is 1/10."""
        if isinstance(number, bool):
            raise QuantityError(f"a quantity must be a string or a number, not {number!r}")
        if isinstance(number, float):
            if number != number or number in (float("inf"), float("-inf")):
                raise QuantityError(f"a quantity must be finite, not {number}")
            return cls(Decimal(repr(number)), fmt)
        return cls(Decimal(number) if isinstance(number, int) else number, fmt)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Quantity is immutable")

    @property
    def value(self) -> Decimal:
        """The exact value in base units (cores, bytes, or the metric's own unit)."""
        return self._value

    @property
    def format(self) -> QuantityFormat:
        """The suffix family this quantity is printed in."""
        return self._format

    def milli_value(self) -> int:
        """``ceil(value * 1000)``, as ``resource.Quantity.MilliValue`` (e.g. millicores)."""
        milli = _CONTEXT.multiply(self._value, Decimal(1000))
        return int(milli.to_integral_value(rounding=decimal.ROUND_CEILING))

    def int_value(self) -> int:
        """``ceil(value)``, as ``resource.Quantity.Value`` (e.g. bytes)."""
        return int(self._value.to_integral_value(rounding=decimal.ROUND_CEILING))

    def as_float(self) -> float:
        """The value as a float, for maths that is approximate anyway (ratios, utilization)."""
        return float(self._value)

    def is_zero(self) -> bool:
        return self._value == 0

    def canonical(self) -> str:
        """The canonical text form (see the module docstring)."""
        return _format(self._value, self._format)

    def __str__(self) -> str:
        return self.canonical()

    def __repr__(self) -> str:
        return f"Quantity({self.canonical()!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Quantity):
            return self._value == other._value
        return NotImplemented

    def __lt__(self, other: object) -> bool:
        if isinstance(other, Quantity):
            return self._value < other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._value)

    def __add__(self, other: Quantity) -> Quantity:
        return Quantity(_CONTEXT.add(self._value, other._value), self._format)

    def __sub__(self, other: Quantity) -> Quantity:
        return Quantity(_CONTEXT.subtract(self._value, other._value), self._format)

    def __neg__(self) -> Quantity:
        return Quantity(-self._value, self._format)

    def __mul__(self, factor: int) -> Quantity:
        return Quantity(_CONTEXT.multiply(self._value, Decimal(factor)), self._format)

    __rmul__ = __mul__

    def __reduce__(self) -> tuple[Any, ...]:
        return (Quantity, (self.canonical(),))


def parse_quantity(text: str | int | float | Decimal | Quantity) -> Quantity:
    """Parse a quantity from its text form or a number; :class:`QuantityError` when invalid."""
    if isinstance(text, float):
        return Quantity.from_number(text)
    return Quantity(text)


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> tuple[Decimal, QuantityFormat]:
    # Cached: the same few strings ("200m", "128Mi") are parsed for every pod on every poll,
    # and the answer (an immutable Decimal and a name) depends on the text alone.
    stripped = text.strip()
    if not stripped:
        raise QuantityError("a quantity must not be empty")
    if stripped != text:
        raise QuantityError(f"quantity {text!r} must not have leading or trailing spaces")
    match = _QUANTITY_RE.match(text)
    if match is None:
        raise QuantityError(
            f"quantity {text!r} is not valid: expected a number followed by an optional suffix "
            "(n u m k M G T P E, Ki Mi Gi Ti Pi Ei, or an exponent such as e3), e.g. 500m, 1.5, 2Gi"
        )
    sign = -1 if match["sign"] == "-" else 1
    number = Decimal(match["number"], context=_CONTEXT)
    suffix = match["suffix"] or ""
    fmt: QuantityFormat
    if suffix in _BINARY_SUFFIX_POWERS:
        # In the module's wide context: the default one (28 digits) would round large values.
        amount = _CONTEXT.multiply(
            number, _CONTEXT.power(Decimal(1024), _BINARY_SUFFIX_POWERS[suffix])
        )
        fmt = "BinarySI"
    elif suffix in _DECIMAL_SUFFIX_EXPONENTS:
        amount = number.scaleb(_DECIMAL_SUFFIX_EXPONENTS[suffix], context=_CONTEXT)
        fmt = "DecimalSI"
    else:
        exponent = int(suffix[1:])
        if abs(exponent) > 10_000:
            raise QuantityError(f"quantity {text!r} has an exponent out of range")
        amount = number.scaleb(exponent, context=_CONTEXT)
        fmt = "DecimalExponent"
    return _round_up_to_nano(amount.copy_negate() if sign < 0 else amount), fmt


def _format(value: Decimal, fmt: QuantityFormat) -> str:
    if value == 0:
        return "0"
    if fmt == "BinarySI" and -1024 < value < 1024:
        fmt = "DecimalSI"
    if fmt == "BinarySI" and value != value.to_integral_value():
        fmt = "DecimalSI"
    if fmt == "BinarySI":
        return _format_binary(int(value))
    return _format_decimal(value, exponent_suffix=fmt == "DecimalExponent")


def _format_binary(amount: int) -> str:
    power = 0
    while power < max(_BINARY_POWER_SUFFIXES) and amount % 1024 == 0:
        amount //= 1024
        power += 1
    return f"{amount}{_BINARY_POWER_SUFFIXES.get(power, '')}"


def _format_decimal(value: Decimal, *, exponent_suffix: bool) -> str:
    # Write value = mantissa * 10^exponent with an integer mantissa and the exponent a multiple
    # of three, as large as the value allows (capped at E = 10^18 for the SI suffixes).
    sign, digits, exp = value.normalize(context=_CONTEXT).as_tuple()
    assert isinstance(exp, int)
    mantissa = int("".join(map(str, digits)))
    exponent = exp
    # Lower the exponent to a multiple of three (the mantissa grows by ten per step).
    while exponent % 3 != 0:
        mantissa *= 10
        exponent -= 1
    if not exponent_suffix:
        while exponent > 18:
            mantissa *= 1000
            exponent -= 3
        # Nano is the finest unit kept; parsing already rounded to it.
        while exponent < -9:
            mantissa = -(-mantissa // 1000)
            exponent += 3
    text = f"{'-' if sign else ''}{mantissa}"
    if exponent_suffix:
        return text if exponent == 0 else f"{text}e{exponent}"
    return f"{text}{_DECIMAL_EXPONENT_SUFFIXES[exponent]}"


class _QuantityPydantic:
    """Pydantic hooks for :data:`QuantityField`: accepts strings, integers, floats and
    :class:`Quantity`; serializes to the canonical string; documents itself in JSON schema as
    Kubernetes' int-or-string quantity (which is what the CRD generator needs)."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            _coerce,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda q: q.canonical(), when_used="always"
            ),
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": QUANTITY_PATTERN,
            "x-kubernetes-int-or-string": True,
        }


def _coerce(value: Any) -> Quantity:
    if isinstance(value, Quantity):
        return value
    if isinstance(value, (str, int, float, Decimal)) and not isinstance(value, bool):
        return parse_quantity(value)
    raise QuantityError(f"a quantity must be a string or a number, not {type(value).__name__}")


#: A pydantic field type holding a :class:`Quantity` (input: ``"500m"``, ``2``, ``0.5``).
QuantityField = Annotated[Quantity, _QuantityPydantic()]
