"""Node autoscaling: predicates, binpacking, expanders, the scale-down planner and providers."""
