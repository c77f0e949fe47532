"""podscaler: one asyncio operator for workload, vertical, proportional and node autoscaling."""
