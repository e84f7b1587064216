"""Entry points of one group, read straight from ``*.dist-info`` folders on ``sys.path``.

``importlib.metadata`` costs ~60 ms to import (email, zipfile, csv, ...), four
times a bare interpreter start, and every ``lakeport`` command discovers
plugins. Reading ``entry_points.txt`` files ourselves keeps ``lakeport plugins``
fast. Semantics follow ``importlib.metadata``: the first distribution of a name
on ``sys.path`` wins.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from typing import Any, Iterable, NamedTuple

_METADATA_DIRS = (".dist-info", ".egg-info")


class EntryPoint(NamedTuple):
    """``name = value`` in group ``group`` of distribution ``distribution``."""

    name: str
    value: str
    group: str
    distribution: str
    version: str

    def load(self) -> Any:
        """Import ``module`` or ``module:attr.attr``."""
        module_name, _, attr = self.value.partition(":")
        target: Any = importlib.import_module(module_name.strip())
        for part in filter(None, attr.strip().split(".")):
            target = getattr(target, part)
        return target


class Distribution(NamedTuple):
    #: the normalized name, as pip shows it: ``lakeport-delta``.
    name: str
    version: str
    folder: str


def normalize(name: str) -> str:
    """PEP 503 name: ``Lakeport_Delta`` and ``lakeport-delta`` are one distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


def distributions(path: Iterable[str] | None = None) -> list[Distribution]:
    """Installed distributions with their metadata folder; the first of a name wins."""
    seen: set[str] = set()
    found = []
    for entry in sys.path if path is None else path:
        try:
            with os.scandir(entry or ".") as listing:
                folders = sorted(e.name for e in listing if e.name.endswith(_METADATA_DIRS))
        except OSError:  # missing folder, zip file
            continue
        for folder in folders:
            name, version = _name_and_version(os.path.join(entry or ".", folder))
            key = normalize(name)
            if key in seen:
                continue
            seen.add(key)
            found.append(Distribution(key, version, os.path.join(entry or ".", folder)))
    return found


def find_distribution(name: str, path: Iterable[str] | None = None) -> Distribution | None:
    key = normalize(name)
    return next((d for d in distributions(path) if normalize(d.name) == key), None)


def entry_points(group: str, path: Iterable[str] | None = None) -> list[EntryPoint]:
    """Every entry point of ``group``, in ``sys.path`` order."""
    return [ep for _, ep in _entry_points_with_files(group, path)]


def entry_point_files(group: str, path: Iterable[str] | None = None) -> list[str]:
    """The ``entry_points.txt`` files that declare entry points of ``group`` (the plugins cache watches them)."""
    return list(dict.fromkeys(file for file, _ in _entry_points_with_files(group, path)))


def _entry_points_with_files(group: str, path: Iterable[str] | None) -> list[tuple[str, EntryPoint]]:
    found = []
    for dist in distributions(path):
        filename = os.path.join(dist.folder, "entry_points.txt")
        try:
            with open(filename, encoding="utf-8") as file:
                text = file.read()
        except OSError:
            continue
        for name, value in _section(text, group):
            found.append((filename, EntryPoint(name, value, group, dist.name, dist.version)))
    return found


def _name_and_version(folder: str) -> tuple[str, str]:
    """From a ``name-version.dist-info`` folder's name, else from its metadata file.

    ``.egg-info`` folder names are not reliable (``acme-plugin.egg-info``), so
    their ``PKG-INFO`` is read.
    """
    stem = os.path.basename(folder).rsplit(".", 1)[0]
    name, _, version = stem.partition("-")
    if version and folder.endswith(".dist-info"):
        return name, version
    for metadata in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(folder, metadata), encoding="utf-8") as file:
                headers = dict(_headers(file))
        except OSError:
            continue
        return headers.get("Name", name), headers.get("Version", "unknown")
    return name, "unknown"


def _headers(lines: Iterable[str]) -> Iterable[tuple[str, str]]:
    for line in lines:
        if not line.strip():
            return
        key, sep, value = line.partition(":")
        if sep and not line[0].isspace():
            yield key.strip(), value.strip()


def _section(text: str, group: str) -> Iterable[tuple[str, str]]:
    """``name = value`` lines of ``[group]`` in an ``entry_points.txt``."""
    inside = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            inside = line[1:-1].strip() == group
            continue
        if inside:
            name, sep, value = line.partition("=")
            if sep:
                yield name.strip(), value.strip()
