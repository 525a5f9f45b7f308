"""The new-data check: whether a run has anything new to train each model on, and what to warm-start it from."""
