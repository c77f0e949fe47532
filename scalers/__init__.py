"""Triggers: one module per trigger type behind one Scaler protocol and a registry."""
