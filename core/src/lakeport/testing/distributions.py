"""Install a plugin for real in a test: a package plus a dist-info with a ``lakeport`` entry point."""

from __future__ import annotations

import textwrap
from pathlib import Path


def make_distribution(
    root: Path, name: str = "lakeport_example", dist: str = "lakeport-example-plugin", source: str = "",
    ep_name: str = "example", version: str = "1.2.3",
) -> Path:
    """Write package ``name`` (``source`` as its ``__init__``) and its metadata under ``root``; put
    ``root`` on ``sys.path`` or ``PYTHONPATH`` and entry-point discovery finds the plugin."""
    (root / name).mkdir(parents=True)
    (root / name / "__init__.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[lakeport]\n{ep_name} = {name}\n")
    return root
