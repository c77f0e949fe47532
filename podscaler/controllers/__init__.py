"""The reconcile loops that gather inputs, call the engine and apply its decisions."""
