"""The keys this plugin adds to ``[pipelines.<name>]`` entries (kind ``etl``): a trigger makes it a stream."""

from __future__ import annotations

import enum

import attrs


class Trigger(str, enum.Enum):
    AVAILABLE_NOW = "available_now"
    ONCE = "once"
    PROCESSING_TIME = "processing_time"


@attrs.frozen
class StreamKeys:
    """``trigger`` is what makes ``lakeport run`` read the source as a stream through foreachBatch."""

    trigger: Trigger | None = None
    trigger_interval: str | None = None
    #: defaults to the target table's ``checkpoint_path``.
    checkpoint_path: str | None = None
    #: defaults to the pipeline's name.
    query_name: str | None = None
