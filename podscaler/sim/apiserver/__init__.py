"""The embedded kube-apiserver: the versioned store and its watch fan-out, the REST front,
patching, selectors, discovery, aggregation, admission, authentication, the wire formats."""
