"""`python -m bench`: the benchmark (`make bench`)."""

import sys

from bench.command import main

sys.exit(main())
