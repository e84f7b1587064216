"""Schemas kept under ``<schemaLocation>/_schemas/<n>``, as Databricks keeps them.

Version 0 is the inferred schema; each ``addNewColumns`` evolution writes the next
version with the new columns appended at the end. A restart reads the latest
version, so a stream keeps its schema whatever files arrive later. Files are
written to a temporary name and renamed, under an exclusive lock, so two
partitions that find the same new column write one version.
"""

from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    from pyspark.sql.types import StructType

HEADER = "v1"


class SchemaStore:
    def __init__(self, schema_location: str) -> None:
        self.root = os.path.join(schema_location, "_schemas")

    def versions(self) -> list[int]:
        try:
            return sorted(int(name) for name in os.listdir(self.root) if name.isdigit())
        except FileNotFoundError:
            return []

    def latest(self) -> StructType | None:
        versions = self.versions()
        return self.read(versions[-1]) if versions else None

    def read(self, version: int) -> StructType:
        from pyspark.sql.types import StructType

        with open(os.path.join(self.root, str(version)), encoding="utf-8") as f:
            header, _, body = f.read().partition("\n")
        if header.strip() != HEADER:
            raise ValueError(f"{self.root}/{version}: not an Auto Loader schema file (first line {header!r})")
        return StructType.fromJson(json.loads(body))

    @contextmanager
    def _locked(self) -> Iterator[None]:
        os.makedirs(self.root, exist_ok=True)
        with open(os.path.join(self.root, ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write(self, version: int, schema: StructType) -> None:
        target = os.path.join(self.root, str(version))
        temporary = f"{target}.{os.getpid()}.tmp"
        with open(temporary, "w", encoding="utf-8") as f:
            f.write(HEADER + "\n" + schema.json())
        os.replace(temporary, target)

    def initial(self, schema: StructType) -> StructType:
        """Store ``schema`` as version 0 unless a version exists; the stored one wins."""
        with self._locked():
            stored = self.latest()
            if stored is not None:
                return stored
            self._write(0, schema)
            return schema

    def add_columns(self, new_fields: list) -> StructType:
        """Append the fields whose names are not in the latest version yet, as a new version."""
        from pyspark.sql.types import StructType

        with self._locked():
            versions = self.versions()
            latest = self.read(versions[-1]) if versions else StructType()
            known = {f.name.lower() for f in latest.fields}
            added = [f for f in new_fields if f.name.lower() not in known]
            if not added:
                return latest
            evolved = StructType(list(latest.fields) + added)
            self._write((versions[-1] + 1) if versions else 0, evolved)
            return evolved
