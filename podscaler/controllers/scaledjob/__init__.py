"""ScaledJobs: Jobs created for pending events (see :mod:`.controller`)."""

from podscaler.controllers.scaledjob.controller import (
    JOB_LABEL,
    SCALED_JOBS,
    JobSettings,
    ScaledJobContext,
    ScaledJobController,
    job_manifest,
)

__all__ = [
    "JOB_LABEL",
    "SCALED_JOBS",
    "JobSettings",
    "ScaledJobContext",
    "ScaledJobController",
    "job_manifest",
]
