"""A validated on-disk cache of what ``lakeport plugins [--json]`` prints.

Describing the plugins means importing every one of them, with pluggy (which
imports ``typing``, ``inspect``, ``ast``): about five interpreter starts. The
answer only changes when something it depends on changes, so it is stored with
what it depends on, like stevedore's entry-point cache:

* the key: the interpreter, ``sys.path``, the working directory, the command
  line and the ``LAKEPORT_*`` variables (and the two a backend description reads);
* the stamps (mtime, size, inode) of every file whose change could change the
  answer: each ``sys.path`` folder (installing or removing a distribution changes
  it), the plugins' ``entry_points.txt``, the source of every non-stdlib module
  the normal path loaded, the project file (or its absence);
* the environment variables the project file references (``${env:NAME}``).

The console script checks all of that with plain ``os.stat`` calls before it
imports anything else; any difference or error means the normal path runs, and
rewrites the entry. This module imports only ``os``, ``sys`` and ``zlib`` at the
top: the fast path must stay tiny. ``LAKEPORT_NO_CACHE=1`` turns it off.

An entry is NUL-separated text (not JSON: ``json`` imports ``re``): the magic, the
CRC-32 of the rest, the key, the stamps, the variables, the output.
"""

from __future__ import annotations

import os
import sys
import zlib

TYPE_CHECKING = False  # not `from typing import TYPE_CHECKING`: typing costs what this module saves
if TYPE_CHECKING:
    from typing import Any, Sequence

#: bumped whenever the format or the key changes.
MAGIC = "lakeport-plugins-cache 1"
#: the CLI's default for ``-c/--config``.
DEFAULT_PROJECT_FILE = "lakeport.toml"
#: read by a backend description (``lakeport_delta``) besides the LAKEPORT_* ones.
OTHER_ENV_VARS = ("DATABRICKS_RUNTIME_VERSION", "SPARK_REMOTE")
#: the cache's own switches are not part of what it caches.
OWN_ENV_VARS = ("LAKEPORT_CACHE_DIR", "LAKEPORT_NO_CACHE")
#: entries kept in the cache folder (one per interpreter, folder, project and format).
MAX_ENTRIES = 64

_SEP = "\0"
_ABSENT = "-"


