"""Listing the input folder, subfolders included (as Auto Loader lists), hidden files skipped, ``pathGlobFilter``.

A trigger's listing cost is what grows with the folder, so directories are cached
by modification time: a directory whose mtime has not changed since it was listed
(and was not changing while it was listed) is not read again. New files change
their directory's mtime; a rewritten file does not, so with ``allowOverwrites``
every file is stat'ed on every listing. Of the names a listing returns only the
unknown ones are stat'ed; known names cost one set lookup.
"""

from __future__ import annotations

import fnmatch
import os
import re
import time
from typing import Callable, Iterator, NamedTuple

#: a directory modified this close (seconds) to its listing may change within the same mtime tick.
SETTLE_SECONDS = 2.0


class FileInfo(NamedTuple):
    path: str
    size: int
    #: modification time, milliseconds since the epoch (as Spark's ``_metadata`` has it).
    mtime_ms: int


def hidden(name: str) -> bool:
    """Spark's file sources skip names starting with ``_`` or ``.`` (``_SUCCESS``, ``.crc`` files)."""
    return name.startswith(("_", "."))


def glob_matcher(pattern: str | None) -> Callable[[str], bool]:
    """Hadoop's glob on the file name: ``*``, ``?``, ``[ab]`` and ``{a,b}`` alternatives."""
    if not pattern:
        return lambda name: True
    alternatives = _expand_braces(pattern)
    regex = re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in alternatives))
    return lambda name: regex.match(name) is not None


def _expand_braces(pattern: str) -> list[str]:
    match = re.search(r"\{([^{}]*)\}", pattern)
    if not match:
        return [pattern]
    head, tail = pattern[: match.start()], pattern[match.end():]
    return [x for choice in match.group(1).split(",") for x in _expand_braces(head + choice + tail)]


class _Dir(NamedTuple):
    mtime_ns: int
    files: list[str]
    dirs: list[str]


class Lister:
    """Lists one folder again and again, cheaply."""

    def __init__(self, root: str, *, glob: str | None = None, recursive: bool = True) -> None:
        self.root = local_path(root)
        self.match = glob_matcher(glob)
        self.recursive = recursive
        self._cache: dict[str, _Dir] = {}

    def names(self) -> Iterator[str]:
        """Paths of every data file under the folder (unchecked whether known)."""
        if not os.path.isdir(self.root):
            return
        stack = [self.root]
        while stack:
            directory = stack.pop()
            entry = self._list(directory)
            yield from entry.files
            if self.recursive:
                stack.extend(entry.dirs)

    def _list(self, directory: str) -> _Dir:
        try:
            mtime = os.stat(directory).st_mtime_ns
        except FileNotFoundError:
            return _Dir(0, [], [])
        cached = self._cache.get(directory)
        if cached is not None and cached.mtime_ns == mtime:
            return cached
        files, dirs = [], []
        started = time.time_ns()
        with os.scandir(directory) as entries:
            for entry in entries:
                if hidden(entry.name):
                    continue
                if entry.is_dir():
                    dirs.append(entry.path)
                elif self.match(entry.name):
                    files.append(entry.path)
        listed = _Dir(mtime, files, dirs)
        if started - mtime > SETTLE_SECONDS * 1e9:
            self._cache[directory] = listed
        else:
            self._cache.pop(directory, None)
        return listed


def local_path(root: str) -> str:
    return root.removeprefix("file:") if root.startswith("file:/") else root


def partition_values(root: str, path: str) -> dict[str, str | None]:
    """``key=value`` folders between ``root`` and the file (Hive style), unescaped as Spark does."""
    from urllib.parse import unquote

    relative = os.path.relpath(os.path.dirname(path), local_path(root))
    values: dict[str, str | None] = {}
    for part in relative.split(os.sep):
        key, sep, value = part.partition("=")
        if sep and key:
            text = unquote(value)
            values[unquote(key)] = None if text == "__HIVE_DEFAULT_PARTITION__" else text
    return values


def stat(path: str) -> FileInfo | None:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return FileInfo(path, info.st_size, info.st_mtime_ns // 1_000_000)


def list_files(root: str, *, glob: str | None = None, recursive: bool = True) -> list[FileInfo]:
    """Every data file now, oldest first: what a batch read and schema inference see."""
    found = [info for path in Lister(root, glob=glob, recursive=recursive).names() if (info := stat(path))]
    return sorted(found, key=lambda f: (f.mtime_ms, f.path))
