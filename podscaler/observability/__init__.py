"""Prometheus metrics, logging and the one list of Event reasons."""
