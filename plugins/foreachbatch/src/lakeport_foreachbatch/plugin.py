"""Entry point of the foreachBatch plugin: hookimpls only, nothing heavy imported."""

from __future__ import annotations

from typing import Any

from lakeport.api import hookimpl


@hookimpl
def lakeport_register_settings(register: Any) -> None:
    register(pipeline_keys="lakeport_foreachbatch.settings:StreamKeys")


@hookimpl
def lakeport_make_stream_loader(project: Any, pipeline: Any, loader: Any) -> Any:
    """A pipeline with a ``trigger``: a StreamLoader that ``lakeport run`` waits for."""
    from lakeport_foreachbatch.settings import StreamKeys

    keys = pipeline.extension(StreamKeys)
    if keys is None or keys.trigger is None:
        return None
    from lakeport_foreachbatch.loader import StreamLoader

    return StreamLoader.from_pipeline(project, pipeline, loader)
