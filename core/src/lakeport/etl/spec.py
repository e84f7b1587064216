"""The keys of the built-in pipeline kind ``etl``: source -> optional transform -> target."""

from __future__ import annotations

from typing import Any, Mapping

import attrs

from lakeport.config.model import PipelineSpec, WriteMode


@attrs.frozen
class EtlOptions:
    """``[pipelines.<name>]`` keys of kind ``etl`` (the default kind)."""

    source: str
    target: str
    transform: str | None = None
    mode: WriteMode = WriteMode.APPEND
    keys: tuple[str, ...] = ()
    sequence_by: str | None = None
    #: writer options passed to the target handle's write.
    options: Mapping[str, str] = attrs.field(factory=dict)


def check_etl(spec: PipelineSpec, tables: Mapping[str, Any], where: str) -> list[str]:
    """Load-time checks that need the other entries: the tables exist, upserts have keys."""
    options: EtlOptions = spec.options
    problems = []
    for key in ("source", "target"):
        table = getattr(options, key)
        if table not in tables:
            problems.append(f"{where}.{key}: unknown table {table!r} (tables: {', '.join(sorted(tables)) or 'none'})")
    if options.mode is WriteMode.UPSERT and not options.keys:
        problems.append(f"{where}.keys: mode = \"upsert\" needs keys, e.g. keys = [\"id\"]")
    return problems
