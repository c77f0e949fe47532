"""Go's strconv as KEDA reads annotations and metadata with it: exactly Go's answers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.api.gostrconv import parse_bool, parse_int


def test_parse_bool_knows_go_spellings_only() -> None:
    assert [parse_bool(t) for t in ("1", "t", "T", "TRUE", "true", "True")] == [True] * 6
    assert [parse_bool(t) for t in ("0", "f", "F", "FALSE", "false", "False")] == [False] * 6
    for text in ("", "yes", "tRUE", " true", "2"):
        assert parse_bool(text) is None


def test_parse_int_is_base_ten_with_a_sign_and_a_range() -> None:
    assert parse_int("+7") == 7
    assert parse_int("-0012") == -12
    for text in ("", "+", " 1", "1 ", "1_000", "0x10", "1.0", "١٢"):
        assert parse_int(text) is None
    assert parse_int("2147483647", bits=32) == 2**31 - 1
    assert parse_int("2147483648", bits=32) is None
    assert parse_int("-2147483648", bits=32) == -(2**31)
    assert parse_int("9" * 40, bits=None) == int("9" * 40)
    assert parse_int("9" * 40) is None


@settings(deadline=None)
@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_parse_int_reads_what_go_formats(number: int) -> None:
    assert parse_int(str(number)) == number
    assert parse_int(f"+{number}" if number >= 0 else str(number)) == number
