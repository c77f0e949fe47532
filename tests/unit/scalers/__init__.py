"""Unit tests of the scalers package (pure code and fake servers; no real Prometheus)."""
