"""`python -m pipeline` is the `mobilenet-pipeline` command."""
import sys

from pipeline.cli import main

sys.exit(main())
