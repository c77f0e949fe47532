"""podscaler: one asyncio operator for workload, vertical, proportional and node autoscaling."""

__version__ = "0.1.0"
