"""``--start --wait``: start a pipeline update and follow it to the end, one line per change.

A failed update ends in a LakeportError carrying the pipeline's own error
message (from its event log), so the command exits non-zero saying why.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from lakeport.api import LakeportError

TERMINAL = ("COMPLETED", "FAILED", "CANCELED")


def run_update(workspace: Any, pipeline_id: str, name: str, *, full_refresh: bool, wait: bool,
               poll_interval: float, say: Callable[[str], None]) -> str:
    """Start an update of ``pipeline_id``; with ``wait``, poll it until it ends. Returns the final state."""
    update_id = workspace.start_update(pipeline_id, full_refresh=full_refresh)
    say(f"started update {update_id} of pipeline {name!r}" + (" (full refresh)" if full_refresh else ""))
    if not wait:
        return "STARTED"
    seen: set[str] = set()
    errors: list[str] = []
    state = None
    while True:
        now = workspace.update_state(pipeline_id, update_id)
        if now != state:
            say(f"update {update_id}: {now}")
            state = now
        for event in workspace.events(pipeline_id, update_id):
            key = str(event.get("id") or event.get("sequence") or event)
            if key in seen:
                continue
            seen.add(key)
            if event.get("level") == "ERROR":
                errors += _error_messages(event)
            flow = (event.get("origin") or {}).get("flow_name")
            if flow or event.get("level") in ("ERROR", "WARN"):
                say(f"  {'flow ' + flow + ': ' if flow else ''}{event.get('message', '')}")
        if state in TERMINAL:
            break
        time.sleep(poll_interval)
    if state != "COMPLETED":
        reason = "; ".join(dict.fromkeys(errors)) or "the event log gives no error"
        raise LakeportError(f"pipeline {name!r} ({pipeline_id}) update {update_id} {state}: {reason}")
    return state


def _error_messages(event: dict[str, Any]) -> list[str]:
    exceptions = (event.get("error") or {}).get("exceptions") or []
    found = [str(e.get("message")) for e in exceptions if e.get("message")]
    return found or [str(event.get("message", ""))]
