"""The workspace, through databricks-sdk: its own auth, retries and paging; errors a person can act on.

The only module that imports databricks-sdk, inside functions. Every call names
what it does, so a refusal says which host refused what; the token is never in
a message (the SDK keeps it in headers, and messages are scrubbed anyway).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import logging
from typing import Any, Callable, Iterator, TypeVar

from lakeport.api import LakeportError

log = logging.getLogger(__name__)

T = TypeVar("T")


class WorkspaceError(LakeportError):
    """A call to the workspace failed; the message names the host and the call."""


class Workspace:
    """One workspace, authenticated the SDK's way (environment, ``~/.databrickscfg``, ``profile``)."""

    def __init__(self, profile: str | None = None, client: Any = None) -> None:
        if client is None:
            try:
                from databricks.sdk import WorkspaceClient
            except ImportError:
                raise LakeportError("deploying needs databricks-sdk: pip install 'lakeport-dlt[deploy]'") from None
            try:
                client = WorkspaceClient(profile=profile)
            except ValueError as exc:  # no host or no credentials
                raise LakeportError(f"cannot authenticate to Databricks{f' (profile {profile})' if profile else ''}: "
                                    f"{_first_line(exc)}") from None
        self.client = client
        self.host = str(client.config.host)

    # -- calls ----------------------------------------------------------------------------
    def call(self, what: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``function(*args, **kwargs)``; a failure becomes one line naming host and ``what``."""
        from databricks.sdk.errors import DatabricksError, PermissionDenied, Unauthenticated

        try:
            return function(*args, **kwargs)
        except Unauthenticated as exc:
            raise WorkspaceError(f"{self.host} refused the credentials (HTTP 401) to {what}: {self._scrub(exc)}; "
                                 "check DATABRICKS_TOKEN or the profile") from None
        except PermissionDenied as exc:
            raise WorkspaceError(f"{self.host} refused to {what} (HTTP 403, permission denied): {self._scrub(exc)}") from None
        except DatabricksError as exc:
            code = f" ({exc.error_code})" if getattr(exc, "error_code", None) else ""
            raise WorkspaceError(f"{self.host}: could not {what}{code}: {self._scrub(exc)}") from None
        except (OSError, TimeoutError, RuntimeError) as exc:  # requests' connection errors are OSErrors
            raise WorkspaceError(f"{self.host}: no answer to {what}: {self._scrub(exc)}") from None

    def _scrub(self, exc: BaseException) -> str:
        text = _first_line(exc)
        text = text.split(" Config: ", 1)[0]  # the SDK appends its whole configuration to auth errors
        token = getattr(self.client.config, "token", None)
        return text.replace(token, "***") if token else text

    # -- current user -----------------------------------------------------------------------
    def user_name(self) -> str:
        me = self.call("read the current user (SCIM Me)", self.client.current_user.me)
        return str(me.user_name)

    # -- files ------------------------------------------------------------------------------
    def status(self, path: str) -> Any:
        """The workspace object at ``path`` (``get-status``), or None when there is none."""
        from databricks.sdk.errors import NotFound

        try:
            return self.client.workspace.get_status(path)
        except NotFound:
            return None
        except Exception as exc:  # noqa: BLE001 - re-raised with the host and the call named
            return self.call(f"read the status of {path}", _reraise, exc)

    def exists(self, path: str) -> bool:
        return self.status(path) is not None

    def file_sha256(self, path: str) -> str | None:
        """The content hash of the workspace file at ``path``; None when there is none."""
        from databricks.sdk.service.workspace import ExportFormat, ObjectType

        info = self.status(path)
        if info is None:
            return None
        if info.object_type is not ObjectType.FILE:
            kind = info.object_type.value.lower() if info.object_type else "object"
            raise WorkspaceError(f"{self.host}: {path} is a {kind}, not a file; move it out of the deploy folder")
        exported = self.call(f"read {path}", self.client.workspace.export, path, format=ExportFormat.AUTO)
        return hashlib.sha256(base64.b64decode(exported.content or "")).hexdigest()

    def mkdirs(self, path: str) -> None:
        self.call(f"create folder {path}", self.client.workspace.mkdirs, path)

    def upload(self, path: str, content: bytes) -> None:
        from databricks.sdk.service.workspace import ImportFormat

        self.call(f"upload {path}", self.client.workspace.import_, path,
                  content=base64.b64encode(content).decode(), format=ImportFormat.AUTO, overwrite=True)

    def delete(self, path: str, *, recursive: bool = False) -> None:
        self.call(f"delete {path}", self.client.workspace.delete, path, recursive=recursive)

    def children(self, path: str) -> list[str]:
        return [str(o.path) for o in self.call(f"list {path}", lambda: list(self.client.workspace.list(path)))]

    # -- pipelines --------------------------------------------------------------------------
    def pipelines_named(self, name: str) -> list[str]:
        """Ids of the pipelines called ``name`` (every page of the list)."""
        def ids() -> list[str]:
            return [str(p.pipeline_id) for p in self.client.pipelines.list_pipelines(max_results=100) if p.name == name]

        return self.call("list pipelines", ids)

    def pipeline(self, pipeline_id: str) -> dict[str, Any]:
        """The pipeline as the API returns it (``spec`` holds its settings), every field kept."""
        return self.call(f"read pipeline {pipeline_id}", self.client.api_client.do, "GET", f"/api/2.0/pipelines/{pipeline_id}")

    def create(self, settings: dict[str, Any]) -> str:
        # the request body as built (the typed method would drop fields its dataclasses lack, e.g. run_as)
        answer = self.call(f"create pipeline {settings['name']!r}", self.client.api_client.do, "POST", "/api/2.0/pipelines",
                           body=settings)
        return str(answer["pipeline_id"])

    def edit(self, pipeline_id: str, settings: dict[str, Any]) -> None:
        self.call(f"edit pipeline {settings['name']!r} ({pipeline_id})", self.client.api_client.do, "PUT",
                  f"/api/2.0/pipelines/{pipeline_id}", body={**settings, "id": pipeline_id})

    def delete_pipeline(self, pipeline_id: str) -> None:
        self.call(f"delete pipeline {pipeline_id}", self.client.pipelines.delete, pipeline_id)

    def permissions(self, pipeline_id: str) -> list[dict[str, str]]:
        """The entries set on the pipeline itself (not inherited, not its owner)."""
        answer = self.call(f"read the permissions of pipeline {pipeline_id}", self.client.pipelines.get_permissions,
                           pipeline_id)
        entries = []
        for acl in answer.access_control_list or []:
            principal = {k: v for k, v in (("user_name", acl.user_name), ("group_name", acl.group_name),
                                           ("service_principal_name", acl.service_principal_name)) if v}
            for level in acl.all_permissions or []:
                value = level.permission_level.value if level.permission_level else None
                if not level.inherited and value and value != "IS_OWNER":
                    entries.append({**principal, "permission_level": value})
        return entries

    def set_permissions(self, pipeline_id: str, entries: tuple[dict[str, str], ...]) -> None:
        from databricks.sdk.service.pipelines import PipelineAccessControlRequest

        acl = [PipelineAccessControlRequest.from_dict(e) for e in entries]
        self.call(f"set the permissions of pipeline {pipeline_id}", self.client.pipelines.set_permissions, pipeline_id,
                  access_control_list=acl)

    # -- updates ----------------------------------------------------------------------------
    def start_update(self, pipeline_id: str, *, full_refresh: bool) -> str:
        answer = self.call(f"start an update of pipeline {pipeline_id}", self.client.pipelines.start_update,
                           pipeline_id, full_refresh=full_refresh or None)
        return str(answer.update_id)

    def update_state(self, pipeline_id: str, update_id: str) -> str:
        answer = self.call(f"read update {update_id}", self.client.pipelines.get_update, pipeline_id, update_id)
        state = answer.update.state if answer.update else None
        return state.value if state is not None else "UNKNOWN"

    def events(self, pipeline_id: str, update_id: str) -> Iterator[dict[str, Any]]:
        """The update's events, oldest first."""
        def newest() -> list[dict[str, Any]]:  # the first page: an old pipeline has thousands
            events = self.client.pipelines.list_pipeline_events(pipeline_id, max_results=100)
            return [e.as_dict() for e in itertools.islice(events, 100)]

        listed = self.call(f"read the events of pipeline {pipeline_id}", newest)
        for event in reversed(listed):  # the API lists the newest first
            if (event.get("origin") or {}).get("update_id") == update_id:
                yield event


def _reraise(exc: BaseException) -> Any:
    raise exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
