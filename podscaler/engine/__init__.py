"""The pure core: every scaling decision as a function of (spec, observed state, samples, now).

Nothing here does I/O, awaits, or reads a clock."""
