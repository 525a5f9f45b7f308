"""Run the pipeline on this machine: LocalDagRunner, Beam DirectRunner, sqlite ML Metadata under the run home."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import itertools
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from components.contracts import is_remote
from pipeline.component_ids import ALWAYS_RUN
from pipeline.config import Config

if TYPE_CHECKING:
    from pipeline.portable_services import PortableServices


@dataclasses.dataclass(frozen=True)
class RunPaths:
    """Where a local run keeps its artifacts, metadata and logs."""

    home: Path

    @property
    def pipeline_root(self) -> str:
        """Root of every component's output artifacts."""
        return str(self.home / "pipeline_root")

    @property
    def metadata(self) -> str:
        """The sqlite ML Metadata database."""
        return str(self.home / "metadata.sqlite")

    def new_log(self) -> str:
        """A fresh log file for TFX, Beam and TensorFlow output of one run, created here so that two runs started
        in the same second in one home (its name also names the run's report) get one each."""
        logs = self.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        stem = time.strftime("run-%Y%m%d-%H%M%S")
        for number in itertools.count(1):
            path = logs / (f"{stem}.log" if number == 1 else f"{stem}-{number}.log")
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
            except FileExistsError:
                continue
            return str(path)


def absolute(path: str) -> str:
    """Local paths made absolute (artifacts and ML Metadata outlive the working directory); URLs unchanged."""
    return path if is_remote(path) else os.path.abspath(os.path.expanduser(path))


def localize(config: Config) -> tuple[Config, RunPaths]:
    """A copy of `config` with its local paths made absolute (`config` is left as it is), and the run's paths."""
    local = dataclasses.replace(
        config,
        data=dataclasses.replace(config.data, root=absolute(config.data.root)),
        registry=dataclasses.replace(config.registry, root=absolute(config.registry.root)),
        pipeline=dataclasses.replace(config.pipeline, home=absolute(config.pipeline.home)),
    )
    return local, RunPaths(Path(local.pipeline.home))


@contextlib.contextmanager
def beam_services(config: Config, paths: RunPaths) -> Iterator[tuple[Config, PortableServices | None]]:
    """The services the run's Beam steps need on this machine: with `beam.local_services`, a job service and an
    external SDK worker pool for the duration of the block (logs under the run home's `logs/beam/`), and the
    config with the options that reach them; otherwise nothing to start and the config as it is."""
    if not config.beam.local_services:
        yield config, None
        return
    from pipeline.portable_services import local_portable_services

    with local_portable_services(paths.home / "logs" / "beam") as services:
        beam = dataclasses.replace(config.beam, extra_args=[*config.beam.extra_args, *services.pipeline_args()])
        yield dataclasses.replace(config, beam=beam), services


def run_pipeline(
    config: Config, paths: RunPaths, example_count: int | None = None, to_nodes: Sequence[str] = ()
) -> None:
    """Assemble the pipeline with `create_pipeline` and run it with LocalDagRunner, to the end or (`to_nodes`, a
    partial run) up to those nodes (`example_count`, the images in the data folder when known, picks the
    DirectRunner's mode in `auto`), with the start-up heap kept out of garbage collection, what Beam works out
    repeatedly cached (`pipeline/beam_caches.py`) and the step cache keyed on the new-data check's content
    (`pipeline/step_cache.py`)."""
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner
    from tfx.orchestration.metadata import sqlite_metadata_connection_config

    from pipeline.beam_caches import beam_caches
    from pipeline.pipeline import create_pipeline
    from pipeline.step_cache import content_keyed_step_cache

    paths.home.mkdir(parents=True, exist_ok=True)
    pipeline = create_pipeline(
        config,
        pipeline_root=paths.pipeline_root,
        metadata_connection_config=sqlite_metadata_connection_config(paths.metadata),
        example_count=example_count,
    )
    with frozen_heap(), beam_caches(), content_keyed_step_cache():
        LocalDagRunner().run_with_ir(compile_ir(pipeline), run_options=_partial_run(to_nodes))


def compile_ir(pipeline: Any) -> Any:
    """The pipeline's IR, with the step cache off for the nodes every run executes (`component_ids.ALWAYS_RUN`):
    TFX's compiler gives every node the pipeline's `enable_cache`."""
    from tfx.dsl.compiler import compiler

    ir = compiler.Compiler().compile(pipeline)
    for node in ir.nodes:
        if node.pipeline_node.node_info.id in ALWAYS_RUN:
            node.pipeline_node.execution_options.caching_options.enable_cache = False
    return ir


def _partial_run(to_nodes: Sequence[str]) -> Any:
    """RunOptions of a run up to `to_nodes` (None for a whole run), based on the latest run of the pipeline."""
    if not to_nodes:
        return None
    from tfx.proto.orchestration import pipeline_pb2

    options = pipeline_pb2.RunOptions()
    options.partial_run.snapshot_settings.latest_pipeline_run_strategy.SetInParent()
    options.partial_run.to_nodes.extend(to_nodes)
    return options


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Keep what exists now (TensorFlow's, TFX's and TFMA's modules, the pipeline) out of garbage collection for the
    block. Each full collection of a run otherwise walks those millions of objects again."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
