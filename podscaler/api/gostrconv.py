"""Go's ``strconv`` for the strings KEDA reads with it: booleans and base-10 integers.

KEDA reads annotations (``paused``, ``paused-replicas``), trigger metadata and some spec
strings (``scalingModifiers.target``) with ``strconv.ParseBool`` and ``strconv.ParseInt``, and
what they accept is narrower than Python's ``bool``/``int`` (no spaces, no underscores, only
ASCII digits, twelve spellings of a boolean). The engine and the scalers both need exactly
Go's answer, so the one reading of each lives here.
"""

from __future__ import annotations

from typing import Final

__all__ = ["parse_bool", "parse_int"]

_BOOLEANS: Final = {
    "1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
    "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False,
}  # fmt: skip


def parse_bool(text: str) -> bool | None:
    """``strconv.ParseBool``: the twelve spellings it accepts, else ``None``."""
    return _BOOLEANS.get(text)


def parse_int(text: str, bits: int | None = 64) -> int | None:
    """``strconv.ParseInt(text, 10, bits)``: an optional sign and ASCII digits, within a
    signed *bits*-bit integer (``bits=None``: any size); else ``None``."""
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body or not body.isascii() or not body.isdigit():
        return None
    number = int(text, 10)
    if bits is not None and not -(2 ** (bits - 1)) <= number < 2 ** (bits - 1):
        return None
    return number
