"""A fake Databricks workspace on 127.0.0.1 for testing deploys with the real databricks-sdk.

It plays the REST endpoints ``lakeport dlt deploy`` (and the SDK under it) calls,
keeps their state (workspace files, pipelines, updates, events) and records
every request, so a test asserts what was sent and what is left on the server.
Faults are injected per request: throttling (429/503 with ``Retry-After``),
refusals (401/403), and an outage from some request on. Standard library only.

    with FakeWorkspace() as ws:
        env = {"DATABRICKS_HOST": ws.url, "DATABRICKS_TOKEN": ws.token}
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs

#: what a created pipeline's spec gets from the server when the request leaves it out.
SERVER_DEFAULTS = {"edition": "ADVANCED", "channel": "CURRENT"}
#: and each of its clusters.
CLUSTER_DEFAULTS = {"node_type_id": "i3.xlarge", "enable_local_disk_encryption": False}


@attrs.define
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any

    @property
    def writes(self) -> bool:
        return self.method != "GET"


@attrs.define
class Fault:
    method: str
    pattern: str
    status: int
    times: int
    headers: dict[str, str]
    error_code: str
    message: str


@attrs.define
class Update:
    update_id: str
    pipeline_id: str
    #: states it passes through, one per get_update
    states: list[str]
    error: str | None
    step: int = 0
    full_refresh: bool = False


class FakeWorkspace:
    """The server and its state; a context manager that starts and stops it."""

    def __init__(self, *, token: str = "dapi-fake-token-0123456789", user: str = "alice@example.com",
                 page_size: int = 2) -> None:
        self.token = token
        self.user = user
        self.page_size = page_size
        self.requests: list[Request] = []
        self.files: dict[str, bytes] = {}
        self._home = ("/", "/Workspace", "/Workspace/Shared", "/Workspace/Users", f"/Workspace/Users/{user}")
        self.folders: set[str] = set(self._home)
        self.pipelines: dict[str, dict[str, Any]] = {}
        self.permissions: dict[str, list[dict[str, Any]]] = {}
        self.updates: dict[str, Update] = {}
        self.events: dict[str, list[dict[str, Any]]] = {}
        #: the next update fails with this message (None: it completes).
        self.fail_next_update: str | None = None
        self._faults: list[Fault] = []
        self._down_after: tuple[str, str, int] | None = None
        self._down = False
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- lifecycle ----------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeWorkspace:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeWorkspace:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """An empty workspace again (between tests sharing one server)."""
        with self._lock:
            self.requests.clear()
            self.files.clear()
            self.folders = set(self._home)
            self.pipelines.clear()
            self.permissions.clear()
            self.updates.clear()
            self.events.clear()
            self._faults.clear()
            self._down_after = None
            self._down = False
            self.fail_next_update = None
            self._ids = itertools.count(1)

    # -- faults -------------------------------------------------------------------------
    def fail(self, method: str, pattern: str, status: int, *, times: int = 1, retry_after: str | None = None,
             error_code: str = "", message: str = "") -> None:
        """The next ``times`` requests ``method`` to a path matching ``pattern`` get ``status``."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        codes = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 429: "REQUEST_LIMIT_EXCEEDED",
                 503: "TEMPORARILY_UNAVAILABLE"}
        self._faults.append(Fault(method, pattern, status, times, headers, error_code or codes.get(status, "INTERNAL_ERROR"),
                                  message or f"simulated HTTP {status}"))

    def go_down_after(self, method: str, pattern: str, count: int = 1) -> None:
        """Once ``count`` requests ``method`` to a path matching ``pattern`` succeeded, every later one gets HTTP 500."""
        self._down_after = (method, pattern, count)

    def come_back(self) -> None:
        self._down_after = None
        self._down = False

    # -- what tests read ----------------------------------------------------------------
    def calls(self, method: str | None = None, pattern: str = "") -> list[Request]:
        return [r for r in self.requests if (method is None or r.method == method) and re.search(pattern, r.path)]

    def write_calls(self) -> list[Request]:
        return [r for r in self.requests if r.writes]

    # -- request handling ---------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict[str, str], body: Any, auth: str | None
               ) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            self.requests.append(Request(method, path, query, body))
            if path == "/.well-known/databricks-config":  # the SDK's discovery probe, unauthenticated
                return 200, {}, {"oidc_endpoint": f"{self.url}/oidc", "workspace_id": "1234567890"}
            if auth != f"Bearer {self.token}":
                return 401, {}, _error("UNAUTHENTICATED", "Invalid access token.")
            if self._down:
                return 500, {}, _error("INTERNAL_ERROR", "simulated outage: the workspace went away")
            for fault in self._faults:
                if fault.times > 0 and fault.method == method and re.search(fault.pattern, path):
                    fault.times -= 1
                    return fault.status, fault.headers, _error(fault.error_code, fault.message)
            status, payload = self._route(method, path, query, body or {})
            if self._down_after and status < 400 and method == self._down_after[0] and re.search(self._down_after[1], path):
                left = self._down_after[2] - 1
                self._down_after = (method, self._down_after[1], left)
                self._down = left <= 0
            return status, {}, payload

    def _route(self, method: str, path: str, query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        if path == "/api/2.0/preview/scim/v2/Me" and method == "GET":
            return 200, {"id": "7", "userName": self.user, "displayName": self.user.split("@")[0], "active": True}
        if path.startswith("/api/2.0/workspace/"):
            return self._workspace(method, path.rsplit("/", 1)[1], query, body)
        if path.startswith("/api/2.0/permissions/pipelines/"):
            return self._permissions(method, path.rsplit("/", 1)[1], body)
        if path.startswith("/api/2.0/pipelines"):
            return self._pipelines(method, path.removeprefix("/api/2.0/pipelines").strip("/").split("/"), query, body)
        return 404, _error("ENDPOINT_NOT_FOUND", f"no API {method} {path} in the fake workspace")

    # workspace
    def _workspace(self, method: str, action: str, query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        path = (query.get("path") or body.get("path") or "").rstrip("/") or "/"
        missing = 404, _error("RESOURCE_DOES_NOT_EXIST", f"Path ({path}) doesn't exist.")
        if action == "mkdirs" and method == "POST":
            if path in self.files:
                return 400, _error("RESOURCE_ALREADY_EXISTS", f"{path} is a file")
            parts = path.split("/")
            self.folders.update("/".join(parts[:i]) or "/" for i in range(1, len(parts) + 1))
            return 200, {}
        if action == "import" and method == "POST":
            if _parent(path) not in self.folders:
                return 404, _error("RESOURCE_DOES_NOT_EXIST", f"The parent folder ({_parent(path)}) does not exist.")
            if path in self.files and not body.get("overwrite"):
                return 400, _error("RESOURCE_ALREADY_EXISTS", f"{path} already exists.")
            self.files[path] = base64.b64decode(body.get("content", ""))
            return 200, {}
        if action == "get-status" and method == "GET":
            if path in self.files:
                return 200, self._object(path)
            if path in self.folders:
                return 200, self._object(path)
            return missing
        if action == "export" and method == "GET":
            if path not in self.files:
                return missing
            return 200, {"content": base64.b64encode(self.files[path]).decode(), "file_type": path.rsplit(".", 1)[-1]}
        if action == "list" and method == "GET":
            if path not in self.folders:
                return missing
            children = sorted(p for p in (*self.files, *self.folders) if p != path and _parent(p) == path)
            return 200, {"objects": [self._object(p) for p in children]} if children else {}
        if action == "delete" and method == "POST":
            inside = [p for p in (*self.files, *self.folders) if p.startswith(path + "/")]
            if path not in self.files and path not in self.folders:
                return missing
            if inside and not body.get("recursive"):
                return 400, _error("DIRECTORY_NOT_EMPTY", f"Folder ({path}) is not empty.")
            for p in (path, *inside):
                self.files.pop(p, None)
                self.folders.discard(p)
            return 200, {}
        return 404, _error("ENDPOINT_NOT_FOUND", f"no workspace API {method} {action}")

    def _object(self, path: str) -> dict[str, Any]:
        if path in self.files:
            return {"path": path, "object_type": "FILE", "object_id": abs(hash(path)) % 10**9,
                    "size": len(self.files[path])}
        return {"path": path, "object_type": "DIRECTORY", "object_id": abs(hash(path)) % 10**9}

    # pipelines
    def _pipelines(self, method: str, parts: list[str], query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        if parts == [""]:
            if method == "GET":
                return 200, self._list_pipelines(query)
            if method == "POST":
                return self._create(body)
        pipeline_id = parts[0]
        pipeline = self.pipelines.get(pipeline_id)
        if pipeline is None:
            return 404, _error("RESOURCE_DOES_NOT_EXIST", f"The specified pipeline {pipeline_id} was not found.")
        if len(parts) == 1:
            if method == "GET":
                return 200, pipeline
            if method == "PUT":
                spec = _with_defaults(_spec(body))
                spec["id"] = pipeline_id
                pipeline.update(spec=spec, name=spec.get("name"))
                return 200, {}
            if method == "DELETE":
                del self.pipelines[pipeline_id]
                self.permissions.pop(pipeline_id, None)
                return 200, {}
        if parts[1:] == ["updates"] and method == "POST":
            return self._start(pipeline, body)
        if len(parts) == 3 and parts[1] == "updates" and method == "GET":
            return self._get_update(pipeline_id, parts[2])
        if parts[1:] == ["events"] and method == "GET":
            return 200, {"events": list(reversed(self.events.get(pipeline_id, [])))}
        return 404, _error("ENDPOINT_NOT_FOUND", f"no pipelines API {method} {'/'.join(parts)}")

    def _list_pipelines(self, query: dict[str, str]) -> dict[str, Any]:
        everything = sorted(self.pipelines.values(), key=lambda p: p["pipeline_id"])
        start = int(query.get("page_token") or 0)
        size = min(int(query.get("max_results") or self.page_size), self.page_size)
        page = everything[start:start + size]
        answer: dict[str, Any] = {"statuses": [{k: p[k] for k in ("pipeline_id", "name", "state", "creator_user_name")}
                                               for p in page]}
        if start + size < len(everything):
            answer["next_page_token"] = str(start + size)
        return answer

    def _create(self, body: dict[str, Any]) -> tuple[int, Any]:
        spec = _spec(body)
        if not body.get("allow_duplicate_names") and any(p["name"] == spec.get("name") for p in self.pipelines.values()):
            return 400, _error("RESOURCE_CONFLICT", f"Pipeline with name '{spec.get('name')}' already exists.")
        pipeline_id = f"pipe-{next(self._ids):04d}"
        spec = {**_with_defaults(spec), "id": pipeline_id}
        self.pipelines[pipeline_id] = {"pipeline_id": pipeline_id, "name": spec.get("name"), "state": "IDLE",
                                       "creator_user_name": self.user, "spec": spec}
        return 200, {"pipeline_id": pipeline_id, "effective_settings": spec}

    def _start(self, pipeline: dict[str, Any], body: dict[str, Any]) -> tuple[int, Any]:
        update_id = f"upd-{next(self._ids):04d}"
        error, self.fail_next_update = self.fail_next_update, None
        states = ["QUEUED", "INITIALIZING", "RUNNING", "FAILED" if error else "COMPLETED"]
        self.updates[update_id] = Update(update_id, pipeline["pipeline_id"], states, error,
                                         full_refresh=bool(body.get("full_refresh")))
        return 200, {"update_id": update_id}

    def _get_update(self, pipeline_id: str, update_id: str) -> tuple[int, Any]:
        update = self.updates.get(update_id)
        if update is None or update.pipeline_id != pipeline_id:
            return 404, _error("RESOURCE_DOES_NOT_EXIST", f"Update {update_id} not found.")
        state = update.states[min(update.step, len(update.states) - 1)]
        update.step += 1
        events = self.events.setdefault(pipeline_id, [])
        origin = {"pipeline_id": pipeline_id, "update_id": update_id}
        events.append({"id": f"ev-{next(self._ids)}", "event_type": "update_progress", "level": "INFO",
                       "message": f"Update {update_id[:8]} is {state}.", "origin": origin})
        if state == "RUNNING":
            events.append({"id": f"ev-{next(self._ids)}", "event_type": "flow_progress", "level": "INFO",
                           "message": "Flow 'people_clean' is RUNNING.", "origin": {**origin, "flow_name": "people_clean"}})
        if state == "FAILED":
            events.append({"id": f"ev-{next(self._ids)}", "event_type": "update_progress", "level": "ERROR",
                           "message": f"Update {update_id[:8]} has failed.", "origin": origin,
                           "error": {"fatal": True, "exceptions": [{"class_name": "pyspark.errors.AnalysisException",
                                                                    "message": update.error}]}})
        return 200, {"update": {"update_id": update_id, "pipeline_id": pipeline_id, "state": state,
                                "full_refresh": update.full_refresh}}

    # permissions
    def _permissions(self, method: str, pipeline_id: str, body: dict[str, Any]) -> tuple[int, Any]:
        if pipeline_id not in self.pipelines:
            return 404, _error("RESOURCE_DOES_NOT_EXIST", f"pipeline {pipeline_id} does not exist")
        if method == "PUT":
            self.permissions[pipeline_id] = list(body.get("access_control_list", []))
        elif method != "GET":
            return 404, _error("ENDPOINT_NOT_FOUND", f"no permissions API {method}")
        acl = [{**{k: v for k, v in entry.items() if k != "permission_level"},
                "all_permissions": [{"permission_level": entry["permission_level"], "inherited": False}]}
               for entry in self.permissions.get(pipeline_id, [])]
        acl.append({"user_name": self.user, "all_permissions": [{"permission_level": "IS_OWNER", "inherited": False}]})
        return 200, {"object_id": f"/pipelines/{pipeline_id}", "object_type": "pipelines", "access_control_list": acl}


def _spec(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("allow_duplicate_names", "dry_run", "pipeline_id",
                                                       "expected_last_modified")}


def _with_defaults(spec: dict[str, Any]) -> dict[str, Any]:
    """As the real service does: fields the request left out come back filled in."""
    spec = {**SERVER_DEFAULTS, **spec}
    if "clusters" in spec:
        spec["clusters"] = [{**CLUSTER_DEFAULTS, **cluster} for cluster in spec["clusters"]]
    return spec


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


def _error(code: str, message: str) -> dict[str, str]:
    return {"error_code": code, "message": message}


def _handler(workspace: FakeWorkspace) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK wait per request

        def _serve(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw.strip() else None
            status, headers, payload = workspace.handle(self.command, url.path, query, body,
                                                        self.headers.get("Authorization"))
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

    return Handler
