"""The command line the single-folder photo studies share (`bench.resize_gap`, `bench.trainer_epoch`): a folder, an
input size, the recipe file and its overrides in, a text table and optionally the rows as JSON out."""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any, Sequence

from pipeline.config import PHOTO_PROFILE


def parser(doc: str) -> argparse.ArgumentParser:
    """A parser described by `doc`'s first paragraph, with DATA, --size, --config, --set and --json."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("data", help="folder of class sub-folders of images")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--config", default=PHOTO_PROFILE, help="YAML recipe (default: the photo profile)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--json", help="write the rows here")
    return parser


def log_progress() -> None:
    """The study's progress lines on the terminal."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")


def report(rows: Sequence[dict[str, Any]], table: str, json_path: str | None) -> int:
    """Print `table`, write `rows` to `json_path` when given; the command's exit code."""
    print(table)
    if json_path:
        with open(json_path, "w") as handle:
            json.dump(list(rows), handle, indent=2)
    return 0
