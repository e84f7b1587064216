from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # autoloader_files: the tests' file writers and stream runner
    sys.path.insert(0, str(HERE))
# Streams with neither a schema location nor lakeport.stateLocation keep their file log here, not
# in ~/.cache (effective when this runs before the session's JVM starts, as it does for this folder).
os.environ.setdefault("LAKEPORT_AUTOLOADER_STATE", tempfile.mkdtemp(prefix="lakeport-autoloader-state-"))


@pytest.fixture
def cloud_files(spark):
    """``spark.readStream.format("cloudFiles")`` works: lakeport's source is registered."""
    from lakeport_autoloader import register_cloud_files

    register_cloud_files(spark)
    return spark
