"""The subcommands of `mobilenet-pipeline` (the front door, `pipeline/cli.py`, parses and dispatches)."""
