"""Beam's external SDK worker pool, listening on loopback only: `python -m pipeline.loopback_worker_pool --port P`.

The servicer is Beam's own (`apache_beam.runners.worker.worker_pool_main.BeamFnExternalWorkerPoolServicer`, in
process mode: one `python` worker process per StartWorker request), the program a Flink or Spark worker-pool
sidecar runs. Beam's `worker_pool_main` binds every interface (`[::]`); a worker pool runs whatever the control
endpoint named in a request sends its worker, so on a developer's machine it is served on loopback only.
"""

from __future__ import annotations

import argparse
import atexit
import logging
import sys

import grpc
from apache_beam.portability.api import beam_fn_api_pb2_grpc
from apache_beam.runners.worker.worker_pool_main import BeamFnExternalWorkerPoolServicer, kill_process_gracefully
from apache_beam.utils import thread_pool_executor

log = logging.getLogger(__name__)
LOOPBACK = "127.0.0.1"
GRPC_OPTIONS = [("grpc.http2.max_pings_without_data", 0), ("grpc.http2.max_ping_strikes", 0)]
"""The options `BeamFnExternalWorkerPoolServicer.start` serves with."""


def serve(port: int) -> grpc.Server:
    """Serve the worker pool on 127.0.0.1:`port`; its worker processes are stopped when this process exits."""
    server = grpc.server(thread_pool_executor.shared_unbounded_instance(), options=GRPC_OPTIONS)
    if server.add_insecure_port(f"{LOOPBACK}:{port}") != port:
        raise OSError(f"the worker pool could not listen on {LOOPBACK}:{port}")
    pool = BeamFnExternalWorkerPoolServicer(use_process=True, state_cache_size=0, data_buffer_time_limit_ms=-1)
    beam_fn_api_pb2_grpc.add_BeamFnExternalWorkerPoolServicer_to_server(pool, server)
    server.start()
    atexit.register(lambda: [kill_process_gracefully(worker) for worker in list(pool._worker_processes.values())])
    return server


def main(argv: list[str] | None = None) -> int:
    """Serve until killed."""
    parser = argparse.ArgumentParser(prog="python -m pipeline.loopback_worker_pool", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True, help="loopback port to serve on")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    server = serve(args.port)
    log.info("worker pool listening on %s:%d", LOOPBACK, args.port)
    server.wait_for_termination()
    return 0


if __name__ == "__main__":
    sys.exit(main())
