"""Pydantic models whose instances share pydantic's record of the fields they were given.

pydantic keeps, on every model instance, a ``set`` of the names of the fields that were set
explicitly (``model_fields_set``): for a model of five fields a 0.7 KiB hash table, for twenty
2 KiB, often more than the values themselves. An operator holds a parsed spec and parsed
trigger configs per object (tens of thousands of instances of a handful of shapes), and all
instances given the same fields share one set here: at 10,000 ScaledObjects with one trigger
each, ~40 MiB.

It stays correct because nothing changes a shared set: pydantic only adds to it on attribute
assignment, which :meth:`SharedFieldsSet.__setattr__` precedes with a private copy (and frozen
models refuse), and ``model_copy`` copies it before updating it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

__all__ = ["SharedFieldsSet"]

#: One set object per distinct set of field names.
_FIELDS_SETS: dict[frozenset[str], set[str]] = {}


class SharedFieldsSet(BaseModel):
    """Instances given the same fields share one ``model_fields_set`` (module docstring)."""

    def model_post_init(self, context: Any, /) -> None:
        given = self.__pydantic_fields_set__
        shared = _FIELDS_SETS.setdefault(frozenset(given), given)
        if shared is not given:
            object.__setattr__(self, "__pydantic_fields_set__", shared)

    def __setattr__(self, name: str, value: Any) -> None:
        # Copy on write: pydantic adds *name* to the set, which may be shared.
        object.__setattr__(self, "__pydantic_fields_set__", set(self.__pydantic_fields_set__))
        super().__setattr__(name, value)
