"""What differs from KEDA for someone porting manifests: the README's "Porting from KEDA"
section, generated from the scaler registry and the modules' own lists of what they cannot do
yet, so it cannot drift from the code.

Regenerate with ``python -m scalers.porting README.md`` (the text between the two markers is
replaced); ``tests/unit/scalers/test_porting.py`` fails when the README is stale.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Final

from podscaler.api.triggerauth import UNSUPPORTED_AUTH_SOURCES
from scalers.kafka import UNSUPPORTED_SASL
from scalers.prometheus import UNSUPPORTED_AUTH_MODES, UNSUPPORTED_POD_IDENTITIES
from scalers.registry import ScalerRegistry, builtin_factories

__all__ = ["BEGIN", "END", "KEDA_TRIGGER_TYPES", "porting_section", "update_readme"]

BEGIN: Final = "<!-- porting-from-keda:begin (python -m scalers.porting README.md) -->"
END: Final = "<!-- porting-from-keda:end -->"

#: The trigger types KEDA registers (``pkg/scaling/scalers_builder.go`` at kedacore/keda
#: 8b4f083, 2026-08-20), its test-only ``external-mock`` left out.
KEDA_TRIGGER_TYPES: Final = (
    "activemq", "apache-kafka", "arangodb", "artemis-queue", "aws-cloudwatch", "aws-dynamodb",
    "aws-dynamodb-streams", "aws-kinesis-stream", "aws-sqs-queue", "azure-app-insights",
    "azure-blob", "azure-data-explorer", "azure-eventhub", "azure-log-analytics",
    "azure-monitor", "azure-pipelines", "azure-queue", "azure-servicebus", "beanstalkd",
    "cassandra", "clickhouse", "couchdb", "cpu", "cron", "datadog", "dynatrace",
    "elastic-forecast", "elasticsearch", "etcd", "external", "external-push", "forgejo-runner",
    "gcp-cloudtasks", "gcp-pubsub", "gcp-spanner", "gcp-stackdriver", "gcp-storage",
    "github-runner", "graphite", "huawei-cloudeye", "ibmmq", "influxdb", "kafka",
    "kubernetes-resource", "kubernetes-workload", "liiklus", "loki", "memory", "metrics-api",
    "mongodb", "mssql", "mysql", "nats-jetstream", "new-relic", "nsq", "opensearch",
    "openstack-metric", "openstack-swift", "postgresql", "predictkube", "prometheus", "pulsar",
    "rabbitmq", "redis", "redis-cluster", "redis-cluster-streams", "redis-sentinel",
    "redis-sentinel-streams", "redis-streams", "selenium-grid", "solace-direct-messaging",
    "solace-event-queue", "solarwinds", "solr", "splunk", "splunk-observability", "sumologic",
    "temporal",
)  # fmt: skip


def _code(names: object) -> str:
    return ", ".join(f"`{name}`" for name in names)  # type: ignore[attr-defined]


def porting_section(registry: ScalerRegistry | None = None) -> str:
    """The section's Markdown (without the markers) for *registry* (the built-ins by
    default: the README describes what podscaler ships, not what a machine has installed)."""
    types = set((registry or ScalerRegistry(builtin_factories())).trigger_types)
    shared = sorted(types & set(KEDA_TRIGGER_TYPES))
    ours = sorted(types - set(KEDA_TRIGGER_TYPES))
    missing = sorted(set(KEDA_TRIGGER_TYPES) - types)
    lines = [
        "Change `apiVersion: keda.sh/v1alpha1` to `autoscaling.podscaler.io/v1alpha1`; the "
        "schemas are the same. Run `podscaler validate` on the result: it runs every trigger "
        "through the same parser the operator uses, offline, and says what follows here for "
        "your manifests. What differs from KEDA:",
        "",
        "- **Direct mode by default.** Without `spec.advanced.mode: hpa` podscaler writes "
        "`/scale` itself and creates no HPA (see below); `mode: hpa` is KEDA's way.",
        f"- **Trigger types.** {len(shared)} of KEDA's {len(KEDA_TRIGGER_TYPES)} are "
        f"implemented: {_code(shared)}"
        + (f"; podscaler adds {_code(ours)}." if ours else ".")
        + f" Not implemented (an error naming the type, from `validate` and the operator): "
        f"{_code(missing)}. Third-party trigger types install through the `podscaler.scalers` "
        "entry-point group.",
        f"- **TriggerAuthentication sources** not read yet: {_code(UNSUPPORTED_AUTH_SOURCES)} "
        "(use `secretTargetRef`, `configMapTargetRef`, `env` or `podIdentity`).",
        f"- **prometheus auth** not implemented yet: `authModes` "
        f"{_code(m.value for m in UNSUPPORTED_AUTH_MODES)}; pod identity providers "
        f"{_code(UNSUPPORTED_POD_IDENTITIES)} (use bearer, basic, custom, apiKey or tls auth). "
        "Amazon Managed Prometheus works as in KEDA: with `podIdentity` `aws` or AWS keys "
        "(and `awsRegion`) every query is signed with SigV4.",
        f"- **kafka SASL** not implemented yet: {_code(m.value for m in UNSUPPORTED_SASL)}. "
        "`oauthbearer` works as in KEDA: with the `bearer` provider by the client-credentials "
        "grant at `oauthTokenEndpointUri` (`scopes`, `oauthExtensions`; renewed before it "
        "expires), with `aws_msk_iam` by an MSK IAM token signed with SigV4.",
        "- **Unknown metadata keys** are ignored as in KEDA; `validate` warns about each, "
        "since it is often a misspelling, and the operator reports them in one "
        "`TriggerMetadataIgnored` Warning Event per generation of the ScaledObject.",
    ]
    return "\n".join(_wrap(line) for line in lines)


def _wrap(line: str) -> str:
    """One paragraph or bullet wrapped at the README's width (code spans kept whole)."""
    if not line:
        return line
    indent = "  " if line.startswith("- ") else ""
    return textwrap.fill(
        line, width=96, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False
    )


def update_readme(text: str, registry: ScalerRegistry | None = None) -> str:
    """*text* with the section between :data:`BEGIN` and :data:`END` regenerated."""
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return f"{text[:start]}\n{porting_section(registry)}\n{text[end:]}"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m scalers.porting README.md", file=sys.stderr)
        return 2
    path = Path(argv[0])
    path.write_text(update_readme(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
