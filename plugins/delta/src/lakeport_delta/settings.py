"""The Delta plugin's own settings."""

from __future__ import annotations

import enum


class Backend(str, enum.Enum):
    """Which Delta implementation a handle uses; ``auto`` picks native where Spark has Delta."""

    AUTO = "auto"
    EMBEDDED = "embedded"
    NATIVE = "native"
