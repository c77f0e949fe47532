"""Kubernetes protobuf bodies (``application/vnd.kubernetes.protobuf``) for the embedded API
server: ``decode.py`` reads them with the field tables in ``schema.json``, which
``generate.py`` builds from upstream's published definitions."""

from podscaler.sim.apiserver.protobuf.decode import (
    MAGIC,
    MalformedBody,
    UnsupportedKind,
    decodable_kinds,
    decode,
)

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"

__all__ = ["MAGIC", "MEDIA_TYPE", "MalformedBody", "UnsupportedKind", "decodable_kinds", "decode"]
