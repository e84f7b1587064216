"""The Delta plugin's own settings: the ``[plugins.delta]`` section of a project file."""

from __future__ import annotations

import enum

import attrs


class Backend(str, enum.Enum):
    """Which Delta implementation a handle uses; ``auto`` picks native where Spark has Delta."""

    AUTO = "auto"
    EMBEDDED = "embedded"
    NATIVE = "native"


@attrs.frozen
class DeltaSettings:
    """``[plugins.delta]``: the backend of every delta table (a table's ``backend`` key wins)."""

    backend: Backend = Backend.AUTO
    #: add delta-spark's jars, extension and catalog to the sessions lakeport builds;
    #: unset: only when ``backend = "native"``.
    jars: bool | None = None

    @property
    def adds_jars(self) -> bool:
        return self.jars if self.jars is not None else self.backend is Backend.NATIVE
