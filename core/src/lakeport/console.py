"""The ``lakeport`` console script: a cached ``lakeport plugins`` answers before the CLI is imported.

:mod:`lakeport.cli` imports argparse, logging, json and typing, and the plugins
import pluggy: several interpreter starts. A ``plugins`` command line whose
answer is cached and still valid (:mod:`lakeport.plugins_cache`) needs none of it.
"""

from __future__ import annotations

import sys


def main() -> int:
    from lakeport import plugins_cache

    if plugins_cache.answer(sys.argv[1:]):
        return 0
    from lakeport.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
