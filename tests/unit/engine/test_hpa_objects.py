"""Quantities in pod JSON become milli-units the same way, cached or not."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.api.quantities import QuantityError, parse_quantity
from podscaler.engine.hpa.objects import milli_of

pytestmark = pytest.mark.filterwarnings("error")

_SUFFIXES = ["", "n", "u", "m", "k", "M", "G", "Ki", "Mi", "Gi", "e3", "x", " "]


def _uncached(text: str) -> int | None:
    try:
        return parse_quantity(text).milli_value()
    except (QuantityError, ValueError):
        return None


@settings(deadline=None, max_examples=200)
@given(
    st.one_of(
        st.builds(
            lambda n, s: f"{n}{s}",
            st.integers(-(10**9), 10**12) | st.decimals(allow_nan=False, allow_infinity=False),
            st.sampled_from(_SUFFIXES),
        ),
        st.text(max_size=8),
    )
)
def test_milli_of_is_the_parsed_quantity_again_and_again(text: str) -> None:
    expected = _uncached(text)
    assert milli_of(text) == expected
    assert milli_of(text) == expected  # the second time from the cache


def test_numbers_and_absence() -> None:
    assert milli_of(2) == 2000
    assert milli_of("250m") == 250
    assert milli_of(None) is None
    assert milli_of("bogus") is None
