"""A whole local run (the pipeline of `create_pipeline` on LocalDagRunner, tiny settings) with its pipeline root and
its registry on s3:// against moto, then `mobilenet-pipeline registry pull` from that registry.

The run goes in a spawned child: tf.io.gfile reaches s3:// through tensorflow-io's filesystem, which must be
imported in the process, and a process that loaded it aborts at interpreter exit, so the child ends with
`os._exit`. Beam's own S3 filesystem (ExampleGen's and Transform's writes) and the registry's client (boto3) take
the same AWS_* settings; tensorflow-io takes S3_ENDPOINT and S3_USE_HTTPS.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from components.registry.filesystems import filesystem_for
from components.registry.store import Registry
from tests.helpers import SPAWN, tiny_config, write_image_folder

pytestmark = pytest.mark.slow
RUN_SECONDS = 900


def _run_pipeline_on_s3(data: str, pipeline_root: str, registry_root: str, metadata: str) -> None:
    """In the child: the run, with every artifact under `pipeline_root`; exit code 0 when it finished."""
    code = 1
    try:
        import tensorflow_io  # noqa: F401 - registers s3:// with tf.io.gfile
        from tfx.orchestration.local.local_dag_runner import LocalDagRunner
        from tfx.orchestration.metadata import sqlite_metadata_connection_config

        from pipeline.pipeline import create_pipeline

        config = tiny_config(
            f"data.root={data}", f"registry.root={registry_root}", "beam.direct_running_mode=in_memory"
        )
        LocalDagRunner().run(
            create_pipeline(
                config,
                pipeline_root=pipeline_root,
                metadata_connection_config=sqlite_metadata_connection_config(metadata),
            )
        )
        code = 0
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def test_a_whole_run_on_s3_then_registry_pull_from_it(s3_root, s3_server, monkeypatch, tmp_path):
    monkeypatch.setenv("S3_ENDPOINT", s3_server.endpoint)
    monkeypatch.setenv("S3_USE_HTTPS", "0")
    data = write_image_folder(tmp_path / "images", {"cat": 12, "dog": 12, "ankle boot": 12})
    bucket = s3_root.rsplit("/", 1)[0]
    pipeline_root = f"{bucket}/pipeline_root"
    child = SPAWN.Process(
        target=_run_pipeline_on_s3, args=(str(data), pipeline_root, s3_root, str(tmp_path / "metadata.sqlite"))
    )
    child.start()
    child.join(timeout=RUN_SECONDS)
    if child.is_alive():
        child.kill()
        child.join(timeout=10)
    assert child.exitcode == 0

    store = filesystem_for(pipeline_root)
    outputs = store.listdir(pipeline_root)
    assert {"ImageExampleGen", "Transform", "Trainer_mobilenet_v1", "Pusher_mobilenet_v1"} <= set(outputs)
    assert not any(tmp_path.glob("**/*.tfrecord*"))  # nothing of the run's artifacts landed locally
    registry = Registry(s3_root)
    assert [summary.name for summary in registry.list_models()] == ["mobilenet_v1", "mobilenet_v2"]
    version = registry.verify("mobilenet_v1", 1)
    assert version.manifest["source_examples"]["uri"].startswith(f"{pipeline_root}/Transform/")

    registry.promote("mobilenet_v1", 1, "production")
    assets = tmp_path / "assets"
    pulled = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline",
            "registry",
            "pull",
            "mobilenet_v1",
            "--registry",
            s3_root,
            "--to",
            str(assets),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert pulled.returncode == 0, pulled.stderr
    assert json.loads(pulled.stdout)["version"] == 1
    manifest = json.loads((assets / "manifest.json").read_text())
    assert hashlib.sha256((assets / "model.tflite").read_bytes()).hexdigest() == manifest["sha256"] == version.sha256
    assert (assets / "model.tflite").read_bytes()[4:8] == b"TFL3"
    assert sorted((assets / "labels.txt").read_text().splitlines()) == ["ankle boot", "cat", "dog"]
