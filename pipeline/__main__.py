"""`python -m pipeline` is the `mobilenet-pipeline` command."""

from pipeline.cli import command

command()
