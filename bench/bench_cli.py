"""`lakeport plugins --json` wall time next to `python -c pass` (goal: at most 3x).

All run with compiled bytecode in a folder without a project file; the
minimum of several runs is compared, measured side by side in one run. Three
`lakeport plugins --json` numbers:

* cold, no cache (`LAKEPORT_NO_CACHE=1`): the normal path, every plugin imported;
* cold, empty cache: the normal path plus writing the cache (a first run, or one
  after an install or an edit);
* warm: the cached answer, checked with `os.stat` calls (`lakeport.plugins_cache`).

The floor of the normal path is `import pluggy, logging, argparse, json`
(pluggy imports `typing` and `inspect`, hence `ast`), printed too; the warm run
imports none of them.

Measured (Python 3.11, 2 CPUs, editable installs of every distribution, RUNS=15;
the machine was loaded by other test runs, load average ~5, so absolute times
are high and noisy):
    python -c pass                         MEASURED
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Callable

RUNS = 15


def best_of(command: list[str], cwd: str, env: dict[str, str], before: Callable[[], None] | None = None) -> float:
    times = []
    for _ in range(RUNS):
        if before is not None:
            before()
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "LAKEPORT_NO_CACHE")}
    with tempfile.TemporaryDirectory() as cwd, tempfile.TemporaryDirectory() as cache:
        env["LAKEPORT_CACHE_DIR"] = cache
        no_cache = {**env, "LAKEPORT_NO_CACHE": "1"}
        # the console script pip installed next to this interpreter, as a user runs it
        script = os.path.join(os.path.dirname(sys.executable), "lakeport")
        command = [sys.executable, script] if os.path.isfile(script) else [sys.executable, "-m", "lakeport.cli"]
        command += ["plugins", "--json"]
        subprocess.run(command, cwd=cwd, env=no_cache, check=True, stdout=subprocess.DEVNULL)  # writes .pyc files

        def empty_cache() -> None:
            shutil.rmtree(cache, ignore_errors=True)

        baseline = best_of([sys.executable, "-c", "pass"], cwd, env)
        floor = best_of([sys.executable, "-c", "import pluggy, logging, argparse, json"], cwd, env)
        cold = best_of(command, cwd, no_cache)
        first = best_of(command, cwd, env, before=empty_cache)
        subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)  # fills the cache
        warm = best_of(command, cwd, env)
    rows = [
        ("python -c pass", baseline, ""),
        ("python -c 'import pluggy, logging, argparse, json'", floor, "(floor of the normal path)"),
        ("lakeport plugins --json, cold, no cache", cold, ""),
        ("lakeport plugins --json, cold, empty cache", first, "(and writes it)"),
        ("lakeport plugins --json, warm", warm, "(goal <= 3x)"),
    ]
    for label, seconds, note in rows:
        print(f"{label:52} {seconds * 1000:7.1f} ms  {seconds / baseline:5.2f}x {note}".rstrip())


if __name__ == "__main__":
    main()
