"""Vertical scaling's I/O room: reading usage history from the user's Prometheus (``history``),
used by ``podscaler recommend`` now and by the VerticalScaler recommender's bootstrap."""
