"""The external.metrics.k8s.io server."""
