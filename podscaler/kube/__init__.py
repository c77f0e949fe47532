"""Kubernetes I/O: client setup, informer caches, /scale access, status patches, Events, Leases."""
