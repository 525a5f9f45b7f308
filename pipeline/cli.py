"""The `mobilenet-pipeline` command: run the pipeline, make demo data, manage the registry, deploy to Kubeflow.

The front door: it builds the parser of every subcommand and dispatches to `pipeline/commands/` and
`kubeflow/commands.py` (the only place in `pipeline/` that reaches into `kubeflow/`).
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import sys
import warnings
from typing import NoReturn

from pipeline import config as config_lib


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    from kubeflow import commands as kubeflow_commands
    from pipeline.commands import local, registry

    parser = argparse.ArgumentParser(prog="mobilenet-pipeline", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    local.add_local_subparsers(commands)
    registry.add_registry_subparser(commands, default_root=config_lib.RegistryConfig().root)
    kubeflow_commands.add_kubeflow_subparsers(commands)
    return parser


def _quiet_libraries(command: str) -> None:
    """Keep library noise off the terminal: a run sends it to its log file; other commands drop it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2" if command == "run" else "3")
    if command != "run":
        warnings.filterwarnings("ignore", category=FutureWarning)
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")


def main(argv: list[str] | None = None) -> int:
    """Entry point of `mobilenet-pipeline` and `python -m pipeline`."""
    args = build_parser().parse_args(argv)
    _quiet_libraries(args.command)
    try:
        if args.command == "registry":
            from pipeline.commands import registry

            return registry.run_registry_command(args)
        from kubeflow import commands as kubeflow_commands

        if args.command in kubeflow_commands.KUBEFLOW_COMMANDS:
            return kubeflow_commands.run_kubeflow_command(args)
        from pipeline.commands import local

        return local.LOCAL_COMMANDS[args.command](args)
    except (config_lib.ConfigError, ValueError, OSError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def command() -> NoReturn:
    """The process of `mobilenet-pipeline` and `python -m pipeline`: `main`, then the exit handlers (logging's,
    multiprocessing's, temporary folders'), then the end of the process without the interpreter's finalization:
    tearing down the modules of TensorFlow, TFX and Beam takes seconds after every run, with nothing left to
    write."""
    exit_without_finalization(main())


def exit_without_finalization(code: int) -> NoReturn:
    """End the process with `code` after its exit handlers and flushing its output, skipping the interpreter's
    finalization (the teardown of TensorFlow's, TFX's and Beam's modules)."""
    atexit._run_exitfuncs()  # what a normal exit runs first; CPython has no public name for it
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
