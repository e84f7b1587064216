"""`lakeport plugins --json` wall time next to `python -c pass` (goal: at most 3x).

All run with compiled bytecode in a folder without a project file; the
minimum of several runs is compared, measured side by side in one run. The
floor is `import pluggy` (it imports `inspect`, hence `ast`), printed too.
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
        # the console script pip installed next to this interpreter, as a user runs it
        script = os.path.join(os.path.dirname(sys.executable), "lakeport")
        command = [sys.executable, script] if os.path.isfile(script) else [sys.executable, "-m", "lakeport.cli"]
        command += ["plugins", "--json"]
        subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)  # writes .pyc files
        baseline = best_of([sys.executable, "-c", "pass"], cwd, env)
        floor = best_of([sys.executable, "-c", "import pluggy, logging, argparse, json"], cwd, env)
        plugins = best_of(command, cwd, env)
    print(f"python -c pass                                        {baseline * 1000:7.1f} ms")
    print(f"python -c 'import pluggy, logging, argparse, json'    {floor * 1000:7.1f} ms  ratio {floor / baseline:.2f}x (floor)")
    print(f"lakeport plugins --json                               {plugins * 1000:7.1f} ms")
    print(f"ratio plugins/pass: {plugins / baseline:.2f}x (goal <= 3x); above the floor: {(plugins - floor) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
