"""Entry point of the foreachBatch plugin: hookimpls only, nothing heavy imported."""

from __future__ import annotations

from typing import Any

from lakeport.api import hookimpl


@hookimpl
def lakeport_make_stream_loader(project: Any, pipeline: Any, loader: Any) -> Any:
    """``lakeport run`` of a pipeline with a ``trigger``: a StreamLoader that waits for the query."""
    from lakeport_foreachbatch.loader import StreamLoader

    return StreamLoader.from_pipeline(project, pipeline, loader)
