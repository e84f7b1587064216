"""``lakeport dlt destroy``: remove what deploy created, the pipeline and its uploaded files, nothing else."""

from __future__ import annotations

from typing import Any

from lakeport_dlt.deploy.artifacts import Deployment
from lakeport_dlt.deploy.plan import find_pipeline


def destroy(workspace: Any, deployment: Deployment, *, dry_run: bool, say: Any) -> None:
    """Delete the pipeline, the files deploy uploads, and their folders once empty."""
    verb = "would delete" if dry_run else "deleted"
    pipeline_id = find_pipeline(workspace, deployment.name)
    if pipeline_id is not None:
        if not dry_run:
            workspace.delete_pipeline(pipeline_id)
        say(f"{verb} pipeline {deployment.name!r} ({pipeline_id})")
    else:
        say(f"no pipeline named {deployment.name!r} on {workspace.host}")
    folders: set[str] = set()
    for artifact in deployment.artifacts:
        path = deployment.path(artifact)
        folders.add(path.rsplit("/", 1)[0])
        if workspace.exists(path):
            if not dry_run:
                workspace.delete(path)
            say(f"{verb} {path}")
    ours = {deployment.path(a) for a in deployment.artifacts} | folders
    for folder in sorted(folders, key=len, reverse=True):  # wheels/ before the folder holding it
        if not workspace.exists(folder):
            continue
        left = [path for path in workspace.children(folder) if not (dry_run and path in ours)]
        if left:
            say(f"kept {folder}/: it holds {len(left)} thing(s) deploy did not put there")
            continue
        if not dry_run:
            workspace.delete(folder)
        say(f"{verb} {folder}/ (empty)")