def cache_dir() -> str:
    """``$LAKEPORT_CACHE_DIR``, else ``$XDG_CACHE_HOME/lakeport``, else ``~/.cache/lakeport``."""
    explicit = os.environ.get("LAKEPORT_CACHE_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "lakeport")


class Slot:
    """Where the answer to one command line lives, and the key it must have."""

    __slots__ = ("path", "key", "project_file")

    def __init__(self, path: str, key: str, project_file: str) -> None:
        self.path = path
        self.key = key
        self.project_file = project_file


def slot_for(argv: Sequence[str]) -> Slot | None:
    """The slot of ``argv`` if it is a cacheable ``plugins`` command line, else None.

    Only the plain forms are recognized (``plugins``, ``--json``, ``-c/--config FILE``,
    ``--env ENV``); anything else (``-v``, ``--help``, abbreviations) takes the normal path.
    """
    if os.environ.get("LAKEPORT_NO_CACHE", "") not in ("", "0"):
        return None
    parsed = _parse(argv)
    if parsed is None:
        return None
    as_json, config, env = parsed
    try:
        cwd = os.getcwd()
    except OSError:  # the working folder was removed
        return None
    lakeport_env = sorted(
        (name, value) for name, value in os.environ.items() if name.startswith("LAKEPORT_") and name not in OWN_ENV_VARS
    )
    other_env = [(name, os.environ.get(name)) for name in OTHER_ENV_VARS]
    key = repr((MAGIC, sys.version, sys.executable, sys.path, cwd, as_json, config, env, lakeport_env, other_env))
    data = key.encode("utf-8", "surrogateescape")
    name = f"plugins-{zlib.crc32(data):08x}{zlib.adler32(data):08x}.cache"
    return Slot(os.path.join(cache_dir(), name), key, os.path.join(cwd, config))


def _parse(argv: Sequence[str]) -> tuple[bool, str, str | None] | None:
    if not argv or argv[0] != "plugins":
        return None
    as_json, config, env = False, DEFAULT_PROJECT_FILE, None
    index = 1
    while index < len(argv):
        arg = argv[index]
        value = argv[index + 1] if index + 1 < len(argv) else None
        if arg == "--json":
            as_json = True
        elif arg in ("-c", "--config", "--env"):
            if value is None or value.startswith("-"):
                return None  # argparse's business (an error, or a value that looks like an option)
            if arg == "--env":
                env = value
            else:
                config = value
            index += 1
        elif arg.startswith("--config="):
            config = arg[len("--config="):]
        elif arg.startswith("--env="):
            env = arg[len("--env="):]
        else:
            return None
        index += 1
    return as_json, config, env


def _stamp(path: str) -> str:
    try:
        st = os.stat(path)
    except OSError:
        return _ABSENT
    return f"{st.st_mtime_ns}:{st.st_size}:{st.st_ino}"


def cached_output(slot: Slot) -> str | None:
    """The stored output if every stamp and variable still matches, else None."""
    try:
        with open(slot.path, "rb") as file:
            magic, checksum, body = file.read().split(_SEP.encode(), 2)
        if magic.decode() != MAGIC or int(checksum, 16) != zlib.crc32(body):
            return None  # not ours, truncated or padded
        fields = body.decode("utf-8", "surrogateescape").split(_SEP)
        if fields[0] != slot.key:
            return None
        index = 1
        for _ in range(int(fields[index])):
            if _stamp(fields[index + 1]) != fields[index + 2]:
                return None
            index += 2
        index += 1
        for _ in range(int(fields[index])):
            value = os.environ.get(fields[index + 1])
            if (_ABSENT if value is None else "=" + value) != fields[index + 2]:
                return None
            index += 2
        if index + 2 != len(fields):
            return None
        return fields[index + 1]
    except (OSError, ValueError, IndexError):  # absent, unreadable or corrupt: the normal path rewrites it
        return None


def answer(argv: Sequence[str]) -> bool:
    """Write the cached output of ``argv`` to stdout; False when there is none to trust."""
    slot = slot_for(argv)
    output = cached_output(slot) if slot is not None else None
    if output is None:
        return False
    sys.stdout.write(output)
    return True


# -- the normal path: writing an entry -----------------------------------------------
def store(slot: Slot, output: str) -> None:
    """Save ``output`` for ``slot`` with the stamps of what it depends on, atomically.

    An unwritable cache folder only means no cache (logged at debug).
    """
    import logging

    log = logging.getLogger(__name__)
    fields = [slot.key]
    watched = _watched_files(slot)
    fields.append(str(len(watched)))
    for path in watched:
        fields += [path, _stamp(path)]
    names = _referenced_env_vars(slot.project_file)
    fields.append(str(len(names)))
    for name in names:
        value = os.environ.get(name)
        fields += [name, _ABSENT if value is None else "=" + value]
    fields.append(output)
    if any(_SEP in field for field in fields):
        log.debug("not caching the plugins output: it contains a NUL character")
        return
    body = _SEP.join(fields).encode("utf-8", "surrogateescape")
    data = _SEP.join([MAGIC, f"{zlib.crc32(body):08x}", ""]).encode() + body
    folder = os.path.dirname(slot.path)
    tmp = f"{slot.path}.{os.getpid()}.tmp"
    try:
        os.makedirs(folder, exist_ok=True)
        with open(tmp, "wb") as file:
            file.write(data)
        os.replace(tmp, slot.path)
    except OSError as exc:
        log.debug("cannot write the plugins cache %s: %s", slot.path, exc)
        try:
            os.unlink(tmp)
        except OSError:
            pass  # never created
        return
    _prune(folder, keep=slot.path, log=log)


def _watched_files(slot: Slot) -> list[str]:
    """Every path whose (mtime, size, inode) is checked before the stored output is trusted."""
    from lakeport.entrypoints import entry_point_files
    from lakeport.markers import PROJECT_NAME

    paths = [os.path.abspath(entry or ".") for entry in sys.path]
    paths += [os.path.abspath(file) for file in entry_point_files(PROJECT_NAME)]
    stdlib = sys.stdlib_module_names if hasattr(sys, "stdlib_module_names") else ()  # 3.10+
    for name, module in list(sys.modules.items()):
        filename = getattr(module, "__file__", None)
        if isinstance(filename, str) and name.partition(".")[0] not in stdlib:
            paths.append(os.path.abspath(filename))
    paths.append(slot.project_file)
    return list(dict.fromkeys(paths))


def _referenced_env_vars(project_file: str) -> list[str]:
    """``NAME`` of every ``${env:NAME}`` in the project file: its values can change the answer."""
    from lakeport.config.templating import env_references

    try:
        with open(project_file, encoding="utf-8", errors="replace") as file:
            text = file.read()
    except OSError:
        return []
    return env_references(text)


def _prune(folder: str, *, keep: str, log: Any) -> None:
    """Remove the oldest entries beyond ``MAX_ENTRIES`` (each folder and project has its own)."""
    try:
        with os.scandir(folder) as listing:
            entries = [(e.stat().st_mtime_ns, e.path) for e in listing
                       if e.name.startswith("plugins-") and e.name.endswith(".cache") and e.path != keep]
        for _, path in sorted(entries)[: max(0, len(entries) + 1 - MAX_ENTRIES)]:
            os.unlink(path)
    except OSError as exc:
        log.debug("cannot prune the plugins cache in %s: %s", folder, exc)


class StderrWatch:
    """Stands in for ``sys.stderr`` and notes whether anything was written.

    A run that warned (a plugin that cannot be disabled, a log line) is not cached:
    the cached answer would print its stdout without the warning.
    """

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.written = False

    def write(self, text: str) -> int:
        self.written = self.written or bool(text)
        return self.stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)
