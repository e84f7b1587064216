"""`lakeport plugins --json` wall time next to `python -c pass` (goal: at most 3x).

Both run with compiled bytecode in a folder without a project file; the
minimum of several runs is compared, measured side by side in one run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

RUNS = 15


def best_of(command: list[str], cwd: str, env: dict[str, str]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as cwd:
        subprocess.run([sys.executable, "-m", "lakeport.cli", "plugins", "--json"], cwd=cwd, env=env, check=True,
                       stdout=subprocess.DEVNULL)  # writes .pyc files
        baseline = best_of([sys.executable, "-c", "pass"], cwd, env)
        metadata = best_of([sys.executable, "-c", "import importlib.metadata"], cwd, env)
        plugins = best_of([sys.executable, "-m", "lakeport.cli", "plugins", "--json"], cwd, env)
    print(f"python -c pass                 {baseline * 1000:7.1f} ms")
    print(f"python -c 'import importlib.metadata' (what pluggy needs) {metadata * 1000:7.1f} ms  ratio {metadata / baseline:.2f}x")
    print(f"lakeport plugins --json        {plugins * 1000:7.1f} ms")
    print(f"ratio plugins/pass: {plugins / baseline:.2f}x (goal <= 3x)")


if __name__ == "__main__":
    main()
