"""The public plugin surface: plugins import only ``lakeport.api``, every hook is documented there."""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import lakeport.api
from lakeport import hookspecs

REPO = Path(__file__).resolve().parents[2]
PLUGIN_SOURCES = sorted(p for group in ("plugins", "contrib") for p in (REPO / group).glob("*/src/**/*.py"))
HOOKS = [name for name, f in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(f, "lakeport_spec")]


def core_imports_other_than_api(path: Path) -> list[str]:
    """``lakeport.*`` imports in a file besides ``lakeport.api``, as 'line: module'."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
            if node.module == "lakeport":
                modules = [f"lakeport.{alias.name}" for alias in node.names]
        else:
            continue
        found += [
            f"{node.lineno}: {m}" for m in modules if (m == "lakeport" or m.startswith("lakeport.")) and m != "lakeport.api"
        ]
    return sorted(found, key=lambda entry: int(entry.split(':')[0]))


def test_there_are_plugin_sources():
    assert len(PLUGIN_SOURCES) >= 20


@pytest.mark.parametrize("path", PLUGIN_SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_plugin_source_imports_only_lakeport_api(path):
    assert core_imports_other_than_api(path) == []


def test_the_import_check_catches_a_core_module(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from lakeport.api import Handle\n"
        "from lakeport import errors\n"
        "def f():\n    from lakeport.schema import to_arrow\n"
        "import lakeport.session\n"
    )
    assert core_imports_other_than_api(bad) == ["2: lakeport.errors", "4: lakeport.schema", "5: lakeport.session"]


@pytest.mark.parametrize("name", lakeport.api.__all__)
def test_every_public_name_resolves(name):
    assert getattr(lakeport.api, name) is not None


def test_api_import_stays_light():
    code = (
        "import sys, lakeport.api; from lakeport.api import hookimpl, LakeportError;"
        "heavy = [m for m in ('pyspark', 'deltalake', 'pyarrow', 'databricks', 'cattrs', 'attrs') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_unknown_api_name_says_so():
    with pytest.raises(AttributeError, match="lakeport.api' has no attribute 'Nope'"):
        lakeport.api.Nope  # noqa: B018


def documented_hooks() -> dict[str, str]:
    """Each ``## lakeport_*`` section of docs/hooks.md and its text."""
    text = (REPO / "docs" / "hooks.md").read_text()
    parts = re.split(r"^## (lakeport_\w+)\s*$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_has_a_section_with_signature_when_and_example(name):
    sections = documented_hooks()
    assert name in sections, f"docs/hooks.md has no section '## {name}'"
    section = sections[name]
    assert f"def {name}(" in section, "the section shows the signature"
    assert "**When:**" in section
    assert "@hookimpl" in section, "the section has an example implementation"


def test_docs_name_no_hook_that_does_not_exist():
    assert sorted(set(documented_hooks()) - set(HOOKS)) == []
