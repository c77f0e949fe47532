"""The vocabulary every layer speaks: custom-resource models, quantities, selectors, CRD schemas.

This package imports nothing else of podscaler and does no I/O, so the pure engine may use it."""
