"""`lakeport plugins --json` wall time next to `python -c pass` (goal: at most 3x).

All run with compiled bytecode in a folder without a project file; the
minimum of several runs is compared, the runs of all cases interleaved. Three
`lakeport plugins --json` numbers:

* cold, no cache (`LAKEPORT_NO_CACHE=1`): the normal path, every plugin imported;
* cold, empty cache: the normal path plus writing the cache (a first run, or one
  after an install or an edit);
* warm: the cached answer, checked with `os.stat` calls (`lakeport.plugins_cache`).

The floor of the normal path is `import pluggy, logging, argparse, json`
(pluggy imports `typing` and `inspect`, hence `ast`), printed too; the warm run
imports none of them.

Measured 2026-12-04 (Python 3.11, 2 CPUs, every distribution installed editable
as nox does, RUNS=25). The machine was loaded (other sessions' Spark tests, load
average 4-6), so absolute times are ~30% above a quiet machine's (`pass` ~8 ms)
and single runs vary; the ratios held over five runs (warm 1.10-1.32x):

    python -c pass                                      10.6 ms  1.00x
    python -c 'import pluggy, logging, argparse, json'  39.9 ms  3.77x (floor of the normal path)
    lakeport plugins --json, cold, no cache             54.1 ms  5.12x
    lakeport plugins --json, cold, empty cache          57.7 ms  5.46x (and writes it)
    lakeport plugins --json, warm                       13.9 ms  1.32x (goal <= 3x)

main before the cache, same run: 54.3 ms, 4.96x. The warm run imports, beyond
the interpreter's own start, only `__future__`, `lakeport`, `lakeport.errors`, `lakeport.console`,
`lakeport.plugins_cache` and `zlib` (~1.3 ms by `-X importtime`). A console script
written by pip (not uv) imports `re` first: warm 20.0 ms, 1.78x.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Callable

RUNS = 25


class Case:
    """One command line, how to prepare each run of it, and its times."""

    def __init__(self, label: str, command: list[str], env: dict[str, str], before: Callable[[], None] | None = None,
                 note: str = "") -> None:
        self.label, self.command, self.env, self.before, self.note = label, command, env, before, note
        self.times: list[float] = []

    def run(self, cwd: str) -> None:
        if self.before is not None:
            self.before()
        start = time.perf_counter()
        subprocess.run(self.command, cwd=cwd, env=self.env, check=True, stdout=subprocess.DEVNULL)
        self.times.append(time.perf_counter() - start)


def main() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "LAKEPORT_NO_CACHE")}
    with tempfile.TemporaryDirectory() as cwd, tempfile.TemporaryDirectory() as caches:
        warm_cache, empty_cache = os.path.join(caches, "warm"), os.path.join(caches, "empty")
        # the console script pip installed next to this interpreter, as a user runs it
        script = os.path.join(os.path.dirname(sys.executable), "lakeport")
        command = [sys.executable, script] if os.path.isfile(script) else [sys.executable, "-m", "lakeport.cli"]
        command += ["plugins", "--json"]
        no_cache = {**env, "LAKEPORT_NO_CACHE": "1"}
        subprocess.run(command, cwd=cwd, env=no_cache, check=True, stdout=subprocess.DEVNULL)  # writes .pyc files
        warm = {**env, "LAKEPORT_CACHE_DIR": warm_cache}
        subprocess.run(command, cwd=cwd, env=warm, check=True, stdout=subprocess.DEVNULL)  # fills the cache
        cases = [
            Case("python -c pass", [sys.executable, "-c", "pass"], env),
            Case("python -c 'import pluggy, logging, argparse, json'",
                 [sys.executable, "-c", "import pluggy, logging, argparse, json"], env, note="(floor of the normal path)"),
            Case("lakeport plugins --json, cold, no cache", command, no_cache),
            Case("lakeport plugins --json, cold, empty cache", command, {**env, "LAKEPORT_CACHE_DIR": empty_cache},
                 before=lambda: shutil.rmtree(empty_cache, ignore_errors=True), note="(and writes it)"),
            Case("lakeport plugins --json, warm", command, warm, note="(goal <= 3x)"),
        ]
        for _ in range(RUNS):  # interleaved: a busy moment of the machine slows every case, not one
            for case in cases:
                case.run(cwd)
    baseline = min(cases[0].times)
    for case in cases:
        best = min(case.times)
        print(f"{case.label:52} {best * 1000:7.1f} ms  {best / baseline:5.2f}x {case.note}".rstrip())


if __name__ == "__main__":
    main()
