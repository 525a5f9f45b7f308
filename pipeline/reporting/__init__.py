"""What a run shows: live progress per component, the end-of-run tables, and the per-run report."""
