"""The embedded cluster: an in-memory Kubernetes API server and, later, a simulated world."""
