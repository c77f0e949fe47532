"""Scenarios: the format, runs of a scenario against the world, assertions, the report."""
