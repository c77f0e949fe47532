"""Node-group providers: where nodes come from (a cloud's auto scaling groups, or the embedded
cluster's simulated cloud), behind the one :class:`~podscaler.nodes.providers.base.NodeGroup`
protocol the node autoscaler plans against."""
