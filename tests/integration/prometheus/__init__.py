"""Integration tests of the prometheus trigger against a real Prometheus."""
