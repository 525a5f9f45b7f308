"""Calls and seconds of the functions a small run spent its fixed cost in, over one whole pipeline run.

Runs `mobilenet-pipeline run` in this process with a timer around each function of `TIMED`, then prints how often
each was called and the seconds spent in it. With `--uncached` the run goes without `pipeline.beam_caches` (Beam's
own introspection and options parsing on every call), so both sides of that change come from one command. Timers sit
under the caches: with them, a call the cache answers is not counted.

    python -m bench.calls --data DIR --home HOME [--uncached] [--set KEY=VALUE ...] [--json OUT]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import importlib
import json
import time
from typing import Any, Callable

from pipeline.reporting.tables import text_table

TIMED = (
    "apache_beam.transforms.userstate:get_dofn_specs",
    "apache_beam.options.pipeline_options:PipelineOptions.view_as",
    "apache_beam.internal.pickler:dumps",
    "apache_beam.internal.pickler:loads",
    "apache_beam.runners.worker.statecache:get_deep_size",
    "components.trainer.training:_signatures",
)


def _owner_and_name(target: str) -> tuple[Any, str]:
    """`module:attr` or `module:Class.attr` as (the object holding the attribute, its name)."""
    module_name, _, path = target.partition(":")
    owner: Any = importlib.import_module(module_name)
    *parents, name = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    return owner, name


@dataclasses.dataclass
class Count:
    """Calls of one timed function and the seconds spent in them."""

    calls: int = 0
    seconds: float = 0.0


def install_timers(targets: tuple[str, ...]) -> dict[str, Count]:
    """Wrap each target in a timer; returns target -> its `Count`, filled as the run goes."""
    counts = {}
    for target in targets:
        owner, name = _owner_and_name(target)
        counts[target] = Count()
        setattr(owner, name, _timed(getattr(owner, name), counts[target]))
    return counts


def _timed(function: Callable[..., Any], count: Count) -> Callable[..., Any]:
    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            count.calls += 1
            count.seconds += time.perf_counter() - started

    return timed


def without_beam_caches() -> None:
    """Make the local runner's `beam_caches` do nothing, wherever it is looked up from."""
    from pipeline import beam_caches, local_runner

    for module in (beam_caches, local_runner):
        if hasattr(module, "beam_caches"):
            module.beam_caches = contextlib.nullcontext


def measure(data: str, home: str, overrides: list[str], uncached: bool) -> dict[str, Any]:
    """One pipeline run on `data` with the timers; its exit code, wall seconds and the calls of each target."""
    from bench.runs import set_args
    from pipeline import cli

    counts = install_timers(TIMED)
    if uncached:
        without_beam_caches()
    started = time.monotonic()
    code = cli.main(["run", "--data", data, "--home", home, "--registry", f"{home}/registry", *set_args(overrides)])
    return {
        "exit_code": code,
        "wall_seconds": round(time.monotonic() - started, 1),
        "uncached": uncached,
        "calls": {
            target: {"calls": count.calls, "seconds": round(count.seconds, 2)} for target, count in counts.items()
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Run the pipeline once with the timers, print the table and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="folder of class sub-folders of images")
    parser.add_argument("--home", required=True, help="run home (a fresh folder measures a run without cache hits)")
    parser.add_argument("--uncached", action="store_true", help="run without pipeline.beam_caches")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override, as for `run` (repeatable)",
    )
    parser.add_argument("--json", metavar="OUT", help="also write the result here")
    args = parser.parse_args(argv)
    result = measure(args.data, args.home, args.overrides, args.uncached)
    print(
        text_table(
            ["function", "calls", "seconds"],
            [[target, row["calls"], row["seconds"]] for target, row in result["calls"].items()],
        )
    )
    print(
        f"run: exit code {result['exit_code']}, {result['wall_seconds']} s, "
        f"{'without' if args.uncached else 'with'} pipeline.beam_caches"
    )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=2)
    return result["exit_code"]


if __name__ == "__main__":
    from pipeline.cli import exit_without_finalization

    exit_without_finalization(main())
