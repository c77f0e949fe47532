"""The Jobs a ScaledJob creates: labels copied from the ScaledJob, except the excluded ones."""

from __future__ import annotations

from typing import Any

from podscaler.api.validation import validate_scaled_job
from podscaler.controllers.scaledjob import job_manifest


def _scaled_job(annotations: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledJob",
        "metadata": {
            "name": "mailer",
            "namespace": "default",
            "uid": "u-1",
            "labels": {"team": "mail", "argocd.argoproj.io/instance": "mailer", "tier": "batch"},
            "annotations": annotations,
        },
        "spec": {
            "jobTargetRef": {
                "template": {"spec": {"containers": [{"name": "m", "image": "mailer:1"}]}}
            },
            "triggers": [{"type": "cron", "metadata": {"start": "0 * * * *"}}],
        },
    }


def _job_labels(annotations: dict[str, str]) -> dict[str, str]:
    obj = _scaled_job(annotations)
    labels: dict[str, str] = job_manifest(obj, validate_scaled_job(obj))["metadata"]["labels"]
    return labels


def test_the_scaled_job_labels_are_copied_to_its_jobs() -> None:
    labels = _job_labels({})
    assert labels["team"] == "mail"
    assert labels["argocd.argoproj.io/instance"] == "mailer"
    assert labels["scaledjob.keda.sh/name"] == "mailer"


def test_job_excluded_labels_stay_off_the_jobs() -> None:
    """KEDA's generateJobs: ``scaledjob.keda.sh/job-excluded-labels`` (split on commas) keeps
    those labels off created Jobs, e.g. Argo CD's tracking label that would make it prune
    them."""
    labels = _job_labels(
        {"scaledjob.keda.sh/job-excluded-labels": "argocd.argoproj.io/instance,tier"}
    )
    assert "argocd.argoproj.io/instance" not in labels
    assert "tier" not in labels
    assert labels["team"] == "mail"
    assert labels["scaledjob.keda.sh/name"] == "mailer"
    podscaler = _job_labels({"autoscaling.podscaler.io/job-excluded-labels": "team"})
    assert "team" not in podscaler
