"""Kubernetes quantities: parsing every suffix, exact values, apimachinery's canonical form."""

from __future__ import annotations

import contextlib
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from podscaler.api.quantities import Quantity, QuantityError, QuantityField, parse_quantity


@pytest.mark.parametrize(
    ("text", "value", "canonical"),
    [
        ("0", "0", "0"),
        ("1.5", "1.5", "1500m"),
        ("0.5", "0.5", "500m"),
        ("100m", "0.1", "100m"),
        ("1000m", "1", "1"),
        ("1Ki", "1024", "1Ki"),
        ("2048Ki", "2097152", "2Mi"),
        ("1.5Gi", "1610612736", "1536Mi"),
        ("0.5Ki", "512", "512"),
        ("1536", "1536", "1536"),
        ("1k", "1000", "1k"),
        ("1000", "1000", "1k"),
        ("1200", "1200", "1200"),
        ("12M", "12000000", "12M"),
        ("5n", "0.000000005", "5n"),
        ("3u", "0.000003", "3u"),
        ("1E", "1e18", "1E"),
        ("1e3", "1000", "1e3"),
        ("1E-3", "0.001", "1e-3"),
        ("12e2", "1200", "1200"),
        ("-1Ki", "-1024", "-1Ki"),
        ("+2", "2", "2"),
        ("-500m", "-0.5", "-500m"),
        (".5", "0.5", "500m"),
        ("0.0000000001", "0.000000001", "1n"),
    ],
)
def test_parses_to_exact_value_and_formats_canonically(
    text: str, value: str, canonical: str
) -> None:
    quantity = parse_quantity(text)
    assert quantity.value == Decimal(value)
    assert str(quantity) == canonical


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        (" 1", "spaces"),
        ("1 ", "spaces"),
        ("abc", "not valid"),
        ("1K", "not valid"),
        ("1KiB", "not valid"),
        ("1.2.3", "not valid"),
        ("--1", "not valid"),
        ("1e", "not valid"),
        ("m", "not valid"),
    ],
)
def test_invalid_strings_say_why(text: str, why: str) -> None:
    with pytest.raises(QuantityError, match=why):
        parse_quantity(text)


def test_milli_value_and_int_value_round_up() -> None:
    assert parse_quantity("1.5").milli_value() == 1500
    assert parse_quantity("1n").milli_value() == 1
    assert parse_quantity("-1n").milli_value() == 0
    assert parse_quantity("1500m").int_value() == 2
    assert parse_quantity("1Gi").int_value() == 1073741824


def test_equal_values_are_equal_hash_alike_and_sort() -> None:
    assert parse_quantity("1") == parse_quantity("1000m")
    assert hash(parse_quantity("1")) == hash(parse_quantity("1000m"))
    assert sorted([parse_quantity("1Ki"), parse_quantity("1k"), parse_quantity("999")]) == [
        parse_quantity("999"),
        parse_quantity("1k"),
        parse_quantity("1Ki"),
    ]
    assert len({parse_quantity("1"), parse_quantity("1000m")}) == 1


def test_is_immutable_and_keeps_its_suffix_family_through_arithmetic() -> None:
    quantity = parse_quantity("1Gi")
    with pytest.raises(AttributeError):
        quantity._value = Decimal(0)  # type: ignore[misc]
    assert str(quantity + parse_quantity("1Gi")) == "2Gi"
    assert str(quantity - parse_quantity("512Mi")) == "512Mi"


def test_numbers_become_decimal_quantities() -> None:
    assert str(parse_quantity(2)) == "2"
    assert str(parse_quantity(0.1)) == "100m"
    with pytest.raises(QuantityError):
        parse_quantity(float("nan"))
    with pytest.raises(QuantityError):
        Quantity(True)  # type: ignore[arg-type]


class _Model(BaseModel):
    amount: QuantityField


def test_pydantic_field_accepts_strings_and_numbers_and_dumps_canonical_text() -> None:
    assert _Model.model_validate({"amount": "1.5Gi"}).amount == parse_quantity("1536Mi")
    assert _Model.model_validate({"amount": 3}).model_dump() == {"amount": "3"}
    assert _Model.model_validate({"amount": 0.25}).model_dump(mode="json") == {"amount": "250m"}
    with pytest.raises(ValueError, match="not valid"):
        _Model.model_validate({"amount": "lots"})


_SUFFIXES = ["", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
_texts = st.builds(
    lambda sign, whole, frac, suffix: f"{sign}{whole}{frac}{suffix}",
    st.sampled_from(["", "-", "+"]),
    st.integers(min_value=0, max_value=10**12).map(str),
    st.one_of(st.just(""), st.integers(min_value=0, max_value=10**6).map(lambda n: f".{n}")),
    st.one_of(
        st.sampled_from(_SUFFIXES),
        st.integers(min_value=-12, max_value=12).map(lambda n: f"e{n}"),
    ),
)


@given(_texts)
def test_round_trip_through_the_canonical_form(text: str) -> None:
    quantity = parse_quantity(text)
    again = parse_quantity(str(quantity))
    assert again == quantity
    assert str(again) == str(quantity)  # canonical form is idempotent


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=9, min_value=-(10**15), max_value=10**15
    )
)
def test_any_decimal_round_trips(value: Decimal) -> None:
    quantity = Quantity(value)
    assert parse_quantity(str(quantity)) == quantity


@given(st.text(max_size=20))
def test_arbitrary_text_parses_or_raises_quantity_error(text: str) -> None:
    with contextlib.suppress(QuantityError):
        parse_quantity(text)


@pytest.mark.parametrize("value", ["1e191", "9e300", 1e191])
def test_numbers_too_large_for_nano_precision_are_a_quantity_error(value: str | float) -> None:
    with pytest.raises(QuantityError, match="too large"):
        parse_quantity(value)
