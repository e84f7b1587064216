from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # autoloader_files: the tests' file writers and stream runner
    sys.path.insert(0, str(HERE))


@pytest.fixture
def cloud_files(spark):
    """``spark.readStream.format("cloudFiles")`` works: lakeport's source is registered."""
    from lakeport_autoloader import register_cloud_files

    register_cloud_files(spark)
    return spark
