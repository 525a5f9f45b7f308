"""A stand-in of the Kubeflow Pipelines v2beta1 REST API on loopback, with state: what `kfp.Client` needs for
`submit` (experiments, runs that end in a chosen state), `schedule` (pipelines, versions, recurring runs, with
their names filtered as the API filters them) and `unschedule`. It records every request."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
import urllib.parse
from typing import Any, Iterator


class KfpApiState:
    """What the stub server holds, and the requests it answered."""

    def __init__(self, run_states: tuple[str, ...] = ("RUNNING", "SUCCEEDED")) -> None:
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self.recurring_runs: dict[str, dict[str, Any]] = {}
        self.runs: dict[str, dict[str, Any]] = {}
        self.run_states = run_states
        self._polls: dict[str, int] = {}
        self._ids = 0

    def new_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}-{self._ids}"

    def run(self, run_id: str) -> dict[str, Any]:
        """The run as the API shows it now: each GET moves it one state along `run_states`."""
        polls = self._polls.get(run_id, 0)
        self._polls[run_id] = polls + 1
        state = self.run_states[min(polls, len(self.run_states) - 1)]
        return {**self.runs[run_id], "state": state}


def _name_filter(query: dict[str, list[str]]) -> str | None:
    """The display name an `EQUALS display_name` filter asks for."""
    text = query.get("filter", [None])[0]
    if not text:
        return None
    predicates = json.loads(text).get("predicates", [])
    return next(
        (p.get("stringValue") or p.get("string_value") for p in predicates if p.get("key") == "display_name"), None
    )


def _handler(state: KfpApiState) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def _reply(self, method: str) -> None:
            length = int(self.headers.get("Content-Length", 0))
            raw = self.rfile.read(length)
            url = urllib.parse.urlparse(self.path)
            query = urllib.parse.parse_qs(url.query)
            body: dict[str, Any] = {}
            if raw and self.headers.get("Content-Type", "").startswith("application/json"):
                body = json.loads(raw)
            state.requests.append((method, url.path, body))
            self._send(self._answer(method, url.path, query, body))

        def _answer(self, method: str, path: str, query: dict[str, list[str]], body: dict[str, Any]) -> Any:
            api = "/apis/v2beta1"
            if path == f"{api}/healthz":
                return {"multi_user": False}
            if (method, path) == ("GET", f"{api}/pipelines"):
                return {}
            if (method, path) == ("POST", f"{api}/pipelines/upload"):
                return {"pipeline_id": "p-1"}
            if (method, path) == ("GET", f"{api}/pipelines/p-1/versions"):
                return {"pipeline_versions": [{"pipeline_version_id": "v-1"}]}
            if (method, path) == ("GET", f"{api}/experiments"):
                return {}
            if (method, path) == ("POST", f"{api}/experiments"):
                return {"experiment_id": "e-1", "display_name": body.get("display_name")}
            if (method, path) == ("POST", f"{api}/runs"):
                run_id = state.new_id("r")
                state.runs[run_id] = {
                    "run_id": run_id,
                    "display_name": body.get("display_name"),
                    "experiment_id": body.get("experiment_id"),
                }
                return state.run(run_id)
            if method == "GET" and path.startswith(f"{api}/runs/"):
                return state.run(path.rsplit("/", 1)[1])
            if (method, path) == ("GET", f"{api}/recurringruns"):
                name = _name_filter(query)
                found = [run for run in state.recurring_runs.values() if name in (None, run["display_name"])]
                return {"recurringRuns": found} if found else {}  # the key as kfp_server_api reads it
            if (method, path) == ("POST", f"{api}/recurringruns"):
                run_id = state.new_id("j")
                state.recurring_runs[run_id] = {"recurring_run_id": run_id, "display_name": body["display_name"]}
                return state.recurring_runs[run_id]
            if method == "DELETE" and path.startswith(f"{api}/recurringruns/"):
                state.recurring_runs.pop(path.rsplit("/", 1)[1])
                return {}
            raise KeyError(f"the stub has no answer to {method} {path}")

        def _send(self, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802 (http.server naming)
            self._reply("GET")

        def do_POST(self):  # noqa: N802
            self._reply("POST")

        def do_DELETE(self):  # noqa: N802
            self._reply("DELETE")

        def log_message(self, *args):
            """Quiet."""

    return Handler


@contextlib.contextmanager
def kfp_api(state: KfpApiState) -> Iterator[str]:
    """Serve `state` on a free loopback port for the block; yields the host URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
